"""Running a request's write transaction from the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from outdial.db import Database

P = ParamSpec("P")
T = TypeVar("T")

# How long a request waits on the event loop for SQLite's writer before it waits in a worker thread: the
# writer is usually another request's transaction (under a millisecond, possibly in another process of
# `serve --workers N`), so the loop polls it, letting other requests run meanwhile; past ~50 ms it is a long
# writer (an import) and a thread waits instead. Falling back sooner made things worse under load: a request
# waiting in a thread holds this process's side of the writer lock, so more requests fail to take it and
# fall back in turn (measured: 2 processes, 16 in flight, 483 requests/s instead of 1,225).
_PAUSES = (0.0, 0.0, 0.0) + (0.001,) * 50


async def in_write_transaction(
    db: Database, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`fn(conn, *args, **kwargs)` in a write transaction, for a short transaction on a hot path.

    On SQLite it runs in place, on the event loop, as soon as the writer is free (see _PAUSES): the two
    thread switches of a worker thread cost more than such a transaction (about 0.7 ms of CPU per request,
    measured on the add-numbers path, docs/benchmarks.md). It never blocks the loop: behind a long writer,
    and always on PostgreSQL, whose every statement is a network round trip, it runs in a worker thread."""
    for pause in _PAUSES if db.is_sqlite else ():
        transaction = db.write_now()
        if transaction is not None:
            with transaction as conn:
                return fn(conn, *args, **kwargs)
        await asyncio.sleep(pause)

    def in_thread() -> T:
        with db.write() as conn:
            return fn(conn, *args, **kwargs)

    return await run_in_threadpool(in_thread)
