"""Soak: N minutes of steady mixed load against one `outdial serve`, to show that nothing degrades with time.

Starts `outdial serve` as a subprocess (bench/serving.py's `served`: SQLite in a temp dir, or the
PostgreSQL given with --db in a private schema), with the clock --speed times faster so a predictive campaign
dials on the built-in simulator all along (its numbers written before the server starts). A receiver on 127.0.0.1 in this process takes the campaign's
callbacks. The load, at a steady --rate of requests per second from --threads threads:
  - adds of 20 numbers to --campaigns IVR campaigns (they start tomorrow, so they only grow),
  - call-result pages, campaign statistics, campaign reads, campaign lists and blocklist pages.
Every minute it prints requests, errors, p99 latency, the server's resident memory (RSS), the results the
receiver has taken and, on SQLite, the size of the -wal file. At the end: RSS at the start and the end, and
its growth after the warm-up (the first 5 minutes, or half of a shorter run). Goal: 0 errors, growth < 10%.
Loopback only; it stops by itself.

Usage: .venv/bin/python bench/soak.py [--minutes 30] [--rate 30] [--speed 10] [--check]
       [--db postgresql://postgres@127.0.0.1:5432/test]
--check exits 1 when any request failed, the receiver got no result, or RSS grew past the goal.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from calldata_add import ADD_GAP_S
from outdial import auth
from serving import Receiver, Served, campaign_body, rss_mb, seed_dialing_campaign, served, wal_mb

VDN = 1
DIALING = "soak-dialing"
GROWTH_GOAL = 0.10
WARMUP_MINUTES = 5
# One cycle of the mixed load; "add" goes to the IVR campaigns in turn.
MIX = ("add", "results", "add", "statistics", "add", "campaign", "add", "list", "results", "blocklist")


@dataclass
class Minute:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


class Load:
    """Signed requests at a steady rate. Signatures carry milliseconds: two equal requests in one second
    (two statistics reads, say) would otherwise be refused as a replay."""

    def __init__(self, server: Served, ivr_campaigns: list[int], dialing: int) -> None:
        self.server = server
        self.host = urlsplit(server.base_url).netloc
        self.ivr = ivr_campaigns
        self.dialing = dialing
        self.minute = Minute()
        self.lock = threading.Lock()
        self.next_free: dict[int, float] = dict.fromkeys([*ivr_campaigns, dialing], 0.0)
        self.serial = 0
        self.adds = 0
        self.stop = threading.Event()

    def request(
        self,
        http: httpx.Client,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, str] | None = None,
    ) -> None:
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        query_string = urlencode(query or {})
        headers = {"host": self.host, "content-type": "application/json; charset=UTF-8"}
        headers["content-length"] = str(len(data))
        headers["authorization"] = auth.sign(
            ak=self.server.ak,
            sk=self.server.sk,
            method=method,
            path=path,
            query_string=query_string,
            headers=headers,
            body=data,
            now_ms=time.time_ns() // 1_000_000,
            with_millis=True,
        )
        url = self.server.base_url + path + ("?" + query_string if query_string else "")
        started = time.perf_counter()
        try:
            response = http.request(method, url, content=data, headers=headers)
            code = (
                response.json().get("resultCode")
                if response.status_code == 200
                else str(response.status_code)
            )
        except (httpx.HTTPError, ValueError) as error:
            code = type(error).__name__
        elapsed = time.perf_counter() - started
        with self.lock:
            self.minute.latencies.append(elapsed)
            if code != "0200000":
                self.minute.errors[f"{method} {path.rsplit('/', 2)[-2]}: {code}"] += 1

    def _numbers(self) -> list[dict[str, str]]:
        with self.lock:
            self.serial += 1
            serial = self.serial
        return [{"called": f"139{serial:07d}{i:02d}", "sessionId": f"s{serial}-{i}"} for i in range(20)]

    def add(self, http: httpx.Client, campaign_id: int) -> None:
        """Adds 20 numbers, never twice within a second to one campaign (the document's rule)."""
        with self.lock:
            wait = self.next_free[campaign_id] - time.monotonic()
            self.next_free[campaign_id] = max(self.next_free[campaign_id], time.monotonic()) + ADD_GAP_S
        if wait > 0:
            time.sleep(wait)
        path = f"/rest/isales/v1/openapi/campaigns/{VDN}/calldata/{campaign_id}"
        self.request(http, "POST", path, {"callDataList": self._numbers()})

    def run_one(self, http: httpx.Client, step: int) -> None:
        v1 = f"/rest/isales/v1/openapi/campaigns/{VDN}"
        kind = MIX[step % len(MIX)]
        if kind == "add":
            with self.lock:
                self.adds += 1
                campaign_id = self.ivr[self.adds % len(self.ivr)]
            self.add(http, campaign_id)
        elif kind == "results":
            body = {"showDetail": 1, "pageSize": 10, "pageNum": 1 + step % 20}
            self.request(http, "POST", f"{v1}/callresult/{self.dialing}", body)
        elif kind == "statistics":
            v2 = f"/rest/isales/v2/openapi/campaigns/{VDN}"
            self.request(http, "GET", f"{v2}/statistics", query={"campaignId": str(self.dialing)})
        elif kind == "campaign":
            self.request(http, "GET", f"{v1}/{self.ivr[step % len(self.ivr)]}")
        elif kind == "list":
            self.request(http, "GET", v1, query={"curPage": str(1 + step % 2), "rowsPerPage": "10"})
        else:
            self.request(http, "POST", f"{v1}/blocklist/query", {"offset": 0, "limit": 10})

    def take_minute(self) -> Minute:
        with self.lock:
            done, self.minute = self.minute, Minute()
        return done


def _worker(load: Load, jobs: queue.Queue[int | None]) -> None:
    with httpx.Client(timeout=30) as http:
        while (step := jobs.get()) is not None:
            load.run_one(http, step)


def _dispatch(load: Load, jobs: queue.Queue[int | None], rate: float, threads: int) -> None:
    """Steps at a fixed rate; when the server falls behind, the queue holds them (no burst to catch up)."""
    step = 0
    next_at = time.monotonic()
    while not load.stop.is_set():
        if jobs.qsize() < threads * 4:
            jobs.put(step)
            step += 1
        next_at = max(next_at + 1 / rate, time.monotonic() - 1)
        load.stop.wait(max(0.0, next_at - time.monotonic()))
    for _ in range(threads):
        jobs.put(None)


def p99_ms(latencies: list[float]) -> float:
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def _ivr_campaigns(server: Served, campaigns: int) -> list[int]:
    from outdial.client import Client

    client = Client(server.base_url, server.ak, server.sk)
    try:
        ivr = []
        for n in range(campaigns):
            response = client.add_campaign(VDN, campaign_body(f"soak{n}"))
            if not response.ok:
                raise SystemExit(f"could not create campaign {n}: {response.body}")
            ivr.append(int(response.body["returnObject"]["id"]))
        return ivr
    finally:
        client.close()


def run(args: argparse.Namespace) -> bool:
    """Runs the soak and prints its table; True when the goal was met."""
    receiver = Receiver()
    env = {"OUTDIAL_CALLBACK_ALLOWED_NETWORKS": "127.0.0.0/8"}
    warmup = min(WARMUP_MINUTES, args.minutes // 2)
    numbers = args.numbers or min(200_000, int(args.minutes * 60 * args.speed * 2))

    dialing: list[int] = []

    def prepare(database_url: str) -> None:
        dialing.append(seed_dialing_campaign(database_url, receiver.url, numbers))

    with served(args.db, [VDN], speed=args.speed, env=env, prepare=prepare) as server:
        ivr = _ivr_campaigns(server, args.campaigns)
        load = Load(server, ivr, dialing[0])
        jobs: queue.Queue[int | None] = queue.Queue()
        threads = [threading.Thread(target=_worker, args=(load, jobs)) for _ in range(args.threads)]
        threads.append(threading.Thread(target=_dispatch, args=(load, jobs, args.rate, args.threads)))
        pid = server.process.pid
        rss_start = rss_mb(pid)
        rss_by_minute = [rss_start]
        total_errors: Counter[str] = Counter()
        total_requests = 0
        backend = "PostgreSQL" if args.db else "SQLite"
        print(
            f"soak: {backend}, {args.minutes} min, {args.rate:g} req/s, speed {args.speed:g}, {numbers} numbers dialing"
        )
        print("| minute | requests | errors | p99 ms | server RSS MB | results received | pushed | WAL MB |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for thread in threads:
            thread.start()
        began = time.monotonic()
        try:
            for minute in range(1, args.minutes + 1):
                time.sleep(max(0.0, began + minute * 60 - time.monotonic()))
                done = load.take_minute()
                rss_by_minute.append(rss_mb(pid))
                errors = sum(done.errors.values())
                total_errors.update(done.errors)
                total_requests += len(done.latencies)
                received, pushed = receiver.counts()
                print(
                    f"| {minute} | {len(done.latencies)} | {errors} | {p99_ms(done.latencies):.1f} "
                    f"| {rss_by_minute[-1]:.1f} | {received} | {pushed} | {wal_mb(server)} |",
                    flush=True,
                )
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(60)
        if server.process.poll() is not None:
            total_errors["server exited"] += 1
    receiver.stop()
    received, pushed = receiver.counts()
    growth = (rss_by_minute[-1] - rss_by_minute[warmup]) / rss_by_minute[warmup]
    print(
        f"requests {total_requests}, errors {sum(total_errors.values())}, results received {received} "
        f"({pushed - received} pushed again); RSS {rss_start:.1f} MB at the start, {rss_by_minute[warmup]:.1f} "
        f"after minute {warmup}, {rss_by_minute[-1]:.1f} at the end: {growth:+.1%} after the warm-up "
        f"(goal < {GROWTH_GOAL:.0%})"
    )
    for what, count in total_errors.most_common():
        print(f"  error: {what} x{count}")
    met = not total_errors and received > 0 and growth < GROWTH_GOAL
    if received == 0:
        print("  the receiver got no result: the campaign did not dial or its callbacks were not delivered")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=int, default=30, help="minutes of load (default 30)")
    parser.add_argument("--rate", type=float, default=30.0, help="mixed requests per second (default 30)")
    parser.add_argument("--threads", type=int, default=4, help="requests in flight at most (default 4)")
    parser.add_argument("--campaigns", type=int, default=20, help="IVR campaigns the adds go to (default 20)")
    parser.add_argument(
        "--numbers", type=int, default=0, help="numbers of the dialing campaign (default: enough for the run)"
    )
    parser.add_argument("--speed", type=float, default=10.0, help="the server's clock speed (default 10)")
    parser.add_argument(
        "--db", help="PostgreSQL URL (a private schema is created and dropped); default SQLite"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 unless the goal was met")
    args = parser.parse_args()
    if args.minutes < 1 or args.rate <= 0 or args.threads < 1 or args.campaigns < 1:
        parser.error("--minutes, --rate, --threads and --campaigns must be positive")
    met = run(args)
    if args.check and not met:
        sys.exit(1)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    main()
