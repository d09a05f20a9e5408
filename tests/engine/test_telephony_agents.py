"""Agents and skill-queue routing in the simulator: state transitions, the 2 s abandonment rule (exact in
virtual time), longest-idle routing, FIFO queue, absences, preview reservations, IVR routes.
Timings from exact(): answer 10 s, talk 100 s, wrap-up 15 s, abandon after 2 s."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_telephony_support import T0, by_kind, collect, exact, make, only, place_at, request

from outdial.engine.telephony import Absence, AgentCounts, SimulatorConfig


def _state_at(sim, clock, at_ms):
    collect(sim, clock, at_ms)
    view = sim.agents(1)[0]
    return view.state, view.since_ms - T0


def test_one_agent_goes_idle_talking_wrapup_idle_through_a_call():
    sim, clock = make(exact())
    assert sim.agent_counts(1) == AgentCounts(idle=1)
    sim.place_call(request(1))
    assert _state_at(sim, clock, T0 + 9_999) == ("idle", 0)
    assert _state_at(sim, clock, T0 + 10_000) == ("talking", 10_000)
    assert sim.agent_counts(1) == AgentCounts(talking=1)
    assert _state_at(sim, clock, T0 + 110_000) == ("wrapup", 110_000)
    assert sim.agent_counts(1) == AgentCounts(wrapup=1)
    assert _state_at(sim, clock, T0 + 124_999) == ("wrapup", 110_000)
    assert _state_at(sim, clock, T0 + 125_000) == ("idle", 125_000)


def test_a_person_with_no_free_agent_is_abandoned_exactly_two_seconds_after_answering():
    sim, clock = make(exact())
    sim.place_call(request(1))  # the only agent takes it at 10 s
    events = place_at(sim, clock, T0 + 1_000, request(2))  # answered at 11 s
    events += collect(sim, clock, T0 + 12_999)
    assert sim.agent_counts(1).waiting == 1
    events += collect(sim, clock, T0 + 300_000)
    got = by_kind(events, "call-2")
    assert [k for k in got] == ["ringing", "answered", "ended"]  # never connected
    ended = got["ended"]
    assert ended.at_ms == T0 + 13_000
    assert (ended.outcome, ended.result_type, ended.fail_code) == ("abandoned", 9, "01046")
    assert ended.abandoned and ended.answered and ended.answered_by == "person"
    assert (ended.wait_ms, ended.agent_id, ended.talk_ms) == (2_000, None, 0)
    assert sim.agent_counts(1).waiting == 0


@pytest.mark.parametrize(("placed_ms", "connected"), [(113_000, True), (112_999, False)])
def test_an_agent_freed_exactly_at_the_two_second_mark_still_takes_the_call(placed_ms, connected):
    # the agent's first call ends at 110 s, wrap-up to 125 s; the second call is answered at placed + 10 s
    sim, clock = make(exact())
    sim.place_call(request(1))
    events = place_at(sim, clock, T0 + placed_ms, request(2))
    events += collect(sim, clock, T0 + 400_000)
    got = by_kind(events, "call-2")
    if connected:
        assert got["connected"].at_ms == T0 + 125_000 and got["connected"].agent_id == "1-1"
        assert got["connected"].wait_ms == 2_000
        assert got["ended"].outcome == "connected" and got["ended"].wait_ms == 2_000
    else:
        assert "connected" not in got
        assert got["ended"].at_ms == T0 + placed_ms + 12_000 == T0 + 124_999
        assert got["ended"].abandoned


def test_the_longest_idle_agent_gets_the_next_call():
    sim, clock = make(exact(queues={1: 3}))
    events = []
    sim.place_call(request(1))  # 1-1 at 10 s, free at 125 s
    events += place_at(sim, clock, T0 + 1_000, request(2))  # 1-2 at 11 s, free at 126 s
    # at 125.5 s: 1-3 idle since the start, 1-1 since 125 s -> 1-3 first, then 1-1
    events += place_at(sim, clock, T0 + 115_500, request(3))
    events += place_at(sim, clock, T0 + 115_500, request(4))
    events += collect(sim, clock, T0 + 600_000)
    agent_of = {e.call_id: e.agent_id for e in events if e.kind == "connected"}
    assert agent_of == {"call-1": "1-1", "call-2": "1-2", "call-3": "1-3", "call-4": "1-1"}


def test_waiting_persons_are_served_first_come_first_served():
    sim, clock = make(exact(abandon_after_s=1_000.0))
    events = []
    sim.place_call(request(1))
    events += place_at(sim, clock, T0 + 2_000, request(3))  # answered 12 s
    events += place_at(sim, clock, T0 + 3_000, request(2))  # answered 13 s
    events += collect(sim, clock, T0 + 13_000)
    assert sim.agent_counts(1).waiting == 2
    events += collect(sim, clock, T0 + 125_000)
    assert sim.agent_counts(1).waiting == 1
    events += collect(sim, clock, T0 + 1_000_000)
    connected = {e.call_id: (e.at_ms - T0, e.wait_ms) for e in events if e.kind == "connected"}
    # call-3 at 125 s (waited 113 s); call-2 after call-3's 100 s talk and 15 s wrap-up: 240 s (waited 227 s)
    assert connected == {"call-1": (10_000, 0), "call-3": (125_000, 113_000), "call-2": (240_000, 227_000)}


def test_absent_agents_never_get_calls_and_come_back_after_the_absence():
    config = exact(
        queues={1: 10},
        talk_mean_s=20.0,
        absences=(Absence(skill_id=1, share=0.3, start_s=100.0, duration_s=3_600.0),),
    )
    sim, clock = make(config)
    collect(sim, clock, T0 + 100_000)
    assert sim.agent_counts(1) == AgentCounts(idle=7, offline=3)
    offline = {v.agent_id for v in sim.agents(1) if v.state == "offline"}
    assert offline == {"1-8", "1-9", "1-10"}
    events = []
    for i in range(600):  # one person every 2 s: more than 7 agents can take, so some are abandoned
        events += place_at(sim, clock, T0 + 200_000 + i * 2_000, request(i))
    events += collect(sim, clock, T0 + 3_700_000 - 1)
    used = {e.agent_id for e in events if e.kind == "connected"}
    assert used == {f"1-{n}" for n in range(1, 8)}
    assert any(e.abandoned for e in events if e.kind == "ended")
    collect(sim, clock, T0 + 3_700_000)
    assert sim.agent_counts(1) == AgentCounts(idle=10)
    for i in range(10):
        sim.place_call(request(1000 + i))
    after = collect(sim, clock, T0 + 4_000_000)
    assert {e.agent_id for e in after if e.kind == "connected"} == {f"1-{n}" for n in range(1, 11)}


def test_an_agent_in_a_call_leaves_after_its_wrapup_and_returns_when_the_absence_ends():
    sim, clock = make(exact(absences=(Absence(1, 1.0, 50.0, 100.0),)))  # away from 50 s to 150 s
    sim.place_call(request(1))
    assert _state_at(sim, clock, T0 + 60_000) == ("talking", 10_000)
    assert _state_at(sim, clock, T0 + 125_000) == ("offline", 125_000)
    assert sim.reserve_agent(1) is None
    assert _state_at(sim, clock, T0 + 150_000) == ("idle", 150_000)


def test_an_agent_still_busy_when_the_absence_ends_does_not_leave_at_all():
    sim, clock = make(exact(absences=(Absence(1, 1.0, 50.0, 60.0),)))  # away from 50 s to 110 s
    sim.place_call(request(1))  # wrap-up ends at 125 s
    assert _state_at(sim, clock, T0 + 125_000) == ("idle", 125_000)


def test_preview_reserves_the_longest_idle_agent_who_then_takes_the_answered_call():
    sim, clock = make(exact(queues={1: 2}))
    assert sim.reserve_agent(1) == "1-1"
    assert sim.agent_counts(1) == AgentCounts(idle=1, reserved=1)
    assert sim.reserve_agent(1) == "1-2"
    assert sim.reserve_agent(1) is None
    sim.release_agent("1-2")
    assert sim.agent_counts(1) == AgentCounts(idle=1, reserved=1)
    sim.place_call(request(1, agent_id="1-1"))
    events = collect(sim, clock, T0 + 300_000)
    got = by_kind(events, "call-1")
    assert got["connected"].agent_id == "1-1" and got["connected"].at_ms == T0 + 10_000
    assert got["ended"].agent_id == "1-1" and got["ended"].success
    assert sim.agents(1)[0].state == "idle" and sim.agents(1)[0].since_ms == T0 + 125_000


def test_a_reserved_agent_is_not_given_to_queued_calls_and_is_freed_when_its_call_fails():
    sim, clock = make(exact(mix=only("busy")))
    agent = sim.reserve_agent(1)
    sim.place_call(request(1, agent_id=agent))  # busy: refused at 2 s
    collect(sim, clock, T0 + 1_999)
    assert sim.agent_counts(1) == AgentCounts(reserved=1)
    collect(sim, clock, T0 + 2_000)
    view = sim.agents(1)[0]
    assert (view.state, view.since_ms) == ("idle", T0 + 2_000)  # no wrap-up after a call that never connected


def test_a_predictive_call_cannot_take_an_agent_reserved_for_a_preview():
    sim, clock = make(exact())
    agent = sim.reserve_agent(1)
    sim.place_call(request(1))  # answered at 10 s: the only agent is reserved
    events = place_at(sim, clock, T0 + 5_000, request(2, agent_id=agent))  # answered at 15 s
    events += collect(sim, clock, T0 + 300_000)
    assert by_kind(events, "call-1")["ended"].abandoned
    assert by_kind(events, "call-2")["connected"].agent_id == "1-1"


def test_placing_a_call_for_an_agent_that_is_not_reserved_is_an_error():
    sim, _ = make(exact(queues={1: 2}))
    with pytest.raises(ValueError):
        sim.place_call(request(1, agent_id="1-1"))  # idle, not reserved
    with pytest.raises(ValueError):
        sim.place_call(request(1, agent_id="9-9"))


def test_ivr_calls_talk_to_the_flow_and_leave_agents_alone():
    sim, clock = make(exact(ivr_talk_mean_s=50.0, ivr_talk_cv=0.0))
    sim.place_call(request(1, skill_id=None, ivr_flow="flow-9"))
    events = collect(sim, clock, T0 + 300_000)
    assert [(e.kind, e.at_ms - T0) for e in events] == [
        ("ringing", 0),
        ("answered", 10_000),
        ("connected", 10_000),
        ("ended", 60_000),
    ]
    assert events[2].ivr_flow == "flow-9" and events[2].agent_id is None
    assert events[-1].ivr_flow == "flow-9" and events[-1].success and events[-1].talk_ms == 50_000
    assert sim.agent_counts(1) == AgentCounts(idle=1)
    assert sim.stats.agent_talk_ms == 0


def test_a_queue_the_simulator_does_not_know_has_no_agents_so_persons_are_abandoned():
    sim, clock = make(exact())
    assert sim.agent_counts(99) == AgentCounts() and sim.agents(99) == [] and sim.reserve_agent(99) is None
    sim.place_call(request(1, skill_id=99))
    collect(sim, clock, T0 + 11_000)
    assert sim.agent_counts(99).waiting == 1
    ended = by_kind(collect(sim, clock, T0 + 60_000), "call-1")["ended"]
    assert ended.abandoned and ended.at_ms == T0 + 12_000


# --- the port's invariants under random use --------------------------------------------------------------

operations = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=20_000),  # ms to wait before the operation
        st.sampled_from(["place", "place", "place", "preview", "hangup", "release"]),
        st.integers(min_value=0, max_value=30),  # which number / call
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(operations, st.integers(min_value=0, max_value=5))
def test_every_call_ends_once_last_in_time_order_and_agents_are_conserved(ops, seed):
    config = SimulatorConfig.pacing_bench(agents=3, seed=seed, max_lines=8, wrapup_s=5.0, talk_mean_s=30.0)
    sim, clock = make(config)
    events, placed, n = [], set(), 0
    for wait, op, k in ops:
        events += collect(sim, clock, clock.now_ms() + wait)
        if op == "place":
            n += 1
            sim.place_call(request(n, max_alerting_s=15, attempt=None if k % 2 else k))
            placed.add(f"call-{n}")
        elif op == "preview":
            agent = sim.reserve_agent(1)
            if agent is not None:
                n += 1
                sim.place_call(request(n, max_alerting_s=15, agent_id=agent))
                placed.add(f"call-{n}")
        elif op == "hangup":
            sim.hangup(f"call-{k}")
        else:
            sim.release_agent(f"1-{k % 4}")
        counts = sim.agent_counts(1)
        assert counts.logged_in + counts.offline == 3
    events += collect(sim, clock, clock.now_ms() + 24 * 3_600_000)
    assert sim.next_event_at() is None and sim.lines_in_use() == 0
    assert [e.at_ms for e in events] == sorted(e.at_ms for e in events)
    ended = [e.call_id for e in events if e.kind == "ended"]
    assert sorted(ended) == sorted(placed)  # each placed call ends exactly once
    last = {}
    for e in events:
        last[e.call_id] = e.kind
    assert set(last.values()) <= {"ended"}
    busy: dict[str, str] = {}  # an agent is in at most one call at a time
    for e in events:
        if e.kind == "connected" and e.agent_id:
            assert e.agent_id not in busy
            busy[e.agent_id] = e.call_id
        elif e.kind == "ended" and e.agent_id:
            assert busy.pop(e.agent_id) == e.call_id
    assert sim.agent_counts(1) == AgentCounts(idle=3)
