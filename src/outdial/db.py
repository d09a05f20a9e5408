"""Database access: one Database per URL, the unit of work, SQLite pragmas, raw driver access for bulk paths.

Write transactions on SQLite take a process-wide lock, then an flock on `<database>-writer.lock` shared by
every process on the file (`serve --workers N`, the CLI), and start with BEGIN IMMEDIATE: SQLite has one
writer anyway, and a waiter queued on a lock wakes the moment the writer is done, where SQLite's busy
handler sleeps and polls (up to 100 ms a time). Scaling out past one machine is PostgreSQL's job.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

# Python 3.11's sqlite3 binds None through its adaptation protocol, which looks up __adapt__ on a type
# and formats (then drops) an AttributeError every time: ~0.5 µs per NULL, ~0.45 s of a 500,000-row
# import's 850,000 NULLs. With an adapter registered for NoneType the lookup stops at the registry;
# `{}.get` is a C function that returns None for None, so the value bound is still NULL.
sqlite3.register_adapter(type(None), {}.get)  # type: ignore[arg-type]  # {}.get(None) is None


def normalize_url(url: str) -> str:
    """postgresql:// and postgres:// use psycopg 3; sqlite:///path stays as it is."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class _WriterLock:
    """One writer at a time on a SQLite file: a re-entrant lock for the threads of this process, and an
    flock on `<database>-writer.lock` for the processes (none for :memory:)."""

    def __init__(self, path: str | None) -> None:
        self._threads = threading.RLock()
        self._path = path
        self._fd = -1
        self._pid = 0
        self._depth = 0  # guarded by _threads
        self._owner = 0  # the thread holding it, 0 when free

    def acquire(self, blocking: bool = True) -> bool:
        if not self._threads.acquire(blocking):
            return False
        if self._path is None or self._depth > 0:
            self._depth += 1
            self._owner = threading.get_ident()
            return True
        if self._pid != os.getpid():
            # a forked child must not share its parent's open file description: flock belongs to it
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._threads.release()
            return False
        except BaseException:
            self._threads.release()
            raise
        self._depth = 1
        self._owner = threading.get_ident()
        return True

    def held_here(self) -> bool:
        return self._owner == threading.get_ident()

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = 0
            if self._path is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def close(self) -> None:
        if self._pid == os.getpid():
            os.close(self._fd)
        self._pid = 0


class _Checkpointer:
    """Copies a SQLite file's WAL back into the database in a thread of its own, shortly after commits, and
    keeps the -wal file under a size.

    Connections run with wal_autocheckpoint=0: otherwise the commit that takes the WAL past 1,000 pages
    does the copy itself, in the committing request's time: about 0.55 s after a 500,000-row import, a few
    ms now and then under a stream of adds. PASSIVE never waits for readers or writers; what it cannot copy
    yet is copied next time. SQLite releases the GIL meanwhile.

    PASSIVE alone never shortens the log: SQLite starts it over only when a transaction begins after
    everything was copied back, which a steady stream of writers never lets happen (10 GB of WAL in 150 s
    of adds, issue 18). So once the file passes `limit_bytes`, the thread takes the writer lock (the
    process's writers stand aside for it, see `wait_for_truncation`) and runs a TRUNCATE checkpoint,
    which copies the rest, waits up to TRUNCATE_WAIT_S for readers of older snapshots, and empties the
    file. When such a reader outlasts the wait, the log stays as it is until RETRY_S later."""

    DELAY_S = 0.2  # gather the commits of a burst into one checkpoint
    TRUNCATE_WAIT_S = 1.0  # the longest writers wait for readers still on older snapshots
    RETRY_S = 5.0  # after a truncation that readers prevented

    def __init__(self, path: str, writer: _WriterLock, limit_bytes: int) -> None:
        self._path = path
        self._wal_path = f"{path}-wal"
        self._writer = writer
        self._limit = limit_bytes
        self._committed = threading.Event()
        self._stop = threading.Event()
        self._truncated = threading.Event()  # clear while a truncation is asked for or running
        self._truncated.set()
        self._retry_at = 0.0
        self._thread: threading.Thread | None = None
        self._pid = 0

    def committed(self) -> None:
        """Called after each commit, the writer lock still held."""
        if self._thread is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._stop.clear()
            self._truncated.set()
            self._thread = threading.Thread(target=self._run, name="outdial-checkpoint", daemon=True)
            self._thread.start()
        if self._truncated.is_set() and self._over_limit():
            self._truncated.clear()  # from now on this process's writers wait for the truncation
        self._committed.set()

    def truncation_pending(self) -> bool:
        return self._pid == os.getpid() and not self._truncated.is_set()

    def wait_for_truncation(self) -> None:
        """Let a pending truncation take the writer lock first (bounded: it gives up on slow readers).
        Not when this thread holds the lock already (a nested write): the truncation waits for it."""
        if self.truncation_pending() and not self._writer.held_here():
            self._truncated.wait(self.TRUNCATE_WAIT_S + 5)

    def _over_limit(self) -> bool:
        if self._limit <= 0 or time.monotonic() < self._retry_at:
            return False
        try:
            return os.stat(self._wal_path).st_size > self._limit
        except OSError:
            return False

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, timeout=self.TRUNCATE_WAIT_S, check_same_thread=False)
        try:
            while not self._stop.is_set():
                self._committed.wait()
                self._committed.clear()
                if self._truncated.is_set() and self._stop.wait(self.DELAY_S):
                    break
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                if not self._truncated.is_set() or self._over_limit():  # over it: other processes wrote
                    self._truncate(connection)
        finally:
            self._truncated.set()
            with contextlib.suppress(sqlite3.Error):  # the last checkpoint, for a clean stop
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            connection.close()

    def _truncate(self, connection: sqlite3.Connection) -> None:
        self._truncated.clear()
        try:
            self._writer.acquire()
            try:
                busy = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            finally:
                self._writer.release()
        except sqlite3.Error:
            busy = 1
        if busy:
            self._retry_at = time.monotonic() + self.RETRY_S
        self._truncated.set()

    def stop(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            self._stop.set()
            self._committed.set()
            self._thread.join(10)
        self._thread = None


DEFAULT_WAL_LIMIT_MB = 64  # Settings.sqlite_wal_limit_mb


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, wal_limit_mb: float = DEFAULT_WAL_LIMIT_MB) -> None:
        """`wal_limit_mb`: on a SQLite file, the -wal size past which writers wait for a truncating
        checkpoint (0: no limit)."""
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.wal_limit_mb = wal_limit_mb
        self._checkpointer: _Checkpointer | None = None
        path = sa.engine.make_url(self.url).database if self.is_sqlite else None
        on_file = bool(path) and path != ":memory:"
        self._writer = _WriterLock(f"{path}-writer.lock" if on_file else None)
        if self.is_sqlite:
            if path and on_file:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._checkpointer = _Checkpointer(path, self._writer, int(wal_limit_mb * 2**20))
            self.engine: Engine = sa.create_engine(
                self.url,
                poolclass=QueuePool,
                pool_size=pool_size,
                max_overflow=20,
                connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
            )
            sa.event.listen(self.engine, "connect", _sqlite_on_connect)
        else:
            self.engine = sa.create_engine(self.url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: commits on success, rolls back on any exception. Callbacks registered with
        `after_commit(conn, fn)` run once the commit succeeded."""
        if self.is_sqlite:
            if self._checkpointer is not None:
                self._checkpointer.wait_for_truncation()
            self._writer.acquire()
            yield from self._sqlite_write()
        else:
            with self.engine.connect() as conn:
                conn.begin()
                yield from self._finish(conn)

    def write_now(self) -> AbstractContextManager[Connection] | None:
        """A SQLite write transaction if no other writer holds the file at this instant, else None; always
        None on PostgreSQL. For an event loop: it runs a short transaction in place when this returns one,
        and waits in a worker thread (write()) when not, so it never blocks behind a long writer."""
        if not self.is_sqlite or (self._checkpointer is not None and self._checkpointer.truncation_pending()):
            return None
        if not self._writer.acquire(blocking=False):
            return None
        return contextmanager(self._sqlite_write)()

    def _sqlite_write(self) -> Iterator[Connection]:
        """The transaction of write(), the writer lock already acquired; releases it."""
        try:
            with self.engine.connect() as conn:
                conn.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
                yield from self._finish(conn)
        finally:
            self._writer.release()

    def _finish(self, conn: Connection) -> Iterator[Connection]:
        try:
            yield conn
        except BaseException:
            _rollback(conn, self.is_sqlite)
            raise
        if self.is_sqlite:
            conn.connection.driver_connection.execute("COMMIT")  # type: ignore[union-attr]
            if self._checkpointer is not None:
                self._checkpointer.committed()
        else:
            conn.commit()
        for callback in conn.info.pop("after_commit", []):
            callback()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot (a deferred transaction on SQLite)."""
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN")
                try:
                    yield conn
                finally:
                    conn.exec_driver_sql("ROLLBACK")
            else:
                with conn.begin():
                    yield conn

    @contextmanager
    def raw_write(self) -> Iterator[Any]:
        """The driver's own connection (sqlite3 / psycopg) inside a write transaction, for bulk paths
        (executemany into SQLite, COPY into PostgreSQL). Commits on success."""
        with self.write() as conn:
            driver = conn.connection.driver_connection
            yield driver

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()
        self._writer.close()


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Run `callback` after the surrounding Database.write() transaction commits (never on rollback)."""
    conn.info.setdefault("after_commit", []).append(callback)


_PG_SQL: dict[str, str] = {}


def run_sql(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows of one statement run on the driver itself, in the connection's transaction: for the few
    statements every request runs, where SQLAlchemy's execution machinery (about 40 µs a statement) costs
    more than SQLite's own work (docs/benchmarks.md, adding numbers). `sql` uses ? placeholders; psycopg
    gets them as %s, so it must hold no other ? or %."""
    driver: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        pg_sql = _PG_SQL.get(sql)
        if pg_sql is None:
            pg_sql = _PG_SQL[sql] = sql.replace("?", "%s")
        with driver.cursor() as cursor:
            cursor.execute(pg_sql, params)
            return cursor.fetchall() if cursor.description else []
    return driver.execute(sql, params).fetchall()  # type: ignore[no-any-return]


def insert_ignore(conn: Connection, table: sa.Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was inserted. Safe across processes.

    RETURNING tells whether the row went in: SQLAlchemy 2.1 with psycopg 3 reports rowcount -1 here."""
    stmt: Any
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table).values(**values).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    key = list(table.primary_key.columns)[0]
    return conn.execute(stmt.returning(key)).first() is not None


def _rollback(conn: Connection, is_sqlite: bool) -> None:
    conn.info.pop("after_commit", None)
    if is_sqlite:
        with contextlib.suppress(sa.exc.OperationalError):  # SQLite already rolled back (e.g. disk error)
            conn.exec_driver_sql("ROLLBACK")
    else:
        conn.rollback()


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA wal_autocheckpoint=0")  # Database's _Checkpointer thread does it
    cursor.close()
