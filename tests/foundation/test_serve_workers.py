"""`outdial serve --workers 2` for real: two processes answer on one port, the background workers run (in
process 0), a killed process is replaced, and SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from demo_server import start_demo_server
from outdial.client import Client
from outdial.demo import DEMO_VDN


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid) and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _wait_for(condition, what: str, seconds: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_two_server_processes_serve_dial_replace_a_killed_one_and_stop(tmp_path: Path) -> None:
    demo = start_demo_server(tmp_path / "data", "--workers", "2", "--speed", "200")
    server = demo.process
    try:
        campaign_id, base_url = demo.campaign_id, demo.base_url

        sent = iter(range(1_000_000))  # makes each request differ: equal requests within a second are replays

        def answers() -> bool:
            # a new connection each time, so the kernel hands them to either process
            client = Client(base_url, demo.ak, demo.sk)
            try:
                return client.list_campaigns(DEMO_VDN, name=f"demo{next(sent)}").ok
            except httpx.TransportError:
                return False
            finally:
                client.close()

        _wait_for(answers, "the server did not start listening")
        processes = _wait_for(
            lambda: len(_children(server.pid)) == 2 and _children(server.pid), "2 processes"
        )
        assert all(answers() for _ in range(20))

        client = Client(base_url, demo.ak, demo.sk)

        def results() -> int:
            answer = client.query_call_results(
                DEMO_VDN, campaign_id, {"showDetail": 1, "pageSize": 1 + next(sent) % 100}
            )
            assert answer.code == "0200000", answer.body
            return int(answer.body["totalCount"])

        _wait_for(results, "no call ended: the engine runs in one of the processes")  # dialing happens

        killed = min(processes)
        os.kill(killed, signal.SIGKILL)
        replaced = _wait_for(
            lambda: (now := _children(server.pid)) and len(now) == 2 and killed not in now and now,
            "the killed process was not replaced",
        )
        assert replaced - processes  # a new process
        assert all(answers() for _ in range(20))
        client.close()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode is not None
    assert _children(server.pid) == set()
