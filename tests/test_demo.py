"""`outdial serve --demo`: the quick start's first command. Seeding on the test database, and the real
command in a subprocess answering a signed request with the key it printed."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from demo_server import start_demo_server
from outdial.campaigns.status import EXECUTING, effective_status
from outdial.client import Client
from outdial.demo import DEMO_NUMBERS, DEMO_VDN, seed_demo
from outdial.models.calldata import WAITING, call_data
from outdial.models.foundation import api_keys, campaigns
from outdial.tenants import repository as tenants


def test_the_demo_seeds_an_executing_campaign_with_numbers_once(ctx) -> None:
    first = seed_demo(ctx, "http://127.0.0.1:8080")
    again = seed_demo(ctx, "http://127.0.0.1:8080")

    assert (again.ak, again.sk, again.campaign_id) == (first.ak, first.sk, first.campaign_id)
    assert (first.numbers_added, again.numbers_added) == (DEMO_NUMBERS, 0)
    with ctx.db.read() as conn:
        row = conn.execute(sa.select(campaigns).where(campaigns.c.id == first.campaign_id)).one()
        assert row.vdn_id == DEMO_VDN
        assert effective_status(row.status, row.begin_at, row.end_at, ctx.clock.now_ms()) == EXECUTING
        waiting = conn.execute(
            sa.select(sa.func.count()).where(
                call_data.c.campaign_id == first.campaign_id, call_data.c.state == WAITING
            )
        ).scalar_one()
        assert waiting == DEMO_NUMBERS
        assert conn.execute(sa.select(sa.func.count()).select_from(api_keys)).scalar_one() == 1
        key = tenants.find_active_key(conn, ctx.box, first.ak)
        assert key is not None and key.sk == first.sk and key.vdn_ids == {DEMO_VDN}


def test_serve_demo_dials_and_answers_signed_requests_with_the_printed_key(tmp_path: Path) -> None:
    # 200x: the simulated calls (seconds to minutes each) end within this test's few seconds
    demo = start_demo_server(tmp_path / "data", "--speed", "200")
    server = demo.process
    try:
        client = Client(demo.base_url, demo.ak, demo.sk)
        deadline = time.monotonic() + 30
        while True:
            try:
                response = client.get_campaign(DEMO_VDN, demo.campaign_id)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start listening"
                time.sleep(0.2)
        assert response.status_code == 200 and response.code == "0200000", response.body
        assert response.body["returnObject"]["name"] == "demo"
        assert response.body["returnObject"]["status"] == EXECUTING
        unsigned = Client(demo.base_url, demo.ak, "not-the-sk")
        assert unsigned.get_campaign(DEMO_VDN, demo.campaign_id).status_code == 401

        # 2 s real = 400 s of campaign time, past the 300 s signature window: requests signed with the real
        # time must still pass, since signatures are checked against the real clock, not the scaled one
        time.sleep(2)
        # the background engine dials the demo numbers on the simulator: finished calls show up as results
        results: dict[str, object] = {}
        while not results.get("totalCount"):
            assert time.monotonic() < deadline + 30, f"no call ended in time: {results}"
            time.sleep(0.5)
            answer = client.query_call_results(DEMO_VDN, demo.campaign_id, {"showDetail": 1})
            assert answer.code == "0200000", answer.body
            results = answer.body
        first = results["data"][0]  # type: ignore[index]
        assert first["called"].startswith("1380000") and first["callStatus"] in (5, 6)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
