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
    assert version == "0005"


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


# The tables whose ids leave the server, as the models declare them (parents first)
ID_TABLES = tuple(t.name for t in metadata.sorted_tables if t.dialect_options["sqlite"]["autoincrement"])


def test_every_table_with_an_integer_id_never_reuses_one() -> None:
    integer_ids = {
        t.name
        for t in metadata.sorted_tables
        if [c.name for c in t.primary_key.columns] == ["id"] and t.c.id.type.python_type is int
    }
    assert set(ID_TABLES) == integer_ids
    assert len(ID_TABLES) == 7


def _index_definitions(db: Database) -> dict[str, set[tuple[str, tuple[str, ...], bool, str]]]:
    """Each table's indexes: name, columns, unique and the partial index's condition."""
    inspector = sa.inspect(db.engine)
    return {
        t: {
            (
                ix["name"],
                tuple(str(c) for c in ix["column_names"]),
                bool(ix["unique"]),
                " ".join(str(w) for w in ix.get("dialect_options", {}).values()),
            )
            for ix in inspector.get_indexes(t)
        }
        for t in ID_TABLES
    }


def test_0003_keeps_rows_indexes_and_children_and_ids_are_never_reused_afterwards(
    empty_database: Database,
) -> None:
    """0003 rebuilds the id tables on SQLite with AUTOINCREMENT (a no-op on PostgreSQL, whose sequences
    never go back): rows, indexes and the campaigns' children (which a drop with foreign keys on would
    cascade-delete) survive; afterwards a deleted highest id is never handed out again."""
    upgrade(empty_database, "0002")
    indexes_before = _index_definitions(empty_database)
    # ids come from the tables (SQLite's rowid, PostgreSQL's sequences), as in service
    rows = {
        "campaigns": "INSERT INTO campaigns (vdn_id, name, status, device_type, begin_at, end_at, timezone, spec, created_at, updated_at) VALUES (1, 'c', 1, 1, 0, 1, 'UTC', '{}', 0, 0)",
        "campaign_callers": "INSERT INTO campaign_callers (campaign_id, access_code, priority) VALUES ((SELECT max(id) FROM campaigns), '8888', 1)",
        "campaign_holidays": "INSERT INTO campaign_holidays (campaign_id, name, type, week) VALUES ((SELECT max(id) FROM campaigns), 'w', 1, '6,7')",
        "import_tasks": "INSERT INTO import_tasks (id, vdn_id, campaign_id, server_id, file_name, status, run_at, created_at) VALUES ('t1', 1, (SELECT max(id) FROM campaigns), 's', 'f.csv', 2, 0, 0)",
        "call_data": "INSERT INTO call_data (campaign_id, vdn_id, called, created_at) VALUES (7, 1, '138', 0)",
        "attempts": "INSERT INTO attempts (call_id, campaign_id, vdn_id, data_id, number_index, called, state, created_at, local_day) VALUES ('0001-7-41-1', 7, 1, 41, 0, '138', 1, 0, '2026-11-23')",
        "business_results": "INSERT INTO business_results (data_id, campaign_id, busi_result, created_at) VALUES (41, 7, 'ok', 0)",
        "callback_outbox": "INSERT INTO callback_outbox (campaign_id, vdn_id, attempt_id, payload, next_push_at, created_at) VALUES (7, 1, 5, '{}', 0, 0)",
        "callback_deliveries": "INSERT INTO callback_deliveries (campaign_id, url, first_outbox_id, last_outbox_id, result_count, push_no, at, ok) VALUES (7, 'u', 9, 9, 1, 1, 0, true)",
    }
    with empty_database.engine.begin() as conn:
        for n in range(3):  # three rows each
            for statement in rows.values():
                statement = statement.replace("'c'", f"'c{n}'").replace("-41-1'", f"-41-{n}'")
                if "access_code" in statement or "import_tasks" in statement:
                    statement = statement.replace("'8888'", "'8888' || (SELECT max(id) FROM campaigns)")
                    statement = statement.replace("'t1'", "'t' || (SELECT max(id) FROM campaigns)")
                conn.execute(sa.text(statement))
    upgrade(empty_database)
    assert _index_definitions(empty_database) == indexes_before
    with empty_database.engine.begin() as conn:
        for table in rows:  # every row kept, the campaigns' children too (not cascade-deleted)
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 3, table
        for table in ID_TABLES:
            assert conn.execute(sa.text(f"SELECT max(id) FROM {table}")).scalar_one() == 3, table
        for table in reversed(ID_TABLES):  # the holiday before its campaign (which would cascade to it)
            conn.execute(sa.text(f"DELETE FROM {table} WHERE id = 3"))
        # a row added after the delete gets a new id, not the freed 3
        for table in ID_TABLES:
            conn.execute(sa.text(rows[table].replace("'w'", "'w2'").replace("-41-1'", "-41-9'")))
            assert conn.execute(sa.text(f"SELECT max(id) FROM {table}")).scalar_one() == 4, table
