"""SQLite's writer lock (db._WriterLock): one writer at a time across the threads of a process and across
processes, and Database.write_now, which never waits for it."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from outdial.db import Database, run_sql


def _make(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    with db.write() as conn:
        run_sql(conn, "CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, who TEXT)")
    return db


def _hold_the_writer(
    path: str, holding: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event
) -> None:
    db = Database(f"sqlite:///{path}")
    with db.write() as conn:
        run_sql(conn, "INSERT INTO log (who) VALUES ('child')")
        holding.set()
        release.wait(30)
    db.dispose()


def test_another_process_holding_the_writer_makes_write_now_none_and_write_wait(tmp_path) -> None:
    path = tmp_path / "w.db"
    db = _make(path)
    # spawn, not fork: a child forked while one of this process's threads (a checkpointer) is inside SQLite
    # inherits SQLite's process-wide mutexes locked and hangs before its first statement
    spawn = multiprocessing.get_context("spawn")
    holding, release = spawn.Event(), spawn.Event()
    child = spawn.Process(target=_hold_the_writer, args=(str(path), holding, release))
    child.start()
    try:
        assert holding.wait(30)
        assert db.write_now() is None
        waiter_done = threading.Event()

        def waiter() -> None:
            with db.write() as conn:  # queues on the flock until the child commits
                run_sql(conn, "INSERT INTO log (who) VALUES ('parent')")
            waiter_done.set()

        thread = threading.Thread(target=waiter)
        thread.start()
        release.set()
        thread.join(30)
        assert waiter_done.is_set()
    finally:
        release.set()
        child.join(30)
    assert child.exitcode == 0
    with db.read() as conn:
        assert run_sql(conn, "SELECT who FROM log ORDER BY id") == [("child",), ("parent",)]
    transaction = db.write_now()  # free again
    assert transaction is not None
    with transaction as conn:
        run_sql(conn, "INSERT INTO log (who) VALUES ('now')")
    with db.read() as conn:
        assert run_sql(conn, "SELECT count(*) FROM log") == [(3,)]
    db.dispose()


def test_write_now_is_none_while_another_thread_writes_and_rolls_back_on_error(tmp_path) -> None:
    db = _make(tmp_path / "t.db")
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with db.write() as conn:
            run_sql(conn, "INSERT INTO log (who) VALUES ('thread')")
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(30)
    assert db.write_now() is None
    release.set()
    thread.join(30)
    transaction = db.write_now()
    assert transaction is not None
    with pytest.raises(RuntimeError), transaction as conn:
        run_sql(conn, "INSERT INTO log (who) VALUES ('rolled back')")
        raise RuntimeError("refused")
    with db.read() as conn:
        assert run_sql(conn, "SELECT who FROM log") == [("thread",)]
    transaction = db.write_now()  # the failed transaction released the lock
    assert transaction is not None
    with transaction:
        pass
    db.dispose()


def test_write_now_runs_in_place_only_on_sqlite(database) -> None:
    transaction = database.write_now()
    if database.is_sqlite:
        assert transaction is not None
        with transaction as conn:
            assert run_sql(conn, "SELECT 1") == [(1,)]
    else:  # every statement is a network round trip: never on an event loop
        assert transaction is None


# --- checkpoints happen in a thread of their own, not in the committing transaction ----------------------


def _write_megabytes(db: Database, megabytes: int) -> None:
    with db.write() as conn:
        run_sql(conn, "CREATE TABLE IF NOT EXISTS blob (data BLOB)")
        for _ in range(megabytes):
            run_sql(conn, "INSERT INTO blob (data) VALUES (randomblob(1048576))")


def test_a_commit_leaves_the_wal_to_the_checkpointer_which_copies_it(tmp_path, monkeypatch) -> None:
    from outdial import db as db_module

    monkeypatch.setattr(db_module._Checkpointer, "DELAY_S", 60.0)  # nothing until the stop
    path = tmp_path / "c.db"
    db = _make(path)
    _write_megabytes(db, 8)
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 8 * 1048576  # committed into the WAL...
    assert path.stat().st_size < 1048576  # ...and not copied by the commit (no autocheckpoint)
    db.dispose()  # the checkpointer's last checkpoint
    assert path.stat().st_size > 8 * 1048576


def test_the_checkpointer_copies_shortly_after_commits(tmp_path, monkeypatch) -> None:
    import time

    from outdial import db as db_module

    monkeypatch.setattr(db_module._Checkpointer, "DELAY_S", 0.01)
    path = tmp_path / "d.db"
    db = _make(path)
    _write_megabytes(db, 4)
    deadline = time.monotonic() + 30
    while path.stat().st_size < 4 * 1048576:
        assert time.monotonic() < deadline, "no checkpoint in 30 s"
        time.sleep(0.05)
    db.dispose()
