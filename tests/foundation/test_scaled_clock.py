"""`serve --speed N` keeps its timeline in the database: a restart continues it, so times never go backwards
(issue 18, item 13). The rule (clock.continued_origin), its store (clock_store) and one real kill -9."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from demo_server import start_demo_server
from outdial.clock import ClockOrigin, RealClock, ScaledClock, continued_origin
from outdial.clock_store import serve_clock, stored_origin
from outdial.db import Database

HOUR = 3_600_000


def test_a_new_sped_up_run_starts_at_real_time_and_a_plain_run_is_real_time() -> None:
    assert continued_origin(None, 300.0, 1_000) == ClockOrigin(1_000, 1_000, 300.0)
    assert continued_origin(None, 1.0, 1_000) is None


def test_a_restart_continues_the_stored_timeline_as_if_the_server_had_not_stopped() -> None:
    stored = ClockOrigin(real_ms=0, virtual_ms=10 * HOUR, speed=300.0)
    # 2 s of real time later at 300x: 10 minutes further on, at the new speed from there
    assert continued_origin(stored, 60.0, 2_000) == ClockOrigin(2_000, 10 * HOUR + 600_000, 60.0)
    # at speed 1 the timeline goes on at real pace: it is still ahead of real time
    assert continued_origin(stored, 1.0, 2_000) == ClockOrigin(2_000, 10 * HOUR + 600_000, 1.0)


def test_a_timeline_behind_real_time_catches_up_and_never_holds_time_back() -> None:
    slow = ClockOrigin(real_ms=0, virtual_ms=0, speed=0.5)
    assert continued_origin(slow, 2.0, 10_000) == ClockOrigin(10_000, 10_000, 2.0)  # not 5,000
    assert continued_origin(slow, 1.0, 10_000) is None  # real time again


def test_serve_clock_stores_the_timeline_and_the_next_start_continues_it(database: Database) -> None:
    first = serve_clock(database, 1000.0)
    assert isinstance(first, ScaledClock)
    time.sleep(0.05)
    seen = first.now_ms()
    second = serve_clock(database, 1000.0)  # a restart (the first process is gone)
    assert second.now_ms() >= seen
    assert second.now_ms() - time.time_ns() // 1_000_000 >= 40_000  # 50 ms at 1000x: 50 s ahead
    seen = second.now_ms()
    plain = serve_clock(database, 1.0)  # without --speed: the timeline goes on at real pace
    assert isinstance(plain, ScaledClock) and plain.speed == 1.0 and plain.now_ms() >= seen
    reset = serve_clock(database, 1.0, reset=True)
    assert isinstance(reset, RealClock)
    assert stored_origin(database) is None


@pytest.mark.timeout(150)
def test_a_sped_up_server_killed_and_restarted_never_writes_an_earlier_time(tmp_path: Path) -> None:
    """The first run races half an hour ahead (6 s at 300x) and is killed with calls in progress;
    the restart (at 10x) closes them (reconciled, failCode 34608) and dials on: every instant it writes
    is after every instant the first run wrote. Without the stored timeline the restart began at real time
    and waited for the dead run's lease, 30 s ahead on its timeline (3 real minutes at 10x), before it closed calls that
    then ended before they began."""
    data = tmp_path / "data"

    def attempts(where: str = "1 = 1") -> list[tuple[int, int, int | None, int]]:
        with sqlite3.connect(data / "outdial.db") as conn:
            return conn.execute(
                f"SELECT id, created_at, end_at, state FROM attempts WHERE {where} ORDER BY id"
            ).fetchall()

    def run(speed: str, until: str, then_s: float) -> None:
        demo = start_demo_server(data, "--speed", speed)
        try:
            deadline = time.monotonic() + 60
            while not attempts(until):
                assert time.monotonic() < deadline, f"no attempt where {until}"
                time.sleep(0.1)
            time.sleep(then_s)
        finally:
            demo.process.send_signal(signal.SIGKILL)
            demo.process.wait(timeout=30)

    run("300", until="1 = 1", then_s=6)
    before = attempts()
    real_at_kill = time.time_ns() // 1_000_000
    latest = max(max(created, end or 0) for _, created, end, _ in before)
    assert latest > real_at_kill + 20 * 60_000  # the timeline ran far ahead of real time
    left_open = [a for a in before if a[3] == 0]
    assert left_open, "no call was in progress at the kill"
    run("10", until=f"state = 2 OR id > {before[-1][0]}", then_s=1)
    after = attempts()
    reconciled = [a for a in after if a[0] in {o[0] for o in left_open}]
    assert all(state != 0 for *_, state in reconciled)
    assert all(end >= latest for _, _, end, _ in reconciled)  # closed after everything the first run wrote
    assert all(created >= latest for attempt_id, created, _, _ in after if attempt_id > before[-1][0])
