"""Deliver N results to a local receiver and print results/s (target >= 2,000/s). SQLite in a temp dir.
Usage: .venv/bin/python bench/callback_throughput.py [N]"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from outdial.clock import VirtualClock
from outdial.config import Settings
from outdial.context import AppContext
from outdial.db import Database
from outdial.migrate import upgrade
from outdial.results import delivery, outbox


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["content-length"]))
        data = b'{"retCode":"0"}'
        self.send_response(200)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def main(n: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/cb"
    tmp = Path(tempfile.mkdtemp())
    db = Database(f"sqlite:///{tmp}/bench.db")
    upgrade(db)
    settings = Settings(
        data_dir=tmp, database_url="unused", callback_url=url, callback_allowed_networks="127.0.0.0/8"
    )
    ctx = AppContext(settings=settings, db=db, clock=VirtualClock(1795424400000), box=None)  # type: ignore[arg-type]
    with db.write() as conn:
        for i in range(n):
            outbox.enqueue(
                conn,
                {"id": i, "call_id": f"c{i}", "call_status": 6},
                campaign_id=1 + i % 10,
                vdn_id=1,
                now_ms=0,
            )
    started = time.perf_counter()
    done = 0
    with httpx.Client(timeout=10) as http_client:
        while done < n:
            done += delivery.deliver_due(ctx, http_client)
    elapsed = time.perf_counter() - started
    print(json.dumps({"results": n, "seconds": round(elapsed, 3), "results_per_s": round(n / elapsed)}))
    server.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
