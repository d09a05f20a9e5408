"""Alembic environment. The connection is handed in by outdial.migrate (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context

from outdial.models import metadata

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
