"""Running a request's write transaction from the event loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from outdial.db import Database

P = ParamSpec("P")
T = TypeVar("T")


async def in_write_transaction(
    db: Database, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`fn(conn, *args, **kwargs)` in a write transaction, for a short transaction on a hot path.

    On SQLite with no other writer at this instant it runs in place, on the event loop: the two thread
    switches of a worker thread cost more than such a transaction (about 0.7 ms of CPU per request,
    measured on the add-numbers path, docs/benchmarks.md). Behind another writer (an import, the engine),
    and always on PostgreSQL, whose every statement is a network round trip, it waits in a worker thread,
    so the event loop never blocks."""
    transaction = db.write_now()
    if transaction is not None:
        with transaction as conn:
            return fn(conn, *args, **kwargs)

    def in_thread() -> T:
        with db.write() as conn:
            return fn(conn, *args, **kwargs)

    return await run_in_threadpool(in_thread)
