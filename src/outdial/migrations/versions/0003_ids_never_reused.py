"""ids never reused: AUTOINCREMENT on SQLite for every table whose id is handed out

Without AUTOINCREMENT SQLite gives a new row the highest rowid in use plus one, so after a delete the freed
ids come back: a deleted campaign's campaignId, dataIds, callIds (derived from both) and callback
resultIds went to the next campaign. Each table is rebuilt with AUTOINCREMENT, keeping its rows, indexes
and ids; SQLite then starts the table's sequence at the highest id copied. (Ids freed before this upgrade
above the highest one left cannot be known any more.) PostgreSQL's sequences never go back: nothing to do.

Foreign keys are switched off for the rebuild, as SQLite's documented procedure for changing a table says:
with them on, dropping the old `campaigns` would cascade-delete its callers, holidays and import tasks.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = (
    "campaigns",
    "campaign_holidays",
    "call_data",
    "attempts",
    "business_results",
    "callback_outbox",
    "callback_deliveries",
)


def _rebuild(autoincrement: bool) -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    if conn.exec_driver_sql("PRAGMA foreign_keys").scalar() != 0:  # inside a transaction it is a no-op
        raise RuntimeError("0003 must run outside a transaction on SQLite (foreign keys could not be off)")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            for table in TABLES:
                with op.batch_alter_table(
                    table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
                ):
                    pass
            problems = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RuntimeError(f"0003: foreign keys broken by the rebuild: {problems[:5]}")
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")
    finally:
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
