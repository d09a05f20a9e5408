"""What the benchmarks against a real `outdial serve` share: the server in a subprocess on a free loopback
port (SQLite in a temp dir, or PostgreSQL in a private schema), campaigns written before it starts, a
callback receiver on 127.0.0.1, and the server's memory and WAL size. Not a benchmark itself."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from outdial.demo import DEMO_SKILL, demo_campaign_body, demo_records

OUTDIAL = str(Path(sys.executable).with_name("outdial"))
DIALING = "bench-dialing"


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


def private_schema(url: str) -> tuple[str, str]:
    import sqlalchemy as sa

    from outdial.db import normalize_url

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return schema, f"{url}{sep}options=-csearch_path%3D{schema}"


def drop_schema(url: str, schema: str) -> None:
    import sqlalchemy as sa

    from outdial.db import normalize_url

    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


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
        schema, db_url = private_schema(db)
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
            drop_schema(db, schema)
        shutil.rmtree(tmp, ignore_errors=True)


class Receiver:
    """The customer's callback endpoint on 127.0.0.1: counts batches and the resultIds they carried."""

    def __init__(self) -> None:
        self.result_ids: set[str] = set()
        self.pushed = 0  # results in all batches, repeats included
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a receiver behind a web server would

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                batch = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with receiver.lock:
                    receiver.pushed += len(batch)
                    receiver.result_ids.update(str(item["resultId"]) for item in batch)
                data = b'{"retCode":"0","retMsg":"success"}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/soak/results"
        threading.Thread(target=self.server.serve_forever, name="receiver", daemon=True).start()

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return len(self.result_ids), self.pushed

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def seed_dialing_campaign(database_url: str, callback_url: str, numbers: int, vdn_id: int = 1) -> int:
    """The demo's predictive campaign (running all day from today 00:00, the simulator's agents on its
    skill queue) with `numbers` numbers, written before the server starts: the API adds numbers only to a
    campaign that is not executing, 20 a second, where a campaign dialing for half an hour needs thousands."""
    from outdial.calldata import repository as calldata_repo
    from outdial.campaigns import service as campaigns
    from outdial.db import Database
    from outdial.tenants import repository as tenants

    db = Database(database_url)
    now = time.time_ns() // 1_000_000
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    body = {**demo_campaign_body(today, callback_url), "name": DIALING}
    try:
        with db.write() as conn:
            tenants.add_skill_queue(conn, vdn_id, DEMO_SKILL[0], DEMO_SKILL[1], now)
            campaign_id = campaigns.add_campaign(conn, vdn_id, body, now_ms=now, default_tz="UTC")
            campaign = calldata_repo.lock_campaign(conn, campaign_id)
            assert campaign is not None  # added just above, in this transaction
            calldata_repo.bulk_insert_records(
                conn, campaign, demo_records(numbers), import_task_id=None, now_ms=now
            )
        return campaign_id
    finally:
        db.dispose()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wal_mb(server: Served) -> str:
    if not server.database_url.startswith("sqlite"):
        return "-"
    wal = server.data_dir / "outdial.db-wal"
    return f"{wal.stat().st_size / 2**20:.1f}" if wal.exists() else "0.0"
