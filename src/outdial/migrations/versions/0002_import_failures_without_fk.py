"""import_failures without its foreign key to import_tasks

Its per-row check cost PostgreSQL ~1.2 s per 500,000 failed rows (a file sent twice lists every row as a
repeat). Failed rows are only ever written with their task, in its transaction, and purge_campaign
deletes them explicitly.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_failures", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_import_failures_task_id_import_tasks"), type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("import_failures", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_import_failures_task_id_import_tasks"),
            "import_tasks",
            ["task_id"],
            ["id"],
            ondelete="CASCADE",
        )

