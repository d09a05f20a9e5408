"""Throughput and latency of POST …/calldata/{campaignId} (add 20 numbers) against a real `outdial serve`.

Starts `outdial serve` as a subprocess (SQLite in a temp dir, or the PostgreSQL given with --db, in a
private schema dropped afterwards), creates an AK/SK with the CLI (`outdial keys create --vdn ...`),
writes the campaigns before the server starts (IVR campaigns starting tomorrow, at most 20 live per VDN as
the document allows, so --campaigns/20 VDNs, each holding --preload numbers; with --dialing, a predictive
campaign of that many numbers dialing on the simulator meanwhile, its results pushed to a receiver on
127.0.0.1), then runs the load generator in separate processes: each sends
signed add requests of 20 unique numbers, round robin over its own campaigns and never twice to one
campaign within 1.05 s (the document's one-second rule), keeping --concurrency requests in flight.
Prints requests/s, numbers/s, latency percentiles and every non-success code; with --report-every S, the
-wal file's size every S seconds (for long runs: the WAL bound of docs/internals.md).

Usage: .venv/bin/python bench/calldata_add.py [--duration 10] [--campaigns 1000] [--processes 1]
       [--server-processes 1] [--concurrency 8] [--db postgresql://postgres@127.0.0.1:5432/test]
       [--preload 0] [--dialing 0] [--report-every 0] [--wal-limit-mb 64]
A long run: --duration 180 --campaigns 1000 --preload 2000 --dialing 20000 --report-every 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from outdial import auth
from serving import Receiver, Served, campaign_body, rss_mb, seed_dialing_campaign, served, wal_mb

ROOT = Path(__file__).resolve().parent.parent
PER_VDN = 20  # live IVR campaigns a VDN may hold
ADD_GAP_S = 1.05  # the document's one second between adds to one campaign, plus a margin


# --- load generator (runs in its own processes) --------------------------------------------------------


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 keep-alive request on an open connection; (status, body). A bare client: httpx costs
    about 1 ms of CPU per request, which on two cores would be taken from the server being measured."""
    writer.write(head + body)
    status_line_and_headers = await reader.readuntil(b"\r\n\r\n")
    status = int(status_line_and_headers[9:12])
    length = 0
    for line in status_line_and_headers.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def _load(
    base_url: str,
    ak: str,
    sk: str,
    campaigns: list[tuple[int, int]],
    concurrency: int,
    duration: float,
    seed: int,
) -> tuple[list[float], Counter[str], float, float]:
    latencies: list[float] = []
    codes: Counter[str] = Counter()
    host = base_url.split("//", 1)[1]
    address, port = host.split(":")
    next_free = {c: 0.0 for c in campaigns}
    queue = list(campaigns)
    serial = 0
    stop_at = time.monotonic() + duration

    async def worker() -> None:
        nonlocal serial
        reader, writer = await asyncio.open_connection(address, int(port))
        while time.monotonic() < stop_at:
            vdn_id, campaign_id = queue.pop(0)
            queue.append((vdn_id, campaign_id))
            wait = next_free[(vdn_id, campaign_id)] - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            next_free[(vdn_id, campaign_id)] = time.monotonic() + ADD_GAP_S
            serial += 1
            records = [
                {"called": f"{seed}{serial:09d}{i:02d}", "sessionId": f"{serial}-{i}"} for i in range(20)
            ]
            body = json.dumps({"callDataList": records}, separators=(",", ":")).encode()
            path = f"/rest/isales/v1/openapi/campaigns/{vdn_id}/calldata/{campaign_id}"
            headers = {
                "host": host,
                "content-type": "application/json; charset=UTF-8",
                "content-length": str(len(body)),
            }
            headers["authorization"] = auth.sign(
                ak=ak,
                sk=sk,
                method="POST",
                path=path,
                query_string="",
                headers=headers,
                body=body,
                now_ms=int(time.time() * 1000),
            )
            head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            started = time.perf_counter()
            status, answer = await _post(reader, writer, head.encode(), body)
            latencies.append(time.perf_counter() - started)
            codes[str(json.loads(answer).get("resultCode") if status == 200 else status)] += 1
        writer.close()

    began = time.monotonic()
    cpu_began = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - began
    return latencies, codes, elapsed, time.process_time() - cpu_began


def _load_process(
    args: tuple[str, str, str, list[tuple[int, int]], int, float, int],
) -> tuple[list[float], Counter[str], float, float]:
    return asyncio.run(_load(*args))


# --- setup ---------------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its child processes (`serve --workers N`), from
    Linux /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def seed_campaigns(database_url: str, vdns: list[int], count: int, preload: int) -> list[tuple[int, int]]:
    """`count` IVR campaigns starting tomorrow, PER_VDN per VDN, each with `preload` numbers already
    waiting: written before the server starts (the API takes 20 numbers a second per campaign)."""
    from outdial.calldata import repository as calldata_repo
    from outdial.campaigns import service as campaigns_service
    from outdial.db import Database
    from outdial.demo import demo_records

    db = Database(database_url)
    now = time.time_ns() // 1_000_000
    records = demo_records(preload)
    made: list[tuple[int, int]] = []
    try:
        for n in range(count):
            vdn_id = vdns[n // PER_VDN]
            with db.write() as conn:
                campaign_id = campaigns_service.add_campaign(
                    conn, vdn_id, campaign_body(f"bench{n}"), now_ms=now, default_tz="UTC"
                )
                if records:
                    campaign = calldata_repo.lock_campaign(conn, campaign_id)
                    assert campaign is not None  # added just above, in this transaction
                    calldata_repo.bulk_insert_records(
                        conn, campaign, records, import_task_id=None, now_ms=now
                    )
            made.append((vdn_id, campaign_id))
    finally:
        db.dispose()
    return made


def _wait_reporting(pending: Any, server: Served, every: float, began: float) -> None:
    """Prints the -wal file's size (SQLite), the database's and the server's RSS every `every` seconds
    until the load generators are done."""
    print("| s | WAL MB | database MB | server RSS MB |")
    print("| --- | --- | --- | --- |")
    database = server.data_dir / "outdial.db"
    while not pending.ready():
        pending.wait(every)
        size = f"{database.stat().st_size / 2**20:.0f}" if database.exists() else "-"
        print(
            f"| {time.monotonic() - began:.0f} | {wal_mb(server)} | {size} | {rss_mb(server.process.pid):.0f} |",
            flush=True,
        )


def run(args: argparse.Namespace) -> None:
    vdns = list(range(1, (args.campaigns + PER_VDN - 1) // PER_VDN + 1))
    receiver = Receiver()
    campaigns: list[tuple[int, int]] = []

    def prepare(database_url: str) -> None:
        campaigns.extend(seed_campaigns(database_url, vdns, args.campaigns, args.preload))
        if args.dialing:  # on a VDN of its own, which the load does not touch
            seed_dialing_campaign(database_url, receiver.url, args.dialing, vdn_id=vdns[-1] + 1)

    env = {"OUTDIAL_CALLBACK_ALLOWED_NETWORKS": "127.0.0.0/8"}
    if args.wal_limit_mb is not None:
        env["OUTDIAL_SQLITE_WAL_LIMIT_MB"] = str(args.wal_limit_mb)
    with served(args.db, vdns, workers=args.server_processes, env=env, prepare=prepare) as server:
        base_url = server.base_url
        key = {"ak": server.ak, "sk": server.sk}
        shares = [campaigns[i :: args.processes] for i in range(args.processes)]
        per_process = max(1, args.concurrency // args.processes)
        jobs = [
            (base_url, key["ak"], key["sk"], share, per_process, args.duration, 10 + i)
            for i, share in enumerate(shares)
        ]
        with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
            cpu_before = _cpu_seconds(server.process.pid)
            began = time.monotonic()
            pending = pool.map_async(_load_process, jobs)
            if args.report_every:
                _wait_reporting(pending, server, args.report_every, began)
            results = pending.get()
            server_cpu = _cpu_seconds(server.process.pid) - cpu_before
            largest_wal = wal_mb(server)
    receiver.stop()
    latencies = sorted(x for lat, _, _, _ in results for x in lat)
    elapsed = max(seconds for _, _, seconds, _ in results)  # the processes ran side by side
    codes: Counter[str] = Counter()
    for _, c, _, _ in results:
        codes.update(c)
    ok = codes.get("0200000", 0)
    backend = "PostgreSQL" if args.db else "SQLite"
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    # The server's own CPU per request tells what one core could sustain, whatever else the machine ran
    # (the load generator competes with the server for the same cores).
    cpu_ms = server_cpu * 1000 / max(len(latencies), 1)
    load_cpu_ms = sum(cpu for _, _, _, cpu in results) * 1000 / max(len(latencies), 1)
    print(
        "| backend | server processes | campaigns | load processes x in flight | requests | ok | req/s | numbers/s | p50 ms | p99 ms "
        "| max ms | server CPU ms/request | load generator CPU ms/request |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {backend} | {args.server_processes} | {args.campaigns} | {args.processes} x {per_process} | {len(latencies)} | {ok} "
        f"| {len(latencies) / elapsed:.0f} | {ok * 20 / elapsed:.0f} | {quantiles[49] * 1000:.1f} "
        f"| {quantiles[98] * 1000:.1f} | {latencies[-1] * 1000:.1f} | {cpu_ms:.2f} | {load_cpu_ms:.2f} |"
    )
    refused = {c: n for c, n in codes.items() if c != "0200000"}
    if refused:
        print(f"non-success answers: {refused}")
    if args.dialing:
        print(f"the dialing campaign's results received meanwhile: {receiver.counts()[0]}")
    print(f"-wal file at the end: {largest_wal} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load (default 10)")
    parser.add_argument("--campaigns", type=int, default=1000, help="campaigns to spread the adds over")
    parser.add_argument("--processes", type=int, default=1, help="load generator processes")
    parser.add_argument(
        "--server-processes", type=int, default=1, help="server processes (`outdial serve --workers N`)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="requests in flight, all processes together"
    )
    parser.add_argument(
        "--preload", type=int, default=0, help="numbers each campaign holds before the load (default 0)"
    )
    parser.add_argument(
        "--dialing",
        type=int,
        default=0,
        help="numbers of a predictive campaign dialing meanwhile (default none)",
    )
    parser.add_argument(
        "--report-every", type=float, default=0, help="print the WAL size every S seconds (default: never)"
    )
    parser.add_argument(
        "--wal-limit-mb", type=float, help="the server's OUTDIAL_SQLITE_WAL_LIMIT_MB (0: no limit)"
    )
    parser.add_argument(
        "--db", help="PostgreSQL URL (a private schema is created and dropped); default SQLite"
    )
    run(parser.parse_args())


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
