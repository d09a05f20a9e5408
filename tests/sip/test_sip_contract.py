"""The port contract under load: 100 concurrent calls of mixed outcomes through Kamailio to SIPp callees,
persons bridged to 10 agent phones. Exactly one `ended` per placed call and it comes last; events in time
order; an agent never in two calls at once, never lost."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from rig import Callee, Rig
from sip_fixtures import NEEDS_SIP, make_adapter, rig, sip_runtime  # noqa: F401  (fixtures)
from support import Driver, request

from outdial.engine.telephony import outcomes as oc
from outdial.engine.telephony.agentpool import AgentLogin, AgentPool

pytestmark = NEEDS_SIP

AGENTS = 10
# prefix -> (callee, calls, outcomes it may end with)
MIX: dict[str, tuple[Callee, int, set[str]]] = {
    "1": (Callee(200, ring_ms=300, talk_ms=1500), 30, {oc.CONNECTED, oc.ABANDONED}),
    "2": (Callee(486, ring_ms=100), 15, {oc.BUSY}),
    "3": (Callee(404), 15, {oc.VACANT}),
    "4": (Callee(None), 15, {oc.NO_ANSWER}),  # rings until outdial's 2 s ring timer
    "5": (Callee(480, ring_ms=200), 10, {oc.POWERED_OFF}),
    "6": (Callee(None), 15, {oc.CANCELLED}),  # the runner hangs up while it rings
}


def test_one_ended_per_call_in_time_order_agents_never_doubled(rig: Rig, make_adapter: Any) -> None:
    callees = {prefix: rig.callee(c, name=f"mix{prefix}") for prefix, (c, _, _) in MIX.items()}
    agent_phone = rig.callee(Callee(200), name="agents")
    kamailio = rig.kamailio({p: c.address for p, c in callees.items()})
    pool = AgentPool(wrapup_ms=300)
    pool.sync(
        [AgentLogin(f"ag{n}", (1,), f"sip:ag{n}@{agent_phone.address}", True, None) for n in range(AGENTS)], 0
    )
    adapter = make_adapter(
        route=f"sip:{{number}}@{kamailio.address}", trunk=f"sip:{kamailio.address}", pool=pool, max_lines=200
    )
    driver = Driver(adapter)
    expected: dict[str, set[str]] = {}
    for prefix, (_, count, outcomes) in MIX.items():
        for n in range(count):
            call_id = f"{prefix}-{n}"
            expected[call_id] = outcomes
            adapter.place_call(
                request(call_id, f"{prefix}{n:04d}", max_alerting_s=2 if prefix == "4" else 20)
            )
    assert len(expected) == 100 and adapter.health().calls_in_progress == 100
    cancel = [c for c in expected if c.startswith("6-")]
    deadline = time.monotonic() + 10
    while cancel and time.monotonic() < deadline:  # hang up each once it rings
        for event in driver.poll():
            if event.kind == "ringing" and event.call_id in cancel:
                adapter.hangup(event.call_id)
                cancel.remove(event.call_id)
        counts = adapter.agent_counts(1)
        assert counts.logged_in + counts.offline == AGENTS  # never lost, never doubled
        time.sleep(0.02)
    assert not cancel
    driver.until_ended(list(expected), timeout_s=60)
    driver.poll()

    polled = [e.at_ms for e in driver.events]
    assert polled == sorted(polled)  # each poll hands events in time order, and polls follow each other
    by_call = defaultdict(list)
    for event in driver.events:
        by_call[event.call_id].append(event)
    assert set(by_call) == set(expected)
    outcomes: dict[str, int] = defaultdict(int)
    talking: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for call_id, events in by_call.items():
        kinds = [e.kind for e in events]
        assert kinds.count("ended") == 1 and kinds[-1] == "ended", (call_id, kinds)
        ended = events[-1]
        assert ended.outcome in expected[call_id], (call_id, ended.outcome)
        outcomes[ended.outcome or ""] += 1
        if ended.outcome == oc.CONNECTED:
            connected = next(e for e in events if e.kind == "connected")
            assert connected.agent_id == ended.agent_id and ended.talk_ms > 0
            talking[ended.agent_id or ""].append((connected.at_ms, ended.at_ms))
    assert outcomes[oc.CONNECTED] >= AGENTS  # the agents took calls (30 persons, 10 agents, 1.5 s talks)
    for agent_id, spans in talking.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end, f"{agent_id} in two calls at once"
    time.sleep(0.5)  # the last wrap-ups end
    counts = adapter.agent_counts(1)
    assert (counts.idle, counts.reserved, counts.talking) == (AGENTS, 0, 0)
    assert adapter.health().calls_in_progress == 0
