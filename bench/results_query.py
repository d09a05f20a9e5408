"""Call-result queries over many stored attempts: p50/p99 of the callresult interface's work (validation,
SQL, item building; no HTTP) for paged and filtered queries, showDetail 0 and 1, on SQLite and PostgreSQL.

The data: N attempts over C campaigns, interleaved in time as the engine writes them (2 attempts per record:
a failure, then the record's final success), spread over 30 days, 50 customField batches per campaign.
Loading uses the drivers directly (sqlite3 executemany, psycopg COPY), with the secondary indexes built
after the load.

Usage: .venv/bin/python bench/results_query.py [--attempts 5000000] [--campaigns 100]
          [--db sqlite|postgresql|both] [--pg-url postgresql://postgres@127.0.0.1:5432/test] [--repeat 100]
          [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from outdial.db import Database, normalize_url
from outdial.migrate import upgrade
from outdial.models.calldata import call_data
from outdial.models.engine import attempts
from outdial.results import service
from outdial.server import freeze_startup_heap

T0 = int(datetime(2026, 10, 24, tzinfo=UTC).timestamp() * 1000)  # 30 days before 2026-11-23
DAY_MS = 86_400_000
FAIL_CODES = ("00537", "00603", "01040")
ATTEMPT_COLS = (
    "id, call_id, campaign_id, vdn_id, data_id, number_index, called, session_id, custom_field, state,"
    " created_at, answer_at, end_at, local_day, result_type, fail_code, result_code, call_status, abandoned,"
    " final"
)
RECORD_COLS = (
    "id, campaign_id, vdn_id, session_id, called, custom_field, state, next_due_at, number_index,"
    " attempt_count, created_at, finished_at, final_attempt_id"
)


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def generate(
    n_attempts: int, n_campaigns: int
) -> tuple[Iterator[tuple[Any, ...]], Iterator[tuple[Any, ...]]]:
    """(records, attempts) rows. Record k of campaign c is called twice: a failure, then 10 minutes later
    a success that finishes it."""
    per_campaign = n_attempts // n_campaigns // 2
    step = 30 * DAY_MS // max(per_campaign, 1)

    def records() -> Iterator[tuple[Any, ...]]:
        rid = 0
        for k in range(per_campaign):
            for c in range(1, n_campaigns + 1):
                rid += 1
                at = T0 + k * step
                yield (rid, c, 1, f"s{k}", f"138{k:08d}", f"b{k % 50}", 2, 0, 0, 2, at, at + 660_000, 2 * rid)

    def calls() -> Iterator[tuple[Any, ...]]:
        rid = 0
        for k in range(per_campaign):
            for c in range(1, n_campaigns + 1):
                rid += 1
                at = T0 + k * step
                number, session, batch = f"138{k:08d}", f"s{k}", f"b{k % 50}"
                code = FAIL_CODES[k % 3]
                yield (2 * rid - 1, f"{c}-{rid}-1", c, 1, rid, 0, number, session, batch, 1, at, None,
                       at + 30_000, _day(at), 1, code, "OB" + code, 5, False, False)  # fmt: skip
                later = at + 600_000
                yield (2 * rid, f"{c}-{rid}-2", c, 1, rid, 0, number, session, batch, 1, later, later + 5_000,
                       later + 60_000, _day(later), None, "00000", "OB99999", 6, False, True)  # fmt: skip

    return records(), calls()


def load(db: Database, n_attempts: int, n_campaigns: int) -> float:
    started = time.perf_counter()
    with db.write() as conn:  # secondary indexes are built once after the load, as a bulk load does
        for index in (*attempts.indexes, *call_data.indexes):
            index.drop(conn)
    records, calls = generate(n_attempts, n_campaigns)
    with db.raw_write() as raw:
        campaigns = [
            (c, 1, f"bench{c}", 2, 2, 0, 2**62, "UTC", "{}", 0, 0) for c in range(1, n_campaigns + 1)
        ]
        sql = (
            "INSERT INTO campaigns (id, vdn_id, name, status, device_type, begin_at, end_at, timezone, spec,"
            " created_at, updated_at) VALUES ({})"
        )
        if db.is_sqlite:
            raw.executemany(sql.format(",".join("?" * 11)), campaigns)
            raw.executemany(f"INSERT INTO call_data ({RECORD_COLS}) VALUES ({','.join('?' * 13)})", records)
            raw.executemany(f"INSERT INTO attempts ({ATTEMPT_COLS}) VALUES ({','.join('?' * 20)})", calls)
        else:
            with raw.cursor() as cur:
                cur.executemany(sql.format(",".join(["%s"] * 11)), campaigns)
                for table, cols, rows in (
                    ("call_data", RECORD_COLS, records),
                    ("attempts", ATTEMPT_COLS, calls),
                ):
                    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
    loaded = time.perf_counter() - started
    with db.write() as conn:
        for index in (*attempts.indexes, *call_data.indexes):
            index.create(conn)
    if db.is_sqlite:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE attempts")
            conn.exec_driver_sql("VACUUM ANALYZE call_data")
    print(
        f"loaded {n_attempts:,} attempts in {loaded:.1f} s (+ indexes: {time.perf_counter() - started:.1f} s)"
    )
    return loaded


def queries(per_campaign: int, rng: random.Random) -> dict[str, Any]:
    """Each kind of query as a function of a random draw (a different campaign, page, session...)."""
    records = per_campaign // 2

    def day(offset: int) -> str:
        return (datetime.fromtimestamp(T0 / 1000, tz=UTC) + timedelta(days=offset)).strftime("%Y-%m-%d")

    return {
        "detail, page 1 (100)": lambda: {"showDetail": 1, "pageSize": 100},
        "detail, random page (100)": lambda: {
            "showDetail": 1,
            "pageSize": 100,
            "pageNum": rng.randint(1, per_campaign // 100),
        },
        "final, page 1 (500)": lambda: {"showDetail": 0, "pageSize": 500},
        "final, random page (500)": lambda: {
            "showDetail": 0,
            "pageSize": 500,
            "pageNum": rng.randint(1, max(1, records // 500)),
        },
        "detail, sessionId": lambda: {"showDetail": 1, "sessionId": f"s{rng.randrange(records)}"},
        "final, sessionId": lambda: {"showDetail": 0, "sessionId": f"s{rng.randrange(records)}"},
        "detail, customField (100)": lambda: {
            "showDetail": 1,
            "customField": f"b{rng.randrange(50)}",
            "pageSize": 100,
        },
        "final, customField p2 (500)": lambda: {
            "showDetail": 0,
            "customField": f"b{rng.randrange(50)}",
            "pageNum": 2,
        },
        "detail, 7 days, random page": lambda: (
            lambda d: {
                "showDetail": 1,
                "beginTime": day(d),
                "endTime": day(d + 7),
                "pageNum": rng.randint(1, 20),
            }
        )(rng.randrange(22)),
        "final, 30 days (500)": lambda: {"showDetail": 0, "beginTime": day(0), "endTime": day(30)},
    }


def _percentiles(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))]


class _GcPauses:
    """Milliseconds the cyclic garbage collector ran, by generation: an outlier's time may be a collection
    of this process's heap rather than the query's own work."""

    def __init__(self) -> None:
        self.ms = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.ms[info["generation"]] += (time.perf_counter() - self._started) * 1000


def measure(db: Database, n_campaigns: int, per_campaign: int, repeat: int) -> list[tuple[Any, ...]]:
    """Per kind of query: wall p50/p99, this process's CPU p50/p99 (all of the work on SQLite; on PostgreSQL
    the server's share is not in it), the longest garbage collection during one query, and the last
    totalCount."""
    rng = random.Random(7)
    table = []
    pauses = _GcPauses()
    gc.callbacks.append(pauses)
    try:
        for name, make in queries(per_campaign, rng).items():
            walls, cpus, gc_ms, total = [], [], [], 0
            for i in range(repeat + 5):
                body, campaign = make(), rng.randint(1, n_campaigns)
                before = sum(pauses.ms)
                started, cpu = time.perf_counter(), time.process_time()
                with db.read() as conn:
                    answer = service.query_results(conn, 1, campaign, body)
                if i >= 5:  # the first few warm the connection pool and caches
                    walls.append((time.perf_counter() - started) * 1000)
                    cpus.append((time.process_time() - cpu) * 1000)
                    gc_ms.append(sum(pauses.ms) - before)
                    total = answer["totalCount"]
            table.append((name, *_percentiles(walls), *_percentiles(cpus), max(gc_ms), total))
    finally:
        gc.callbacks.remove(pauses)
    return table


def run(backend: str, args: argparse.Namespace) -> None:
    cleanup = None
    if backend == "sqlite":
        folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp())
        db = Database(f"sqlite:///{folder / 'results_bench.db'}")

        def cleanup() -> None:
            shutil.rmtree(folder)
    else:
        schema = "bench_results"
        admin = sa.create_engine(normalize_url(args.pg_url))
        with admin.begin() as conn:
            if not args.keep:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        sep = "&" if "?" in args.pg_url else "?"
        db = Database(f"{args.pg_url}{sep}options=-csearch_path%3D{schema}")

        def cleanup() -> None:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")

    upgrade(db)
    with db.read() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(attempts)).scalar_one()
    if stored == 0:
        load(db, args.attempts, args.campaigns)
    elif stored != args.attempts:
        raise SystemExit(f"{backend}: the kept database holds {stored:,} attempts, not {args.attempts:,}")
    else:
        print(f"{backend}: reusing the {stored:,} attempts kept from an earlier run")
    per_campaign = args.attempts // args.campaigns
    freeze_startup_heap()  # as `outdial serve` does before it answers requests
    print(f"\n{backend}: {args.attempts:,} attempts, {args.campaigns} campaigns of {per_campaign:,}, "
          f"{args.repeat} queries each")  # fmt: skip
    print(
        f"{'query':32} {'p50 ms':>8} {'p99 ms':>8} {'cpu p50':>8} {'cpu p99':>8} {'max gc ms':>9} {'totalCount':>11}"
    )
    for name, p50, p99, cpu50, cpu99, gc_max, total in measure(db, args.campaigns, per_campaign, args.repeat):
        print(f"{name:32} {p50:8.2f} {p99:8.2f} {cpu50:8.2f} {cpu99:8.2f} {gc_max:9.2f} {total:11,}")
    db.dispose()
    if cleanup and not args.keep:
        cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--attempts", type=int, default=5_000_000)
    parser.add_argument("--campaigns", type=int, default=100)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the loaded data (SQLite file in DIR, PostgreSQL schema bench_results) and reuse it next time",
    )
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        run(backend, args)


if __name__ == "__main__":
    main()
