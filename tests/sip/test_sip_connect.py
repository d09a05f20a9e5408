"""Answered calls over SIP: detection (person / machine), the person bridged to an agent phone of the
skill queue (or the IVR flow's URI), outdial relaying the audio; agents that do not answer; previewed
calls. Callees and agent phones are SIPp processes (an agent phone answers at once and echoes audio)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from phones import (  # noqa: F401  (fixtures)
    AGENT_TONES_HZ,
    AgentPhones,
    AudioFiles,
    agent_phones,
    audio_files,
    read_pcm,
    running_phone,
    tone_share,
    tone_wav,
)
from rig import Callee, Rig
from sip_fixtures import NEEDS_SIP, make_adapter, rig, sip_runtime  # noqa: F401  (fixtures)
from support import Driver, pool_with, request

from outdial.engine.telephony import outcomes as oc

pytestmark = NEEDS_SIP


def mulaw(wav: Path) -> str:
    """SIPp streams 8 kHz mu-law WAV files."""
    out = wav.with_suffix(".ulaw.wav")
    if not out.exists():
        subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", "-e", "mu-law", str(out)], check=True)
    return str(out)


def test_a_person_is_bridged_to_the_longest_idle_agent(
    rig: Rig,
    make_adapter: Any,
    audio_files: AudioFiles,  # noqa: F811
) -> None:
    person = rig.callee(Callee(200, ring_ms=200, talk_ms=4000, play=mulaw(audio_files.hello)), name="person")
    agent = rig.callee(Callee(200), name="agent")
    idle_agent = rig.callee(Callee(200), name="agent2")
    pool = pool_with(("a1", f"sip:a1@{agent.address}"), ("a2", f"sip:a2@{idle_agent.address}"))
    pool.take_longest_idle(1, 1)  # a1 idle longer... then both: make a2 the longest idle
    pool.release("a1", 2)
    adapter = make_adapter(route=f"sip:{{number}}@{person.address}", amd=True, pool=pool)
    driver = Driver(adapter)
    adapter.place_call(request("c1", "100"))
    ended = driver.until_ended(["c1"], timeout_s=30)["c1"]
    events = driver.of("c1")
    assert [e.kind for e in events] == ["ringing", "answered", "connected", "ended"]
    answered, connected = events[1], events[2]
    assert answered.answered_by == "person"
    assert connected.agent_id == "a2"
    assert ended.outcome == oc.CONNECTED and ended.fail_code == "00000" and ended.agent_id == "a2"
    # the callee talks 4 s after its answer: detection and the connect took some of it
    assert 1000 < ended.talk_ms < 4000
    assert ended.wait_ms == connected.wait_ms == connected.at_ms - answered.at_ms  # from the decision
    assert [e.at_ms for e in events] == sorted(e.at_ms for e in events)
    # audio flowed both ways: the callee's "Hello?" to the agent, the agent phone's echo back
    relayed = adapter.relay_stats["c1"]
    assert relayed.a_to_b_bytes > 8000 and relayed.b_to_a_bytes > 8000
    # the agent is in wrap-up, then idle again
    states = {v.agent_id: v.state for v in adapter.agents(1)}
    assert states["a2"] in ("wrapup", "idle") and states["a1"] == "idle"


def test_a_voicemail_is_a_machine_and_is_hung_up(
    rig: Rig,
    make_adapter: Any,
    audio_files: AudioFiles,  # noqa: F811
) -> None:
    machine = rig.callee(Callee(200, ring_ms=100, play=mulaw(audio_files.voicemail)), name="voicemail")
    agent = rig.callee(Callee(200), name="agent")
    adapter = make_adapter(
        route=f"sip:{{number}}@{machine.address}", amd=True, pool=pool_with(("a1", f"sip:a1@{agent.address}"))
    )
    driver = Driver(adapter)
    adapter.place_call(request("m1", "100"))
    ended = driver.until_ended(["m1"], timeout_s=30)["m1"]
    assert [e.kind for e in driver.of("m1")] == ["ringing", "answered", "ended"]
    assert driver.of("m1")[1].answered_by == "machine"
    assert (ended.outcome, ended.fail_code, ended.result_type) == (oc.MACHINE, "00531", 0)
    assert ended.agent_id is None and not ended.abandoned
    assert {v.agent_id: v.state for v in adapter.agents(1)} == {"a1": "idle"}  # never disturbed


def test_an_agent_phone_that_does_not_answer_makes_the_agent_not_ready(rig: Rig, make_adapter: Any) -> None:
    person = rig.callee(Callee(200, ring_ms=100, talk_ms=2500), name="person")
    deaf = rig.callee(Callee(None), name="deaf")  # rings until cancelled
    agent = rig.callee(Callee(200), name="agent")
    pool = pool_with(("deaf", f"sip:deaf@{deaf.address}"), ("good", f"sip:good@{agent.address}"))
    adapter = make_adapter(route=f"sip:{{number}}@{person.address}", pool=pool, agent_answer_s=1.0)
    driver = Driver(adapter)
    adapter.place_call(request("c1", "100"))
    ended = driver.until_ended(["c1"], timeout_s=30)["c1"]
    assert ended.outcome == oc.CONNECTED and ended.agent_id == "good"
    assert pool.drain_changes() == [("deaf", "noAnswer")]
    assert {v.agent_id: v.state for v in adapter.agents(1)}["deaf"] == "offline"


def test_hangup_while_talking_is_a_success_with_the_talk_time(rig: Rig, make_adapter: Any) -> None:
    person = rig.callee(Callee(200, ring_ms=100), name="person")
    agent = rig.callee(Callee(200), name="agent")
    adapter = make_adapter(
        route=f"sip:{{number}}@{person.address}", pool=pool_with(("a1", f"sip:a1@{agent.address}"))
    )
    driver = Driver(adapter)
    adapter.place_call(request("c1", "100"))
    connected = driver.until("c1", "connected")
    assert adapter.agent_counts(1).talking == 1
    import time

    time.sleep(1.0)
    adapter.hangup("c1")
    ended = driver.until_ended(["c1"])["c1"]
    assert ended.outcome == oc.CONNECTED and ended.talk_ms >= 1000
    assert ended.at_ms - connected.at_ms == ended.talk_ms
    assert adapter.agent_counts(1).wrapup + adapter.agent_counts(1).idle == 1


def test_a_previewed_call_goes_to_its_reserved_agent(rig: Rig, make_adapter: Any) -> None:
    person = rig.callee(Callee(200, ring_ms=100, talk_ms=1500), name="person")
    a1 = rig.callee(Callee(200), name="a1")
    a2 = rig.callee(Callee(200), name="a2")
    adapter = make_adapter(
        route=f"sip:{{number}}@{person.address}",
        pool=pool_with(("a1", f"sip:a1@{a1.address}"), ("a2", f"sip:a2@{a2.address}")),
    )
    driver = Driver(adapter)
    reserved = adapter.reserve_agent(1)
    assert reserved is not None and adapter.agent_counts(1).reserved == 1
    with pytest.raises(ValueError):
        adapter.place_call(request("x", "100", agent_id="nobody"))
    adapter.place_call(request("p1", "100", agent_id=reserved))
    ended = driver.until_ended(["p1"], timeout_s=30)["p1"]
    assert ended.outcome == oc.CONNECTED and ended.agent_id == reserved


def test_a_reserved_agent_is_free_again_when_its_call_fails(rig: Rig, make_adapter: Any) -> None:
    busy = rig.callee(Callee(486), name="busy")
    a1 = rig.callee(Callee(200), name="a1")
    adapter = make_adapter(
        route=f"sip:{{number}}@{busy.address}", pool=pool_with(("a1", f"sip:a1@{a1.address}"))
    )
    driver = Driver(adapter)
    agent = adapter.reserve_agent(1)
    adapter.place_call(request("p1", "100", agent_id=agent))
    assert driver.until_ended(["p1"])["p1"].outcome == oc.BUSY
    assert adapter.agent_counts(1).idle == 1  # no wrap-up: the agent never talked


def test_ivr_flow_is_dialed_and_bridged(rig: Rig, make_adapter: Any) -> None:
    person = rig.callee(Callee(200, ring_ms=100, talk_ms=1500), name="person")
    ivr = rig.callee(Callee(200), name="ivr")
    adapter = make_adapter(
        route=f"sip:{{number}}@{person.address}", ivr_flows={"welcome": f"sip:ivr@{ivr.address}"}
    )
    driver = Driver(adapter)
    adapter.place_call(request("i1", "100", ivr_flow="welcome"))
    adapter.place_call(request("i2", "100", ivr_flow="unknown-flow"))
    ended = driver.until_ended(["i1", "i2"], timeout_s=30)
    assert (
        ended["i1"].outcome == oc.CONNECTED
        and ended["i1"].ivr_flow == "welcome"
        and ended["i1"].talk_ms > 500
    )
    assert [e.kind for e in driver.of("i1")] == ["ringing", "answered", "connected", "ended"]
    assert ended["i2"].outcome == oc.ABANDONED  # no URI for that flow: nobody to connect the person to


def test_a_recorded_call_writes_both_legs_and_names_the_file(
    rig: Rig, make_adapter: Any, audio_files: AudioFiles, tmp_path: Path
) -> None:
    import wave

    person = rig.callee(Callee(200, ring_ms=100, talk_ms=2500, play=mulaw(audio_files.hello)), name="person")
    agent = rig.callee(Callee(200), name="agent")
    adapter = make_adapter(
        route=f"sip:{{number}}@{person.address}",
        record=True,
        record_dir=tmp_path / "rec",
        pool=pool_with(("a1", f"sip:a1@{agent.address}")),
    )
    driver = Driver(adapter)
    adapter.place_call(request("r1", "100"))
    ended = driver.until_ended(["r1"], timeout_s=30)["r1"]
    assert ended.outcome == oc.CONNECTED
    assert ended.record_path == "1-r1.wav"
    with wave.open(str(tmp_path / "rec" / ended.record_path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
        seconds = w.getnframes() / 8000
    assert 1.0 < seconds <= ended.talk_ms / 1000 + 0.5


def test_baresip_agent_phones_get_the_call_and_audio_flows_both_ways(
    make_adapter: Any, agent_phones: AgentPhones, tmp_path: Path, tmp_path_factory: Any
) -> None:
    """Real softphones (baresip-core) as agents: the first in line never answers (set not ready), the next
    answers; the customer (a baresip phone saying a 300 Hz tone for 4 s, then hanging up) hears the agent's
    tone and the agent hears the customer's."""
    customer_tone = tone_wav(tmp_path / "customer.wav", 300.0, on_s=4.0, off_s=0.1)
    agent = agent_phones.agents[0]
    pool = pool_with(("deaf", agent_phones.never_answers.uri), ("a1", agent.uri))
    with running_phone(tmp_path, "customer", plays=customer_tone) as customer:
        adapter = make_adapter(
            route=f"sip:{{number}}@127.0.0.1:{customer.sip_port}", pool=pool, agent_answer_s=1.5
        )
        driver = Driver(adapter)
        adapter.place_call(request("c1", "customer"))
        ended = driver.until_ended(["c1"], timeout_s=40)["c1"]
        assert ended.outcome == oc.CONNECTED and ended.agent_id == "a1"
        assert pool.drain_changes() == [("deaf", "noAnswer")]
        agent.wait_event("CALL_CLOSED")
        customer.wait_event("CALL_CLOSED")
        (heard_by_agent,) = agent.received_audio()
        (heard_by_customer,) = customer.received_audio()
    assert tone_share(read_pcm(heard_by_agent), 300.0) > 0.5
    assert tone_share(read_pcm(heard_by_customer), AGENT_TONES_HZ[0]) > 0.5
    assert 2000 < ended.talk_ms < 4500  # the customer's 4 s, less the time to reach the second agent
