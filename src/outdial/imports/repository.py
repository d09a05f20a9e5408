"""SQL for file servers, import tasks and their failed rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from outdial.calldata.repository import copy_value
from outdial.models import imports as im
from outdial.models.imports import file_servers, import_failures, import_tasks

# --- file servers ----------------------------------------------------------------------------------------


def insert_server(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(file_servers.insert().values(**values))


def get_server(conn: Connection, vdn_id: int, server_id: str) -> Row | None:
    return conn.execute(
        sa.select(file_servers).where(file_servers.c.id == server_id, file_servers.c.vdn_id == vdn_id)
    ).first()


def find_server_by_address(conn: Connection, vdn_id: int, host: str, port: int, username: str) -> Row | None:
    return conn.execute(
        sa.select(file_servers).where(
            file_servers.c.vdn_id == vdn_id,
            file_servers.c.host == host,
            file_servers.c.port == port,
            file_servers.c.username == username,
        )
    ).first()


def update_server(conn: Connection, server_id: str, values: dict[str, Any]) -> None:
    conn.execute(file_servers.update().where(file_servers.c.id == server_id).values(**values))


def delete_server(conn: Connection, vdn_id: int, server_id: str) -> bool:
    result = conn.execute(
        file_servers.delete().where(file_servers.c.id == server_id, file_servers.c.vdn_id == vdn_id)
    )
    return result.rowcount == 1


def list_servers(conn: Connection, vdn_id: int, offset: int, limit: int) -> tuple[int, Sequence[Row]]:
    where = file_servers.c.vdn_id == vdn_id
    total = conn.execute(sa.select(sa.func.count()).select_from(file_servers).where(where)).scalar_one()
    rows = conn.execute(
        sa.select(file_servers)
        .where(where)
        .order_by(file_servers.c.created_at, file_servers.c.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return total, rows


# --- import tasks ----------------------------------------------------------------------------------------


def insert_task(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(import_tasks.insert().values(**values))


def get_task(conn: Connection, task_id: str) -> Row | None:
    return conn.execute(sa.select(import_tasks).where(import_tasks.c.id == task_id)).first()


def find_task(conn: Connection, vdn_id: int, task_id: str) -> Row | None:
    return conn.execute(
        sa.select(import_tasks).where(import_tasks.c.id == task_id, import_tasks.c.vdn_id == vdn_id)
    ).first()


def query_tasks(
    conn: Connection, campaign_id: int, task_ids: list[str] | None, offset: int, limit: int
) -> tuple[int, Sequence[Row]]:
    where = [import_tasks.c.campaign_id == campaign_id]
    if task_ids is not None:
        where.append(import_tasks.c.id.in_(task_ids))
    total = conn.execute(sa.select(sa.func.count()).select_from(import_tasks).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(import_tasks)
        .where(*where)
        .order_by(import_tasks.c.created_at.desc(), import_tasks.c.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return total, rows


def claim_due_task(conn: Connection, owner: str, now_ms: int, lease_ms: int) -> Row | None:
    """Take the oldest due task that is still preparing. The conditional UPDATE makes the claim atomic,
    so two workers never import the same file."""
    candidate = conn.execute(
        sa.select(import_tasks.c.id)
        .where(import_tasks.c.status == im.PREPARING, import_tasks.c.run_at <= now_ms)
        .order_by(import_tasks.c.run_at, import_tasks.c.created_at)
        .limit(1)
    ).first()
    if candidate is None:
        return None
    claimed = conn.execute(
        import_tasks.update()
        .where(import_tasks.c.id == candidate.id, import_tasks.c.status == im.PREPARING)
        .values(status=im.IMPORTING, begin_at=now_ms, claimed_by=owner, claimed_until=now_ms + lease_ms)
    )
    return get_task(conn, candidate.id) if claimed.rowcount == 1 else None


def next_due_at(conn: Connection) -> int | None:
    return conn.execute(
        sa.select(sa.func.min(import_tasks.c.run_at)).where(import_tasks.c.status == im.PREPARING)
    ).scalar()


def renew_claim(conn: Connection, task_id: str, owner: str, until_ms: int) -> None:
    conn.execute(
        import_tasks.update()
        .where(
            import_tasks.c.id == task_id,
            import_tasks.c.claimed_by == owner,
            import_tasks.c.status == im.IMPORTING,
        )
        .values(claimed_until=until_ms)
    )


def finish_task(
    conn: Connection,
    task_id: str,
    owner: str,
    *,
    status: int,
    now_ms: int,
    succ: int = 0,
    repeat: int = 0,
    fail: int = 0,
    err_msg: str = "",
) -> bool:
    """Close a task this worker holds. False when the claim was lost (then nothing may be stored)."""
    result = conn.execute(
        import_tasks.update()
        .where(
            import_tasks.c.id == task_id,
            import_tasks.c.claimed_by == owner,
            import_tasks.c.status == im.IMPORTING,
        )
        .values(
            status=status,
            end_at=now_ms,
            succ_num=succ,
            repeat_num=repeat,
            fail_num=fail,
            err_msg=err_msg,
            claimed_until=None,
        )
    )
    return result.rowcount == 1


def fail_abandoned_tasks(conn: Connection, now_ms: int, reason: str) -> int:
    """Tasks left 'importing' by a process that died (claim expired) end as failed: their rows were
    written in the same transaction as the task's end, so none of them is stored."""
    result = conn.execute(
        import_tasks.update()
        .where(import_tasks.c.status == im.IMPORTING, import_tasks.c.claimed_until < now_ms)
        .values(status=im.FAILED, end_at=now_ms, err_msg=reason, claimed_until=None)
    )
    return result.rowcount


_FAILURES_PER_WRITE = 5000  # failed rows per COPY write


def insert_failures(conn: Connection, task_id: str, failures: list[tuple[int, str, str]]) -> None:
    """A task's failed rows (line, kind, reason), through the driver itself as the rows are (COPY on
    PostgreSQL, executemany on SQLite), in the caller's transaction: a file sent twice lists all its
    500,000 rows as repeats, which SQLAlchemy's executemany took 3.5 s (SQLite) to 6 s (PostgreSQL) to
    write."""
    if not failures:
        return
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        task, text = copy_value(task_id), copy_value
        cursor = driver.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy("COPY import_failures (task_id, line_no, kind, reason) FROM STDIN") as copy:
            for start in range(0, len(failures), _FAILURES_PER_WRITE):
                part = failures[start : start + _FAILURES_PER_WRITE]
                copy.write("".join([f"{task}\t{line}\t{kind}\t{text(reason)}\n" for line, kind, reason in part]))
    else:
        driver.executemany(  # type: ignore[union-attr]
            "INSERT INTO import_failures (task_id, line_no, kind, reason) VALUES (?, ?, ?, ?)",
            [(task_id, line, kind, reason) for line, kind, reason in failures],
        )


def list_failures(conn: Connection, task_id: str, offset: int, limit: int) -> tuple[int, Sequence[Row]]:
    where = import_failures.c.task_id == task_id
    total = conn.execute(sa.select(sa.func.count()).select_from(import_failures).where(where)).scalar_one()
    rows = conn.execute(
        sa.select(import_failures)
        .where(where)
        .order_by(import_failures.c.line_no)
        .offset(offset)
        .limit(limit)
    ).all()
    return total, rows


def iter_failures(conn: Connection, task_id: str) -> Iterator[Row]:
    """Every failed row of a task in line order, streamed."""
    yield from conn.execute(
        sa.select(import_failures)
        .where(import_failures.c.task_id == task_id)
        .order_by(import_failures.c.line_no)
        .execution_options(yield_per=5000)
    )
