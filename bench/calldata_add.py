"""Throughput and latency of POST …/calldata/{campaignId} (add 20 numbers) against a real `outdial serve`.

Starts `outdial serve` as a subprocess (SQLite in a temp dir, or the PostgreSQL given with --db, in a
private schema dropped afterwards), creates an AK/SK with the CLI (`outdial keys create --vdn ...`),
creates the campaigns through the API (IVR campaigns starting tomorrow, at most 20 live per VDN as the
document allows, so --campaigns/20 VDNs), then runs the load generator in separate processes: each sends
signed add requests of 20 unique numbers, round robin over its own campaigns and never twice to one
campaign within 1.05 s (the document's one-second rule), keeping --concurrency requests in flight.
Prints requests/s, numbers/s, latency percentiles and every non-success code.

Usage: .venv/bin/python bench/calldata_add.py [--duration 10] [--campaigns 1000] [--processes 1]
       [--server-processes 1] [--concurrency 8] [--db postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from outdial import auth
from outdial.client import Client

ROOT = Path(__file__).resolve().parent.parent
OUTDIAL = str(Path(sys.executable).with_name("outdial"))
PER_VDN = 20  # live IVR campaigns a VDN may hold
ADD_GAP_S = 1.05  # the document's one second between adds to one campaign, plus a margin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def campaign_body(name: str) -> dict[str, Any]:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    return {
        "name": name,
        "strBeginTime": tomorrow.strftime("%Y-%m-%d 00:00:00"),
        "strEndTime": (tomorrow + timedelta(days=2)).strftime("%Y-%m-%d 23:59:59"),
        "deviceType": 3,
        "callerNo": [{"accessCode": "88880000", "priority": 1}],
        "maxAlertingTime": 20,
        "priority": 1,
        "scheduleParam": {"workdayBeginTime1": "08:00", "workdayEndTime1": "20:00"},
        "ivrParam": {"deviceSign": "1001", "callCount": 3, "callInterval": 3},
        "retryPolicy": {"policyType": 0, "callInterval": 60, "retryDay": 1, "retryTimes": 2},
        "initStatus": 0,
        "callBackUrl": "https://192.0.2.10/outdial-bench/results",
    }


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


def _private_schema(url: str) -> tuple[str, str]:
    import sqlalchemy as sa

    from outdial.db import normalize_url

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return schema, f"{url}{sep}options=-csearch_path%3D{schema}"


def _drop_schema(url: str, schema: str) -> None:
    import sqlalchemy as sa

    from outdial.db import normalize_url

    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


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


@dataclass
class Served:
    """A running `outdial serve` and what a load generator needs to talk to it."""

    process: subprocess.Popen[bytes]
    base_url: str
    ak: str
    sk: str
    data_dir: Path
    database_url: str
    log: Path


@contextmanager
def served(
    db: str | None,
    vdns: list[int],
    *,
    workers: int = 1,
    speed: float = 1.0,
    env: dict[str, str] | None = None,
    prepare: Callable[[str], None] | None = None,
) -> Iterator[Served]:
    """`outdial serve` in a subprocess on a free loopback port, on SQLite in a temp dir or on the PostgreSQL
    URL `db` in a private schema, with one AK/SK for `vdns`; stopped (and the schema dropped) on exit.
    `prepare(database_url)` runs on the migrated database before the server starts."""
    tmp = Path(tempfile.mkdtemp(prefix="outdial-bench-"))
    schema = None
    db_url = f"sqlite:///{tmp}/outdial.db"
    if db:
        schema, db_url = _private_schema(db)
    server_env = {
        **os.environ,
        "OUTDIAL_DATA_DIR": str(tmp),
        "OUTDIAL_DATABASE_URL": db_url,
        "OUTDIAL_TIMEZONE": "UTC",
        **(env or {}),
    }
    server: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([OUTDIAL, "db", "upgrade"], env=server_env, check=True, capture_output=True)
        created = subprocess.run(
            [OUTDIAL, "keys", "create", *(f"--vdn={v}" for v in vdns)],
            env=server_env,
            check=True,
            capture_output=True,
            text=True,
        )
        key = json.loads(created.stdout)
        if prepare is not None:
            prepare(db_url)
        port = free_port()
        server_log = tmp / "serve.log"  # a file, not a pipe: a full pipe would stall the server
        command = [OUTDIAL, "serve", "--port", str(port), "--workers", str(workers)]
        if speed != 1.0:
            command += ["--speed", str(speed)]
        with server_log.open("wb") as log_file:
            server = subprocess.Popen(command, env=server_env, stdout=subprocess.DEVNULL, stderr=log_file)
        base_url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("the server did not start: " + server_log.read_text())
        yield Served(server, base_url, key["ak"], key["sk"], tmp, db_url, server_log)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if schema and db:
            _drop_schema(db, schema)
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    vdns = list(range(1, (args.campaigns + PER_VDN - 1) // PER_VDN + 1))
    with served(args.db, vdns, workers=args.server_processes) as server:
        base_url = server.base_url
        key = {"ak": server.ak, "sk": server.sk}
        client = Client(base_url, key["ak"], key["sk"])
        campaigns: list[tuple[int, int]] = []
        for n in range(args.campaigns):
            vdn_id = vdns[n // PER_VDN]
            response = client.add_campaign(vdn_id, campaign_body(f"bench{n}"))
            if not response.ok:
                raise SystemExit(f"could not create campaign {n}: {response.body}")
            campaigns.append((vdn_id, int(response.body["returnObject"]["id"])))
        client.close()
        shares = [campaigns[i :: args.processes] for i in range(args.processes)]
        per_process = max(1, args.concurrency // args.processes)
        jobs = [
            (base_url, key["ak"], key["sk"], share, per_process, args.duration, 10 + i)
            for i, share in enumerate(shares)
        ]
        with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
            cpu_before = _cpu_seconds(server.process.pid)
            results = pool.map(_load_process, jobs)
            server_cpu = _cpu_seconds(server.process.pid) - cpu_before
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
        "--db", help="PostgreSQL URL (a private schema is created and dropped); default SQLite"
    )
    run(parser.parse_args())


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
