"""The simulator's callees and network: outcome codes, timings, ring timeout, determinism, common random
numbers, outcome shares, line limit, hang-ups. Expected instants are worked out from the exact() config
(answer 10 s, talk 100 s, wrap-up 15 s, refusals after 2 s, detection 3 s)."""

from __future__ import annotations

import math
from collections import Counter
from statistics import NormalDist

import pytest
from test_telephony_support import T0, by_kind, collect, exact, make, only, place_at, request

from outdial.engine.telephony import CallRequest, OutcomeMix, SimulatorConfig


def test_person_on_a_skill_queue_rings_answers_talks_and_ends_as_success():
    sim, clock = make(exact())
    sim.place_call(request(1))
    events = collect(sim, clock, T0 + 200_000)
    assert [(e.kind, e.at_ms - T0) for e in events] == [
        ("ringing", 0),
        ("answered", 10_000),
        ("connected", 10_000),
        ("ended", 110_000),
    ]
    ended = events[-1]
    assert ended.outcome == "connected"
    assert ended.result_type is None and ended.fail_code == "00000" and ended.success
    assert ended.answered and ended.answered_by == "person" and not ended.abandoned
    assert ended.agent_id == "1-1"
    assert (ended.answer_at_ms, ended.ring_ms, ended.wait_ms, ended.talk_ms) == (
        T0 + 10_000,
        10_000,
        0,
        100_000,
    )
    assert ended.talk_seconds == 100.0
    assert ended.record_path is None


# outcome -> (events before `ended`, instant of the end, result type, failCode), from the documented table
FAILURES = {
    "busy": (["failed"], 2_000, 1, "00537"),
    "vacant": (["failed"], 2_000, 4, "00538"),
    "powered_off": (["failed"], 2_000, 5, "00548"),
    "out_of_area": (["failed"], 2_000, 6, "00549"),
    "rejected": (["ringing", "failed"], 10_000, 3, "00604"),
    "no_answer": (["ringing", "failed"], 30_000, 2, "01040"),
    "machine": (["ringing", "answered"], 13_000, 0, "00531"),
    "fax": (["ringing", "answered"], 13_000, 7, "00531"),
}


@pytest.mark.parametrize("outcome", sorted(FAILURES))
def test_each_failing_outcome_ends_with_its_result_type_and_fail_code(outcome):
    kinds, end_ms, result_type, fail_code = FAILURES[outcome]
    sim, clock = make(exact(mix=only(outcome)))
    sim.place_call(request(1, max_alerting_s=30))
    events = collect(sim, clock, T0 + 200_000)
    assert [e.kind for e in events] == [*kinds, "ended"]
    ended = events[-1]
    assert ended.at_ms == T0 + end_ms
    assert (ended.outcome, ended.result_type, ended.fail_code) == (outcome, result_type, fail_code)
    assert not ended.success and not ended.abandoned and ended.agent_id is None
    answered = outcome in ("machine", "fax")
    assert ended.answered is answered
    assert ended.answered_by == (outcome if answered else None)
    assert ended.ring_ms == (10_000 if answered else end_ms)
    assert sim.agent_counts(1).idle == 1  # no agent was ever involved


def test_ring_timeout_turns_a_late_answer_into_no_answer_at_max_alerting_time():
    sim, clock = make(exact(answer_mean_s=30.0))
    sim.place_call(request(1, max_alerting_s=20))
    events = collect(sim, clock, T0 + 100_000)
    assert [(e.kind, e.at_ms - T0) for e in events] == [("ringing", 0), ("failed", 20_000), ("ended", 20_000)]
    assert (events[-1].outcome, events[-1].result_type, events[-1].fail_code) == ("no_answer", 2, "01040")
    assert not events[-1].answered


@pytest.mark.parametrize(("answer_s", "answered_at"), [(20.0, None), (19.999, 19_999)])
def test_an_answer_must_come_before_the_ring_timeout(answer_s, answered_at):
    sim, clock = make(exact(answer_mean_s=answer_s))
    sim.place_call(request(1, max_alerting_s=20))
    got = by_kind(collect(sim, clock, T0 + 200_000), "call-1")
    if answered_at is None:
        assert "answered" not in got and got["ended"].at_ms == T0 + 20_000
    else:
        assert got["answered"].at_ms == T0 + answered_at


def test_random_answer_times_never_exceed_the_ring_timeout():
    sim, clock = make(SimulatorConfig.pacing_bench(agents=500, seed=3))
    events = []
    for n in range(3000):
        events += place_at(sim, clock, T0 + n * 20, request(n, max_alerting_s=15))
    events += collect(sim, clock, T0 + 3_600_000)
    answered = [e for e in events if e.kind == "answered"]
    no_answer = [e for e in events if e.kind == "ended" and e.outcome == "no_answer"]
    assert answered and no_answer
    assert max(e.ring_ms for e in answered) < 15_000
    assert {e.ring_ms for e in no_answer} == {15_000}
    # persons and machines (0.40 together) that would answer at 15 s or later are no answer too:
    # lognormal mean 10 sd 5 -> sigma^2 = ln(1.25), mu = ln(10) - sigma^2 / 2; P(T >= 15) is about 0.137
    sigma = math.sqrt(math.log(1.25))
    late = 1 - NormalDist(math.log(10) - sigma**2 / 2, sigma).cdf(math.log(15))
    expected = 0.40 + 0.40 * late
    assert abs(len(no_answer) / 3000 - expected) < 4.5 * math.sqrt(expected * (1 - expected) / 3000)


def test_poll_returns_only_what_is_due_and_next_event_at_is_exact():
    sim, clock = make(exact())
    sim.place_call(request(1))
    assert [e.kind for e in sim.poll_events(T0)] == ["ringing"]
    assert sim.next_event_at() == T0 + 10_000
    clock.set(T0 + 9_999)
    assert sim.poll_events(T0 + 9_999) == []
    clock.set(T0 + 10_000)
    assert [e.kind for e in sim.poll_events(T0 + 10_000)] == ["answered", "connected"]
    assert sim.next_event_at() == T0 + 110_000
    clock.set(T0 + 110_000)
    assert [e.kind for e in sim.poll_events(T0 + 110_000)] == ["ended"]
    assert sim.next_event_at() == T0 + 125_000  # the agent's wrap-up ends: pacing may want to look
    clock.set(T0 + 125_000)
    assert sim.poll_events(T0 + 125_000) == []
    assert sim.next_event_at() is None


# --- determinism and common random numbers -------------------------------------------------------------


def _bench_run(seed: int, order: list[int], spacing_ms: int, agents: int = 20) -> list:
    sim, clock = make(SimulatorConfig.pacing_bench(agents=agents, seed=seed))
    events = []
    for i, n in enumerate(order):
        events += place_at(sim, clock, T0 + i * spacing_ms, request(n, max_alerting_s=20))
    return events + collect(sim, clock, T0 + 8 * 3_600_000)


def test_same_seed_same_events_different_seed_different_events():
    first = _bench_run(11, list(range(2000)), 250)
    again = _bench_run(11, list(range(2000)), 250)
    other = _bench_run(12, list(range(2000)), 250)
    assert len(first) > 2000 * 2
    assert first == again
    assert first != other


def test_a_numbers_fate_depends_on_number_and_attempt_not_on_order_or_time():
    # enough agents that nobody is abandoned: what the callee does must be the same in both runs
    forward = _bench_run(5, list(range(600)), 100, agents=600)
    backward = _bench_run(5, list(reversed(range(600))), 37, agents=600)

    def fates(events):
        return {
            e.call_id: (e.outcome, e.answered_by, e.ring_ms, e.talk_ms) for e in events if e.kind == "ended"
        }

    assert fates(forward) == fates(backward)
    assert Counter(o for o, *_ in fates(forward).values())["connected"] > 100


def test_attempt_number_picks_the_draw_explicitly_or_by_counting_placements():
    config = SimulatorConfig.pacing_bench(agents=400, seed=9)
    counted, counted_clock = make(config)
    explicit, explicit_clock = make(config)
    for n in range(200):
        counted.place_call(CallRequest(f"a{n}", 1, f"77{n}", None, 20, skill_id=1))
        explicit.place_call(CallRequest(f"b{n}", 1, f"77{n}", None, 20, skill_id=1, attempt=2))
    collect(counted, counted_clock, T0 + 3_600_000)
    for n in range(200):  # the second placement of each number is its attempt 2
        counted.place_call(CallRequest(f"a{n}", 1, f"77{n}", None, 20, skill_id=1))
    second = collect(counted, counted_clock, T0 + 7_200_000)
    by_explicit = {
        e.call_id[1:]: (e.outcome, e.ring_ms)
        for e in collect(explicit, explicit_clock, T0 + 3_600_000)
        if e.kind == "ended"
    }
    by_counted = {e.call_id[1:]: (e.outcome, e.ring_ms) for e in second if e.kind == "ended"}
    assert by_counted == by_explicit


def test_attempts_of_one_number_are_drawn_independently():
    sim, clock = make(SimulatorConfig.pacing_bench(agents=50, seed=2))
    for attempt in range(1, 41):
        sim.place_call(CallRequest(f"c{attempt}", 1, "5550000", None, 20, skill_id=1, attempt=attempt))
    fates = [e.outcome for e in collect(sim, clock, T0 + 3_600_000) if e.kind == "ended"]
    assert len(set(fates)) >= 3  # 40 attempts all alike would mean the attempt is not in the draw


# --- outcome shares -------------------------------------------------------------------------------------

MIX = OutcomeMix(
    person=0.2,
    machine=0.1,
    fax=0.05,
    rejected=0.05,
    no_answer=0.3,
    busy=0.1,
    vacant=0.1,
    powered_off=0.05,
    out_of_area=0.05,
)


def test_outcome_shares_converge_to_the_configured_mix():
    n = 20_000
    # IVR route: no agents, so a person always ends connected; a 600 s ring timeout: no late answer times out
    sim, clock = make(SimulatorConfig(seed=4, mix=MIX, queues={}))
    for i in range(n):
        sim.place_call(request(i, max_alerting_s=600, skill_id=None, ivr_flow="flow-1"))
    ended = [e for e in collect(sim, clock, T0 + 24 * 3_600_000) if e.kind == "ended"]
    assert len(ended) == n
    seen = Counter("person" if e.outcome == "connected" else e.outcome for e in ended)
    for name, share in zip(
        ("person", "machine", "fax", "rejected", "no_answer", "busy", "vacant", "powered_off", "out_of_area"),
        MIX.shares(),
        strict=True,
    ):
        tolerance = 4.5 * math.sqrt(share * (1 - share) / n)  # 4.5 standard errors of a proportion
        assert abs(seen[name] / n - share) < tolerance, (name, seen[name] / n, share)


def test_answer_and_talk_times_have_the_configured_means():
    sim, clock = make(SimulatorConfig(seed=8, mix=only("person"), queues={}))
    n = 4000
    for i in range(n):
        sim.place_call(request(i, max_alerting_s=600, skill_id=None, ivr_flow="flow-1"))
    ended = [e for e in collect(sim, clock, T0 + 24 * 3_600_000) if e.kind == "ended"]
    ring = [e.ring_ms / 1000 for e in ended]
    talk = [e.talk_ms / 1000 for e in ended]
    # answer lognormal mean 10 sd 5; talk mean 120 with CV 1 (sd 120): 4.5 standard errors of a mean
    assert abs(sum(ring) / n - 10.0) < 4.5 * 5 / math.sqrt(n)
    assert abs(sum(talk) / n - 120.0) < 4.5 * 120 / math.sqrt(n)


def test_a_drifting_mix_moves_linearly_from_start_to_end():
    config = exact(mix=only("person"), mix_end=only("no_answer"), drift_s=100.0, queues={1: 0})

    def person_share(offset_ms: int, n: int) -> float:
        sim, clock = make(config)  # starts at T0: the drift is measured from there
        clock.set(T0 + offset_ms)
        for i in range(n):
            sim.place_call(request(i))
        ended = [e for e in collect(sim, clock, clock.now_ms() + 600_000) if e.kind == "ended"]
        assert len(ended) == n
        return sum(e.answered_by == "person" for e in ended) / n

    assert person_share(0, 200) == 1.0
    assert person_share(100_000, 200) == 0.0
    assert person_share(250_000, 200) == 0.0  # after the drift the end mix holds
    assert abs(person_share(50_000, 2000) - 0.5) < 4.5 * math.sqrt(0.25 / 2000)
    assert abs(person_share(25_000, 2000) - 0.75) < 4.5 * math.sqrt(0.75 * 0.25 / 2000)


# --- line limit -----------------------------------------------------------------------------------------


def test_calls_beyond_the_line_limit_are_refused_with_34606_at_once():
    sim, clock = make(exact(max_lines=2, queues={1: 5}))
    for n in (1, 2, 3):
        sim.place_call(request(n))
    assert sim.lines_in_use() == 2
    refused = by_kind(sim.poll_events(T0), "call-3")
    assert set(refused) == {"failed", "ended"}
    ended = refused["ended"]
    assert (ended.at_ms, ended.outcome, ended.result_type, ended.fail_code) == (T0, "line_limit", 9, "34606")
    collect(sim, clock, T0 + 110_000)  # calls 1 and 2 ended at 110 s: two lines free again
    sim.place_call(request(4))
    assert "ringing" in by_kind(sim.poll_events(clock.now_ms()), "call-4")


def test_a_refused_call_does_not_use_up_the_numbers_attempt():
    config = SimulatorConfig.pacing_bench(agents=100, seed=21, max_lines=1)
    limited, lclock = make(config)
    fresh, fclock = make(SimulatorConfig.pacing_bench(agents=100, seed=21))
    limited.place_call(request(999))  # holds the only line
    for n in range(50):
        limited.place_call(request(n))  # refused
    collect(limited, lclock, T0 + 3_600_000)
    retried = {}
    for n in range(50):
        limited.place_call(request(n))
        retried.update(
            {
                e.call_id: (e.outcome, e.ring_ms)
                for e in collect(limited, lclock, lclock.now_ms() + 3_600_000)
                if e.kind == "ended"
            }
        )
        fresh.place_call(request(n))
    first = {
        e.call_id: (e.outcome, e.ring_ms) for e in collect(fresh, fclock, T0 + 3_600_000) if e.kind == "ended"
    }
    assert retried == first


# --- hang-ups --------------------------------------------------------------------------------------------


def test_hangup_while_ringing_ends_with_00601_and_nothing_follows():
    sim, clock = make(exact())
    sim.place_call(request(1))
    collect(sim, clock, T0 + 5_000)
    sim.hangup("call-1")
    events = collect(sim, clock, T0 + 300_000)
    assert [(e.kind, e.at_ms - T0) for e in events] == [("failed", 5_000), ("ended", 5_000)]
    ended = events[-1]
    assert (ended.outcome, ended.result_type, ended.fail_code, ended.ring_ms) == (
        "cancelled",
        0,
        "00601",
        5_000,
    )
    assert sim.lines_in_use() == 0 and sim.next_event_at() is None


def test_hangup_while_queued_ends_with_00701_and_is_not_an_abandon():
    sim, clock = make(exact())
    sim.place_call(request(1))  # takes the only agent at 10 s
    place_at(sim, clock, T0 + 1_000, request(2))  # answered at 11 s, waits
    collect(sim, clock, T0 + 12_000)
    assert sim.agent_counts(1).waiting == 1
    sim.hangup("call-2")
    events = collect(sim, clock, T0 + 20_000)
    ended = by_kind(events, "call-2")["ended"]
    assert (ended.at_ms, ended.outcome, ended.fail_code, ended.wait_ms) == (
        T0 + 12_000,
        "cancelled_queued",
        "00701",
        1_000,
    )
    assert not ended.abandoned and ended.answered
    assert sim.agent_counts(1).waiting == 0


def test_hangup_while_talking_is_a_success_with_the_talk_so_far_and_the_agent_wraps_up():
    sim, clock = make(exact())
    sim.place_call(request(1))
    collect(sim, clock, T0 + 40_000)
    sim.hangup("call-1")
    sim.hangup("call-1")  # twice, and an unknown call: no-ops
    sim.hangup("nobody")
    events = collect(sim, clock, T0 + 300_000)
    assert [e.kind for e in events] == ["ended"]
    assert (events[0].outcome, events[0].fail_code, events[0].talk_ms) == ("connected", "00000", 30_000)
    view = sim.agents(1)[0]
    assert (view.state, view.since_ms) == ("idle", T0 + 40_000 + 15_000)


def test_hangup_while_a_machine_is_detected_ends_it_as_machine():
    sim, clock = make(exact(mix=only("machine")))
    sim.place_call(request(1))
    collect(sim, clock, T0 + 11_000)
    sim.hangup("call-1")
    ended = by_kind(collect(sim, clock, T0 + 60_000), "call-1")["ended"]
    assert (ended.at_ms, ended.outcome, ended.fail_code) == (T0 + 11_000, "machine", "00531")


def test_record_path_template_is_filled_for_connected_calls_only():
    sim, clock = make(exact(record_path="/rec/{campaign_id}/{call_id}.wav", queues={1: 1}))
    sim.place_call(request(1))
    sim.place_call(request(2))  # abandoned: the only agent is busy
    ended = {e.call_id: e for e in collect(sim, clock, T0 + 300_000) if e.kind == "ended"}
    assert ended["call-1"].record_path == "/rec/7/call-1.wav"
    assert ended["call-2"].record_path is None


def test_a_call_must_route_to_exactly_one_place():
    sim, _ = make(exact())
    with pytest.raises(ValueError):
        sim.place_call(request(1, skill_id=None))
    with pytest.raises(ValueError):
        sim.place_call(request(1, skill_id=1, ivr_flow="f"))


def test_config_rejects_shares_that_do_not_add_up():
    with pytest.raises(ValueError):
        OutcomeMix(person=0.5, machine=0.0, no_answer=0.0, busy=0.0, vacant=0.0)
    with pytest.raises(ValueError):
        OutcomeMix(person=1.1, machine=-0.1, no_answer=0.0, busy=0.0, vacant=0.0)


def test_pacing_bench_preset_is_the_documented_baseline():
    c = SimulatorConfig.pacing_bench()
    assert c.mix == OutcomeMix(person=0.25, machine=0.15, no_answer=0.40, busy=0.10, vacant=0.10)
    assert (c.answer_mean_s, c.answer_sd_s, c.talk_mean_s, c.talk_cv, c.wrapup_s) == (10, 5, 120, 1, 15)
    assert c.abandon_after_s == 2 and dict(c.queues) == {1: 20} and c.absences == ()
    variant = SimulatorConfig.pacing_bench(
        agents=100, person=0.08, leave_share=0.3, talk_mean_s=300, talk_cv=2
    )
    assert math.isclose(variant.mix.no_answer, 0.57) and variant.mix.person == 0.08
    assert dict(variant.queues) == {1: 100} and (variant.talk_mean_s, variant.talk_cv) == (300, 2)
    assert [(a.skill_id, a.share, a.start_s, a.duration_s) for a in variant.absences] == [
        (1, 0.3, 14_400, 3_600)
    ]


def test_simulator_keeps_stats_for_benchmarks():
    sim, clock = make(exact(queues={1: 1}))
    sim.place_call(request(1))
    sim.place_call(request(2))
    collect(sim, clock, T0 + 300_000)
    s = sim.stats
    assert (s.placed, s.ended, s.person_answered, s.agent_talk_ms, s.peak_lines) == (2, 2, 2, 100_000, 2)
    assert s.by_outcome == {"connected": 1, "abandoned": 1}
