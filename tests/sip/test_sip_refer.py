"""OUTDIAL_SIP_TRANSFER=refer: a person is handed to the agent phone (or IVR URI) by a blind transfer
instead of a bridge. The customer is a real baresip-core phone, which follows REFER; the agent a real
auto-answer phone. A callee that refuses REFER (SIPp answering it 405 / 603) is bridged instead."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from phones import (  # noqa: F401  (fixtures)
    AgentPhones,
    agent_phones,
    read_pcm,
    running_phone,
    tone_share,
    tone_wav,
)
from rig import Callee, Rig
from sip_fixtures import NEEDS_SIP, make_adapter, rig, sip_runtime  # noqa: F401  (fixtures)
from support import Driver, pool_with, request

from outdial.engine.telephony import outcomes as oc
from outdial.engine.telephony.agentpool import AgentLogin

pytestmark = NEEDS_SIP

CUSTOMER_HZ = 300.0


def test_refer_hands_the_customer_phone_to_the_agent_phone(
    make_adapter: Any, agent_phones: AgentPhones, tmp_path: Path
) -> None:
    customer_tone = tone_wav(tmp_path / "customer.wav", CUSTOMER_HZ, on_s=4.0, off_s=0.1)
    agent = agent_phones.agents[0]
    pool = pool_with(("a1", agent.uri))
    with running_phone(tmp_path, "customer", plays=customer_tone) as customer:
        adapter = make_adapter(
            route=f"sip:{{number}}@127.0.0.1:{customer.sip_port}",
            pool=pool,
            transfer="refer",
            refer_talk_s=60,
        )
        driver = Driver(adapter)
        adapter.place_call(request("c1", "customer"))
        ended = driver.until_ended(["c1"], timeout_s=40)["c1"]
        events = driver.of("c1")
        assert [e.kind for e in events] == ["ringing", "answered", "connected", "ended"]
        assert events[2].agent_id == "a1"
        assert (ended.outcome, ended.fail_code, ended.agent_id) == (oc.CONNECTED, "00000", "a1")
        assert ended.talk_ms == 0 and not ended.record_path  # unknown once transferred
        assert "c1" not in adapter.relay_stats  # outdial relayed nothing: it left the call
        # the agent is taken as talking for OUTDIAL_SIP_REFER_TALK_S...
        assert {v.agent_id: v.state for v in adapter.agents(1)} == {"a1": "talking"}
        # ...and the agent phone really has the customer: the call comes from the customer phone...
        (established,) = agent.wait_event("CALL_ESTABLISHED", timeout_s=10)
        assert f"customer@127.0.0.1:{customer.sip_port}" in established.get("peeruri", "")
        # ...and carries its voice (the customer hangs up when its 4 s tone ends)
        agent.wait_event("CALL_CLOSED", timeout_s=20)
        (heard_by_agent,) = agent.received_audio()
        assert tone_share(read_pcm(heard_by_agent), CUSTOMER_HZ) > 0.5
        # the agent presses "wrap-up done": free at once
        done = adapter.clock.now_ms()
        adapter.sync_agents([AgentLogin("a1", (1,), agent.uri, True, done)])
        assert {v.agent_id: v.state for v in adapter.agents(1)} == {"a1": "idle"}


@pytest.mark.parametrize("refusal", [405, 603])
def test_a_callee_that_refuses_refer_is_bridged_and_the_refusal_logged_once(
    rig: Rig, make_adapter: Any, caplog: pytest.LogCaptureFixture, refusal: int
) -> None:
    refuser = rig.callee(Callee(200, ring_ms=100, talk_ms=2500, refer_reply=refusal), name="refuser")
    a1 = rig.callee(Callee(200), name="a1")
    a2 = rig.callee(Callee(200), name="a2")
    pool = pool_with(("a1", f"sip:a1@{a1.address}"), ("a2", f"sip:a2@{a2.address}"))
    adapter = make_adapter(route=f"sip:{{number}}@{refuser.address}", pool=pool, transfer="refer")
    driver = Driver(adapter)
    with caplog.at_level(logging.WARNING, logger="outdial.sip"):
        adapter.place_call(request("c1", "100"))
        adapter.place_call(request("c2", "100"))
        ended = driver.until_ended(["c1", "c2"], timeout_s=40)
    for call_id in ("c1", "c2"):
        assert [e.kind for e in driver.of(call_id)] == ["ringing", "answered", "connected", "ended"]
        assert ended[call_id].outcome == oc.CONNECTED
        # bridged: the talk time is known (the callee talks 2.5 s after refusing), audio went both ways
        assert 1500 < ended[call_id].talk_ms < 4000
        relayed = adapter.relay_stats[call_id]
        assert relayed.a_to_b_bytes > 8000 and relayed.b_to_a_bytes > 8000
    assert {ended["c1"].agent_id, ended["c2"].agent_id} == {"a1", "a2"}
    refusals = [r for r in caplog.records if "REFER" in r.getMessage()]
    assert len(refusals) == 1 and str(refusal) in refusals[0].getMessage()
    # bridged agents wrap up as after any bridged call (wrap-up 0.5 s), not the assumed talk time
    assert {v.state for v in adapter.agents(1)} <= {"wrapup", "idle"}


def test_refer_to_the_ivr_flow_uri(make_adapter: Any, tmp_path: Path) -> None:
    customer_tone = tone_wav(tmp_path / "customer.wav", CUSTOMER_HZ, on_s=3.0, off_s=0.1)
    with (
        running_phone(tmp_path, "customer", plays=customer_tone) as customer,
        running_phone(tmp_path, "ivr", plays=None) as ivr,
    ):
        adapter = make_adapter(
            route=f"sip:{{number}}@127.0.0.1:{customer.sip_port}",
            ivr_flows={"welcome": ivr.uri},
            transfer="refer",
        )
        driver = Driver(adapter)
        adapter.place_call(request("i1", "customer", ivr_flow="welcome"))
        ended = driver.until_ended(["i1"], timeout_s=40)["i1"]
        assert (ended.outcome, ended.ivr_flow, ended.agent_id, ended.talk_ms) == (
            oc.CONNECTED,
            "welcome",
            None,
            0,
        )
        (established,) = ivr.wait_event("CALL_ESTABLISHED", timeout_s=10)
        assert f"customer@127.0.0.1:{customer.sip_port}" in established.get("peeruri", "")


def test_a_refer_accepted_but_never_reported_times_out_and_is_bridged(rig: Rig, make_adapter: Any) -> None:
    """202 to the REFER, then no NOTIFY: after OUTDIAL_SIP_AGENT_ANSWER_S + 5 s the call is bridged."""
    silent = rig.callee(Callee(200, ring_ms=100, talk_ms=9000, refer_reply=202), name="silent")
    agent = rig.callee(Callee(200), name="agent")
    adapter = make_adapter(
        route=f"sip:{{number}}@{silent.address}",
        pool=pool_with(("a1", f"sip:a1@{agent.address}")),
        transfer="refer",
        agent_answer_s=1.0,
    )
    driver = Driver(adapter)
    adapter.place_call(request("c1", "100"))
    ended = driver.until_ended(["c1"], timeout_s=40)["c1"]
    assert (ended.outcome, ended.agent_id) == (oc.CONNECTED, "a1")
    assert 1000 < ended.talk_ms < 4000  # bridged after the 6 s wait: the rest of the callee's 9 s
    assert adapter.relay_stats["c1"].b_to_a_bytes > 8000


def test_a_customer_who_hangs_up_during_the_transfer_is_abandoned(rig: Rig, make_adapter: Any) -> None:
    leaver = rig.callee(Callee(200, ring_ms=100, talk_ms=1000, refer_reply=202), name="leaver")
    agent = rig.callee(Callee(200), name="agent")
    adapter = make_adapter(
        route=f"sip:{{number}}@{leaver.address}",
        pool=pool_with(("a1", f"sip:a1@{agent.address}")),
        transfer="refer",
    )
    driver = Driver(adapter)
    adapter.place_call(request("c1", "100"))
    ended = driver.until_ended(["c1"], timeout_s=40)["c1"]
    assert (ended.outcome, ended.abandoned, ended.agent_id) == (oc.ABANDONED, True, None)
    assert [e.kind for e in driver.of("c1")] == ["ringing", "answered", "ended"]
    assert {v.agent_id: v.state for v in adapter.agents(1)} == {"a1": "idle"}  # freed, no wrap-up
