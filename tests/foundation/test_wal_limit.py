"""SQLite's -wal file stays under its bound (Database(wal_limit_mb), setting OUTDIAL_SQLITE_WAL_LIMIT_MB)
through a long burst of small write transactions from several threads while a reader takes snapshots now
and then: once the file passes the limit, writers wait for a truncating checkpoint (issue 18, item 3)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from outdial.db import Database

LIMIT_MB = 0.5
WRITERS = 4
TRANSACTIONS = 300  # per writer
ROWS = 20  # per transaction, ~200 bytes each: a few pages of WAL per commit


def _burst(db: Database, wal: Path) -> tuple[int, int, int]:
    """Runs the burst; (largest -wal size seen after a commit, times it was seen to shrink, bytes of rows)."""
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE burst (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    largest = [0]
    shrank = [0]
    written = [0]
    lock = threading.Lock()
    done = threading.Event()

    def writer() -> None:
        last = 0
        for _ in range(TRANSACTIONS):
            bodies = [(os.urandom(100).hex(),) for _ in range(ROWS)]
            with db.write() as conn:
                conn.connection.driver_connection.executemany("INSERT INTO burst (body) VALUES (?)", bodies)
            size = wal.stat().st_size if wal.exists() else 0
            with lock:
                largest[0] = max(largest[0], size)
                shrank[0] += size < last
                written[0] += sum(len(b[0]) for b in bodies)
            last = size

    def reader() -> None:
        while not done.is_set():
            with db.read() as conn:  # holds a snapshot that a truncating checkpoint must wait for
                conn.exec_driver_sql("SELECT count(*) FROM burst").scalar()
                time.sleep(0.03)
            done.wait(0.05)

    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM burst").scalar() == WRITERS * TRANSACTIONS * ROWS
    return largest[0], shrank[0], written[0]


@pytest.mark.parametrize("limit_mb", [LIMIT_MB, 0], ids=["bounded", "unbounded"])
def test_the_wal_stays_under_its_limit_through_a_write_burst(tmp_path: Path, limit_mb: float) -> None:
    db = Database(f"sqlite:///{tmp_path}/burst.db", wal_limit_mb=limit_mb)
    try:
        largest, shrank, written = _burst(db, tmp_path / "burst.db-wal")
    finally:
        db.dispose()
    bound = int(
        2 * LIMIT_MB * 2**20
    )  # the limit plus what writers already queued for the lock commit meanwhile
    assert written > 4 * bound  # the burst writes far more than the bound (its pages even more)
    if limit_mb:
        assert largest <= bound
        assert shrank >= 3  # truncated again and again, not once
    else:
        assert largest > bound  # without a limit the same burst takes the log past it
