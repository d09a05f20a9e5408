"""End to end over SIP: a predictive campaign created through the signed API, 32 numbers routed by
Kamailio to SIPp callees of mixed outcomes, agents logged in through the agents API with their phones'
URIs (SIPp agent phones that answer and echo the audio); the engine dials in real time through
SipTelephony. The attempts, the results interface and the callback outbox show the failCodes, the talk
times and the agent ids."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from rig import Callee, Rig
from sip_fixtures import NEEDS_SIP, make_adapter, rig, sip_runtime  # noqa: F401  (fixtures)

from campaigns.factories import create_campaign
from outdial.clock import RealClock
from outdial.engine.runner import Engine
from outdial.engine.worker import _sync_loop, sync_agents
from outdial.models.engine import attempts as attempts_table
from outdial.models.results import callback_outbox

pytestmark = NEEDS_SIP

SKILL = 2
# prefix -> (callee, numbers, failCode)
MIX: dict[str, tuple[Callee, int, str]] = {
    "1": (Callee(200, ring_ms=500, talk_ms=3000), 12, "00000"),
    "2": (Callee(486, ring_ms=200), 5, "00537"),
    "3": (Callee(404), 5, "00538"),
    "4": (Callee(None), 4, "01040"),  # rings until the campaign's maxAlertingTime
    "5": (Callee(480, ring_ms=200, reason="Q.850;cause=18"), 3, "01040"),
    "6": (Callee(503), 3, "00606"),
}


@pytest.fixture
def clock() -> RealClock:  # real calls: real time
    return RealClock()


def attempts_of(ctx: Any, campaign_id: int) -> list[Any]:
    with ctx.db.read() as conn:
        query = sa.select(attempts_table).where(attempts_table.c.campaign_id == campaign_id)
        return list(conn.execute(query.order_by(attempts_table.c.id)).all())


def sip_campaign(client: Any) -> int:
    """A paused predictive campaign on skill queue 2 open all day today, ring timeout 5 s, no retry due
    within a test."""
    today = datetime.now(UTC)
    return create_campaign(
        client,
        strBeginTime=today.strftime("%Y-%m-%d 00:00:00"),
        strEndTime=(today + timedelta(days=1)).strftime("%Y-%m-%d 23:59:59"),
        maxAlertingTime=5,
        scheduleParam={
            **{f"workday{k}Time{i}": "" for k in ("Begin", "End") for i in (2, 3)},
            **{f"holiday{k}Time{i}": "" for k in ("Begin", "End") for i in (2, 3)},
            "workdayBeginTime1": "00:00",
            "workdayEndTime1": "23:59",
            "holidayBeginTime1": "00:00",
            "holidayEndTime1": "23:59",
        },
        retryPolicy={"policyType": 0, "retryDay": 1, "retryTimes": 1, "callInterval": 3600},
        callPolicy=None,
        initStatus=1,
    )


def test_a_predictive_campaign_dials_real_sip_callees(
    rig: Rig, make_adapter: Any, ctx: Any, client: Any
) -> None:
    callees = {p: rig.callee(c, name=f"e2e{p}") for p, (c, _, _) in MIX.items()}
    agent_phone = rig.callee(Callee(200), name="agents")
    kamailio = rig.kamailio({p: c.address for p, c in callees.items()})

    cid = sip_campaign(client)
    for n in range(3):
        assert client.agent_login(1, f"agent{n}", [SKILL], f"sip:agent{n}@{agent_phone.address}").ok
    numbers = [f"{p}{n:07d}" for p, (_, count, _) in MIX.items() for n in range(count)]
    for i in range(0, len(numbers), 20):
        if i:
            time.sleep(1.05)  # one add request per campaign per second
        added = client.add_call_data(1, cid, [{"called": n} for n in numbers[i : i + 20]])
        assert added.ok, added.body

    adapter = make_adapter(
        route=f"sip:{{number}}@{kamailio.address}",
        trunk=f"sip:{kamailio.address}",
        wrapup_s=0.5,
        max_lines=20,
    )
    sync_agents(ctx, adapter)
    assert adapter.agent_counts(SKILL).idle == 3
    engine = Engine(ctx, adapter, owner="sip-e2e", refresh_ms=500)
    ctx.extras["engine"] = engine  # the agents interface shows the live states through it
    adapter.set_notify(ctx.wakeup("engine").set)
    stop = threading.Event()
    threads = [
        threading.Thread(target=engine.run, args=(stop,)),
        threading.Thread(target=_sync_loop, args=(ctx, adapter, stop)),
    ]
    for thread in threads:
        thread.start()
    status = client.telephony_status(1)
    assert status.ok, status.body
    assert status.body["data"] == {"telephony": "sip", "registered": None, "up": True, "callsInProgress": 0,
                                   "linesFree": 20, "reason": ""}  # fmt: skip
    try:
        assert client.resume_campaign(1, cid).ok
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            done = [a for a in attempts_of(ctx, cid) if a.end_at is not None]
            if len(done) >= len(numbers):
                break
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)

    attempts = attempts_of(ctx, cid)
    assert len(attempts) == len(numbers)  # each number dialed once (no retry due within the test)
    assert len({a.called for a in attempts}) == len(numbers)
    by_prefix: dict[str, list[Any]] = {}
    for a in attempts:
        by_prefix.setdefault(a.called[0], []).append(a)
    for prefix, (_, count, fail_code) in MIX.items():
        rows = by_prefix[prefix]
        assert len(rows) == count
        if prefix == "1":  # persons: connected to an agent, or abandoned when none was free within 2 s
            connected = [a for a in rows if a.fail_code == "00000"]
            assert {a.fail_code for a in rows} <= {"00000", "01046"}
            assert len(connected) >= 3
            for a in connected:
                assert a.agent_id in {"agent0", "agent1", "agent2"}
                assert a.call_status == 6
                # the callee talks 3 s after its 200 OK: the call lasted that long, not more
                assert 2500 <= a.end_at - a.answer_at <= 4500
        else:
            assert {a.fail_code for a in rows} == {fail_code}, (prefix, [a.fail_code for a in rows])
            assert all(a.agent_id is None and a.call_status == 5 for a in rows)

    results = client.query_call_results(1, cid, {"limit": 100})
    assert results.ok, results.body
    listed = results.body.get("returnObject") or results.body.get("data") or {}
    text = json.dumps(listed)
    assert all(a.call_id in text for a in attempts)
    with ctx.db.read() as conn:
        payloads = [json.loads(p) for p in conn.execute(sa.select(callback_outbox.c.payload)).scalars()]
    sent = {p["callId"]: p["failCode"] for p in payloads}
    for a in attempts:
        assert sent[a.call_id] == ("0" if a.fail_code == "00000" else a.fail_code)
    assert {a["state"] for a in client.agent_logins(1).body["data"]["agents"]} <= {"idle", "wrapup"}


def test_a_serve_killed_mid_campaign_leaves_no_call_twice_and_nothing_open(
    rig: Rig, make_adapter: Any, ctx: Any, client: Any, tmp_path: Any
) -> None:
    """kill -9 of the SIP engine's process while its calls talk; the engine that takes the campaign back
    (the same owner, as a restarted `serve`) reconciles the open attempts (34608) and dials the rest once."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from rig import free_port

    from outdial.models.engine import OPEN, RECONCILED

    person = rig.callee(Callee(200, ring_ms=200, talk_ms=8000), name="person")
    agent_phone = rig.callee(Callee(200), name="agents")
    kamailio = rig.kamailio({"1": person.address})
    cid = sip_campaign(client)
    for n in range(4):
        assert client.agent_login(1, f"agent{n}", [SKILL], f"sip:agent{n}@{agent_phone.address}").ok
    numbers = [f"1{n:07d}" for n in range(12)]
    assert client.add_call_data(1, cid, [{"called": n} for n in numbers]).ok
    assert client.resume_campaign(1, cid).ok
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "sip_kill_target.py"), ctx.db.url, str(tmp_path / "child"),
         f"127.0.0.1:{free_port()}", f"sip:{{number}}@{kamailio.address}", f"sip:{kamailio.address}", "sip-w1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if int(line.split()[0]) >= 3:  # calls up: placed, answered and bridged or about to be
                break
        else:
            raise AssertionError(child.stderr.read() if child.stderr else "child ended early")
        time.sleep(1.0)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    killed = attempts_of(ctx, cid)
    assert len(killed) >= 3 and any(a.state == OPEN for a in killed)

    adapter = make_adapter(
        route=f"sip:{{number}}@{kamailio.address}", trunk=f"sip:{kamailio.address}", wrapup_s=0.5
    )
    sync_agents(ctx, adapter)
    engine = Engine(ctx, adapter, owner="sip-w1", refresh_ms=500)
    adapter.set_notify(ctx.wakeup("engine").set)
    stop = threading.Event()
    thread = threading.Thread(target=engine.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            made = attempts_of(ctx, cid)
            if len(made) >= len(numbers) and all(a.end_at is not None for a in made):
                break
            time.sleep(0.5)
    finally:
        stop.set()
        thread.join(30)
    final = attempts_of(ctx, cid)
    assert all(a.state != OPEN for a in final)
    by_number: dict[str, list[Any]] = {}
    for a in final:
        by_number.setdefault(a.called, []).append(a)
    assert set(by_number) == set(numbers)
    open_when_killed = {a.call_id for a in killed if a.state == OPEN}
    for tries in by_number.values():
        # a number the dead process was calling is reconciled, not dialed again (its retry is an hour away)
        assert len(tries) == 1, [(a.call_id, a.fail_code) for a in tries]
    for a in final:
        if a.call_id in open_when_killed:
            assert (a.state, a.fail_code) == (RECONCILED, "34608")
        else:
            assert a.fail_code in ("00000", "01046")
