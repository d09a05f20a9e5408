"""Attempts per second the dialing engine sustains in one process against the built-in simulator, in virtual
time, and CPU per attempt (target: >= 2,000 attempts/s). Each row is one predictive campaign dialed by the
real Engine on a real database (temporary SQLite unless --db): every attempt written before its call and
closed with its retry decision and its queued callback.

Also shows how much of the CPU went to results.outbox.enqueue_many (the callback rows ended attempts queue),
and per attempt the SQL statements executed (an executemany counts once; BEGIN/COMMIT not counted) and the
write transactions.

Usage: .venv/bin/python bench/engine_throughput.py [--agents 20,200,500] [--hours 1] [--tick-ms 1000] [--db URL]
"""

from __future__ import annotations

import argparse
import time

import sqlalchemy as sa

from outdial import db
from outdial.engine import runner
from outdial.engine.simulation import simulate

_spent = [0.0]
_counts = {"statements": 0, "transactions": 0}


def _count_statement(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
    if statement not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"):
        _counts["statements"] += 1


def _counted_write(original):  # type: ignore[no-untyped-def]
    def write(self):  # type: ignore[no-untyped-def]
        _counts["transactions"] += 1
        return original(self)

    return write


def _timed_enqueue(original):  # type: ignore[no-untyped-def]
    def enqueue(*args, **kwargs):  # type: ignore[no-untyped-def]
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            _spent[0] += time.process_time() - started

    return enqueue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", default="20,200,500", help="comma-separated agent counts, one row each")
    parser.add_argument("--numbers-per-agent", type=int, default=600)
    parser.add_argument("--hours", type=float, default=1.0, help="virtual shift length per row")
    parser.add_argument("--tick-ms", type=int, default=1000, help="engine looks at most once per tick (0: every event)")
    parser.add_argument("--db", default=None, help="database URL (default: temporary SQLite)")
    args = parser.parse_args()

    runner.outbox.enqueue_many = _timed_enqueue(runner.outbox.enqueue_many)  # type: ignore[method-assign]
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", _count_statement)
    db.Database.write = _counted_write(db.Database.write)  # type: ignore[method-assign]
    header = (
        f"{'agents':>6} {'tick':>6} {'attempts':>9} {'wall s':>7} {'CPU s':>7} {'attempts/s':>10} "
        f"{'attempts/CPU s':>14} {'CPU ms/att':>10} {'enqueue %':>9} {'stmts/att':>9} {'tx/att':>6} "
        f"{'occupancy':>9} {'abandon':>7}"
    )
    print(header)
    print("-" * len(header))
    for agents in (int(a) for a in args.agents.split(",")):
        _spent[0] = 0.0
        _counts.update(statements=0, transactions=0)
        r = simulate(
            numbers=agents * args.numbers_per_agent,
            agents=agents,
            hours=args.hours,
            tick_ms=args.tick_ms,
            database_url=args.db,
            detect_delay_s=0,  # as when the figures of docs/benchmarks.md were measured
        )
        print(
            f"{agents:>6} {args.tick_ms:>6} {r.attempts:>9} {r.wall_s:>7.1f} {r.cpu_s:>7.1f} "
            f"{r.attempts_per_s:>10,.0f} {r.attempts / r.cpu_s:>14,.0f} {r.cpu_ms_per_attempt:>10.3f} "
            f"{100 * _spent[0] / r.cpu_s:>8.0f}% {_counts['statements'] / r.attempts:>9.2f} "
            f"{_counts['transactions'] / r.attempts:>6.2f} {r.occupancy:>9.1%} {r.abandon_rate:>7.2%}"
        )


if __name__ == "__main__":
    main()
