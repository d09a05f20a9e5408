from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from conftest import BACKENDS, private_pg_schema
from outdial.db import Database
from outdial.migrate import upgrade
from outdial.models import metadata


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_schema_is_at_head(database: Database) -> None:
    with database.engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == "0004"


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database of its own with no schema yet (the shared test databases stay at head)."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield db
        db.dispose()
        return
    with private_pg_schema("m") as url:
        db = Database(url)
        yield db
        db.dispose()


def test_failed_rows_survive_the_upgrade_that_drops_their_foreign_key(empty_database: Database) -> None:
    """0002 rebuilds import_failures on SQLite (batch mode): rows written under 0001 are kept; afterwards
    a failed row no longer needs its task row (the foreign key is gone)."""
    upgrade(empty_database, "0001")
    failure = "INSERT INTO import_failures (task_id, line_no, kind, reason) VALUES (:task, 2, 'invalid', 'r')"
    with empty_database.engine.begin() as conn:
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():  # 0001: the task must exist
            conn.execute(sa.text(failure), {"task": "no-such-task"})
        conn.execute(
            sa.text(
                "INSERT INTO campaigns (id, vdn_id, name, status, device_type, begin_at, end_at, timezone, spec, created_at, updated_at) VALUES (1, 1, 'c', 0, 1, 0, 1, 'UTC', '{}', 0, 0)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO import_tasks (id, vdn_id, campaign_id, server_id, file_name, status, run_at, created_at) VALUES ('t1', 1, 1, 's', 'f.csv', 2, 0, 0)"
            )
        )
        conn.execute(sa.text(failure), {"task": "t1"})
    upgrade(empty_database)
    with empty_database.engine.begin() as conn:
        conn.execute(sa.text(failure), {"task": "no-such-task"})
        rows = conn.execute(
            sa.text("SELECT task_id, line_no, kind, reason FROM import_failures ORDER BY task_id")
        )
        assert [tuple(r) for r in rows] == [("no-such-task", 2, "invalid", "r"), ("t1", 2, "invalid", "r")]
