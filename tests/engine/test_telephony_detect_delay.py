"""The simulator's detection delay (detect_delay_s): who answered is known only that long after the answer
(the 200 OK), as with a real adapter's answering-machine detection. Expected instants are worked out from
the exact() config (answer 10 s, talk 100 s, wrap-up 15 s, machines hung up on 3 s after the answer) with
a delay of 1.8 s."""

from __future__ import annotations

import pytest
from test_telephony_support import T0, by_kind, collect, exact, make, only, place_at, request

from outdial.engine.telephony import SimulatorConfig

DELAY = {"detect_delay_s": 1.8}


def test_the_default_delay_is_what_a_real_adapter_takes():
    assert SimulatorConfig().detect_delay_s == 1.8
    with pytest.raises(ValueError, match="detect_delay_s"):
        SimulatorConfig(detect_delay_s=-1)


def test_a_person_is_known_and_connected_at_the_decision_and_the_answer_instant_stays_the_200_ok():
    sim, clock = make(exact(**DELAY))
    sim.place_call(request(1))
    events = collect(sim, clock, T0 + 200_000)
    assert [(e.kind, e.at_ms - T0) for e in events] == [
        ("ringing", 0),
        ("answered", 11_800),
        ("connected", 11_800),
        ("ended", 111_800),
    ]
    seen = by_kind(events, "call-1")
    assert seen["answered"].answered_by == "person"
    for kind in ("answered", "connected", "ended"):
        assert seen[kind].answer_at_ms == T0 + 10_000  # the 200 OK, not the decision
    assert seen["answered"].ring_ms == seen["ended"].ring_ms == 10_000
    assert (seen["connected"].wait_ms, seen["ended"].wait_ms, seen["ended"].talk_ms) == (0, 0, 100_000)


def test_the_abandonment_clock_starts_at_the_decision():
    sim, clock = make(exact(queues={1: 0}, **DELAY))
    sim.place_call(request(1))
    events = collect(sim, clock, T0 + 100_000)
    ended = by_kind(events, "call-1")["ended"]
    assert ended.outcome == "abandoned" and ended.abandoned
    assert ended.at_ms == T0 + 13_800  # answer 10 s + decision 1.8 s + patience 2 s
    assert (ended.answer_at_ms, ended.wait_ms) == (T0 + 10_000, 2_000)


def test_an_agent_freed_while_detection_runs_takes_the_person_at_the_decision():
    # the only agent talks from 11.8 s to 111.8 s, then wraps up until 126.8 s. The second person answers at
    # 125.5 s (placed at 115.5 s) and is known at 127.3 s: the agent, idle since 126.8 s, takes it then,
    # and the person waited for nobody
    sim, clock = make(exact(**DELAY))
    sim.place_call(request(1))
    place_at(sim, clock, T0 + 115_500, request(2))
    events = collect(sim, clock, T0 + 300_000)
    second = by_kind(events, "call-2")
    assert (second["answered"].at_ms, second["connected"].at_ms) == (T0 + 127_300, T0 + 127_300)
    assert (second["connected"].answer_at_ms, second["connected"].wait_ms) == (T0 + 125_500, 0)
    assert second["connected"].agent_id == "1-1"


@pytest.mark.parametrize(("detect_s", "end_s"), [(3.0, 13.0), (1.0, 11.8)])
def test_a_machine_is_known_at_the_decision_and_hung_up_on_detect_s_after_the_answer(detect_s, end_s):
    sim, clock = make(exact(mix=only("machine"), detect_s=detect_s, **DELAY))
    sim.place_call(request(1))
    events = collect(sim, clock, T0 + 100_000)
    assert [(e.kind, e.at_ms - T0) for e in events] == [
        ("ringing", 0),
        ("answered", 11_800),
        ("ended", round(end_s * 1000)),
    ]
    seen = by_kind(events, "call-1")
    assert seen["answered"].answered_by == "machine" and seen["ended"].outcome == "machine"
    assert seen["ended"].answer_at_ms == T0 + 10_000


@pytest.mark.parametrize(("who", "outcome"), [("person", "cancelled_queued"), ("machine", "machine")])
def test_a_hang_up_during_detection_ends_as_what_answered(who, outcome):
    sim, clock = make(exact(mix=only(who), **DELAY))
    sim.place_call(request(1))
    collect(sim, clock, T0 + 11_000)  # answered, not decided yet
    sim.hangup("call-1")
    events = collect(sim, clock, T0 + 100_000)
    assert [e.kind for e in events] == ["ended"]  # no `answered`: nobody knew who answered
    ended = events[0]
    assert (ended.outcome, ended.answered, ended.wait_ms, ended.at_ms) == (outcome, True, 0, T0 + 11_000)
    assert sim.agent_counts(1).idle == 1 and sim.lines_in_use() == 0


def test_no_delay_is_the_instant_decision_of_before():
    sim, clock = make(exact(detect_delay_s=0))
    sim.place_call(request(1))
    events = collect(sim, clock, T0 + 200_000)
    assert [(e.kind, e.at_ms - T0) for e in events][1:3] == [("answered", 10_000), ("connected", 10_000)]
