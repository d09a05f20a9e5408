"""A real callback receiver: an HTTP server on 127.0.0.1 in a thread. Each POST is recorded (the results it
carried, by resultId) and answered by the next scripted behaviour, then "ok" once the script is used up:
  ok         HTTP 200 {"retCode":"0","retMsg":"success"}
  500        HTTP 500
  retcode    HTTP 200 {"retCode":"1"} (the receiver refuses the batch)
  slow       sleep `slow_s`, then answer ok (the sender has timed out by then)
  hold       block until `release` is set (the sender is killed meanwhile), then answer ok
Only batches answered "ok" count as accepted; every batch seen is in `batches`."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, script: list[str] | None = None, slow_s: float = 1.0) -> None:
        self.script = list(script or [])
        self.slow_s = slow_s
        self.batches: list[list[dict[str, Any]]] = []  # every POST body, in arrival order
        self.answers: list[str] = []  # the behaviour used for each
        self.holding = threading.Event()  # set while a "hold" request waits
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with receiver.lock:
                    behaviour = receiver.script.pop(0) if receiver.script else "ok"
                    receiver.batches.append(body)
                    receiver.answers.append(behaviour)
                if behaviour == "slow":
                    time.sleep(receiver.slow_s)
                elif behaviour == "hold":
                    receiver.holding.set()
                    receiver.release.wait(30)
                status, answer = 200, {"retCode": "0", "retMsg": "success"}
                if behaviour == "500":
                    status, answer = 500, {"retCode": "1"}
                elif behaviour == "retcode":
                    answer = {"retCode": "1", "retMsg": "busy"}
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the sender is gone (timed out or killed)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def call_ids(self, *, accepted_only: bool = False) -> list[str]:
        return [
            item["callId"]
            for batch, answer in zip(self.batches, self.answers, strict=True)
            if not accepted_only or answer == "ok"
            for item in batch
        ]

    def first_arrivals(self, campaign_id: int) -> list[int]:
        """The resultIds of one campaign in the order each was first accepted (a batch answered 500 or with
        retCode "1" was refused; a slow or held one was taken, whatever became of the sender)."""
        seen: dict[int, None] = {}
        for batch, answer in zip(self.batches, self.answers, strict=True):
            if answer in ("500", "retcode"):
                continue
            for item in batch:
                if item["campaignId"] == str(campaign_id):
                    seen.setdefault(int(item["resultId"]), None)
        return list(seen)

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
