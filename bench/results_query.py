"""Load N attempts (driver-level executemany, SQLite) into one campaign and time callresult queries.
Usage: .venv/bin/python bench/results_query.py [N]   (PostgreSQL COPY path not yet written)"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from outdial.db import Database
from outdial.migrate import upgrade
from outdial.results import repository, service


def main(n: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    db = Database(f"sqlite:///{tmp}/bench.db")
    upgrade(db)
    with db.raw_write() as raw:
        raw.execute(
            "INSERT INTO campaigns (id, vdn_id, name, status, device_type, begin_at, end_at, timezone,"
            " spec, created_at, updated_at) VALUES (1, 1, 'b', 2, 2, 0, 0, 'UTC', '{}', 0, 0)"
        )
        rows = (
            (
                f"c{i}",
                1 + (i % 20),
                1,
                i // 3,
                0,
                "600",
                f"s{i // 3}",
                1,
                i * 1000,
                i * 1000 + 60000,
                "2026-11-23",
                6,
                "0",
                "OB99999",
            )
            for i in range(n)
        )
        raw.executemany(
            "INSERT INTO attempts (call_id, campaign_id, vdn_id, data_id, number_index, called,"
            " session_id, state, created_at, end_at, local_day, call_status, fail_code, result_code)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    queries = [
        {"showDetail": 1, "pageSize": 100, "pageNum": 5},
        {"showDetail": 1, "sessionId": "s12345"},
        {"showDetail": 1, "beginTime": "2026-11-20", "endTime": "2026-11-25", "pageNum": 100},
    ]
    for body in queries:
        timings = []
        for _ in range(50):
            started = time.perf_counter()
            with db.read() as conn:
                repository.find_results(conn, 1, service.parse_query(body))
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        print(
            json.dumps(
                {
                    "attempts": n,
                    "query": body,
                    "p50_ms": round(statistics.median(timings), 2),
                    "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 2),
                }
            )
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000)
