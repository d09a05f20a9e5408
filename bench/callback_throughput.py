"""Callback delivery throughput: N results queued in the outbox (as the engine queues them), then delivered
by the delivery worker's own passes to a real HTTP receiver on 127.0.0.1 that parses every batch and answers
{"retCode":"0"}. Prints results/s (target >= 2,000/s) on SQLite and/or PostgreSQL.

Usage: .venv/bin/python bench/callback_throughput.py [--results 20000] [--campaigns 10]
          [--db sqlite|postgresql|both] [--pg-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from outdial.clock import VirtualClock
from outdial.config import Settings
from outdial.context import AppContext
from outdial.db import Database, normalize_url
from outdial.migrate import upgrade
from outdial.results import delivery, outbox
from outdial.secretbox import SecretBox
from serving import Receiver

START = 1795424400000


def run(backend: str, args: argparse.Namespace, receiver: Receiver) -> tuple[float, float]:
    tmp = Path(tempfile.mkdtemp())
    admin = None
    if backend == "sqlite":
        db = Database(f"sqlite:///{tmp}/bench.db")
    else:
        admin = sa.create_engine(normalize_url(args.pg_url))
        with admin.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS bench_callbacks CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA bench_callbacks")
        sep = "&" if "?" in args.pg_url else "?"
        db = Database(f"{args.pg_url}{sep}options=-csearch_path%3Dbench_callbacks")
    upgrade(db)
    settings = Settings(
        data_dir=tmp,
        database_url="unused",
        callback_url=receiver.url,
        callback_allowed_networks="127.0.0.0/8",
    )
    ctx = AppContext(
        settings=settings, db=db, clock=VirtualClock(START), box=SecretBox.from_settings("", tmp)
    )
    started = time.perf_counter()
    for first in range(0, args.results, 1000):  # the engine queues results in its own small transactions
        with db.write() as conn:
            for i in range(first, min(first + 1000, args.results)):
                attempt = {"id": i, "call_id": f"0001-{i}", "called": "60584", "created_at": START,
                           "call_status": 6, "fail_code": "00000", "result_code": "OB99999"}  # fmt: skip
                outbox.enqueue(conn, attempt, campaign_id=1 + i % args.campaigns, vdn_id=1, now_ms=START)
    queued = time.perf_counter() - started
    pushed_before = receiver.counts()[1]
    started = time.perf_counter()
    done = 0
    with httpx.Client(timeout=10) as http_client:
        while done < args.results:
            done += delivery.deliver_due(ctx, http_client)
    elapsed = time.perf_counter() - started
    pushed = receiver.counts()[1] - pushed_before
    assert pushed == args.results, pushed
    db.dispose()
    shutil.rmtree(tmp)
    if admin is not None:
        with admin.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA bench_callbacks CASCADE")
    return args.results / queued, args.results / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=int, default=20_000)
    parser.add_argument("--campaigns", type=int, default=10)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    receiver = Receiver()
    print(f"{args.results:,} results over {args.campaigns} campaigns, batches of {delivery.BATCH}")
    print(f"{'database':12} {'queued/s':>10} {'delivered/s':>12}")
    for backend in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        queued, delivered = run(backend, args, receiver)
        print(f"{backend:12} {queued:10,.0f} {delivered:12,.0f}")
    receiver.stop()


if __name__ == "__main__":
    main()
