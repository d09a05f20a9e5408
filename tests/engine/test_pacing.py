from hypothesis import given
from hypothesis import strategies as st

from outdial.engine.pacing.ivr import ivr_batch_size, ivr_pace
from outdial.engine.pacing.predictive import (
    agent_usage,
    completion_rate,
    empirical,
    off_hook_rate,
    predictive_pace,
)
from outdial.engine.pacing.preempted import preempted_pace
from outdial.engine.pacing.preview import auto_dial_at, preview_pace
from outdial.engine.pacing.state import PacingState

T0 = 1_800_000_000_000


def test_ivr_document_example_sixty_a_minute():
    placed, last, now = 0, None, T0
    while now < T0 + 60_000:
        pace = ivr_pace(PacingState(now), 3, 3, last)
        if pace.count:
            placed += pace.count
            last = now
        now = pace.next_check_ms
    assert placed == 60


def test_ivr_batch_sizes_and_long_intervals():
    assert ivr_batch_size(1, 1) == 3  # 1 a second, in 3-second batches
    assert ivr_batch_size(5, 2) == 8  # ceil(15 / 2)
    assert ivr_batch_size(3, 10) == 3  # interval capped at 3 in the formula
    first = ivr_pace(PacingState(T0), 3, 10, None)
    assert (first.count, first.next_check_ms) == (3, T0 + 10_000)
    wait = ivr_pace(PacingState(T0 + 4_000), 3, 10, T0)
    assert (wait.count, wait.next_check_ms) == (0, T0 + 10_000)


def test_preview_and_preempted():
    assert preview_pace(PacingState(T0, agents_idle=4), 2, 5, previews_open=1).count == 2
    pace = preview_pace(PacingState(T0, agents_idle=2), 5, 5, previews_open=1)
    assert (pace.count, pace.next_check_ms) == (1, T0 + 5_000)
    assert auto_dial_at(T0, 12) == T0 + 12_000
    assert preempted_pace(PacingState(T0, agents_idle=5, calls_ringing=2, calls_waiting=1)).count == 2
    assert preempted_pace(PacingState(T0, agents_idle=1, calls_ringing=3)).count == 0


EXP = {"maxAvgCallTime": 200, "minAvgCallTime": 50, "outBoundRate": 50}


def test_empirical():
    s = PacingState(T0, agents_idle=4, calls_ringing=3)
    assert empirical(s, EXP).count == 5  # ceil(4 / 0.5) - 3
    # 10 talking agents, 120 s calls + 15 s wrap-up: 10 x 10/135 = 0.74 more agents within the ring time
    s = PacingState(T0, agents_idle=4, agents_talking=10, calls_ringing=3, avg_talk_s=120, avg_wrapup_s=15)
    assert empirical(s, EXP).count == 7  # ceil(4.74 / 0.5) - 3
    over = PacingState(
        T0, agents_idle=4, calls_ringing=3, recent_dials=400, recent_answers=100, recent_abandons=4
    )
    assert empirical(over, EXP).count == 1  # 4% abandoned: progressive


AGENT = {"maxAvgCallTime": 200, "minAvgCallTime": 50, "lossRate": 3, "utilRate": 70, "utilRateMethod": 1}


def test_agent_usage_level():
    early = PacingState(T0 + 10_000, agents_idle=4, agents_talking=6, level_updated_ms=T0)
    pace = agent_usage(early, AGENT)
    assert (pace.level, pace.count) == (1.0, 4)  # not yet 15 s: level kept; 1 x 10 - 6 talking
    due = PacingState(T0 + 15_000, agents_idle=4, agents_talking=6, level_updated_ms=T0)
    pace = agent_usage(due, AGENT)
    assert abs(pace.level - 1.1) < 1e-9  # usage 0.6, target 0.7
    assert pace.count == 5 and pace.level_updated_ms == T0 + 15_000  # floor(1.1 x 10) - 6
    method2 = agent_usage(
        PacingState(T0 + 15_000, agents_idle=4, agents_talking=3, agents_wrapup=3, level_updated_ms=T0),
        {**AGENT, "utilRateMethod": 2},
    )
    assert abs(method2.level - 1.1) < 1e-9  # (3 + 3) / 10 counted busy
    lossy = PacingState(
        T0 + 5_000, agents_idle=4, agents_talking=6, level=2.5, recent_answers=50, recent_abandons=5
    )
    assert agent_usage(lossy, AGENT).level == 1.0


CONN = {"maxAvgCallTime": 200, "minAvgCallTime": 50, "lossRate": 3, "waitTime": 5, "connRate": 50}


def test_completion_rate_and_off_hook():
    observed = PacingState(T0, agents_idle=2, calls_ringing=1, recent_dials=100, recent_answers=25)
    assert completion_rate(observed, CONN).count == 7  # ceil(2 / 0.25) - 1
    fresh = PacingState(T0, agents_idle=2, recent_dials=10, recent_answers=1)
    assert completion_rate(fresh, CONN).count == 4  # connRate 50% until 30 dials
    s = PacingState(T0, agents_idle=4, recent_dials=100, recent_answers=25)
    assert off_hook_rate(s, {"offHookRate": 50}).count == 8  # 4 x 0.5 / 0.25
    assert off_hook_rate(s, {"offHookRate": 100}).count == 16
    assert predictive_pace(s, {"predictMethod": 5, "offhookPredictParam": {"offHookRate": 50}}).count == 8


@given(
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 500),
    st.integers(0, 200),
    st.integers(0, 50),
    st.sampled_from([1, 2, 3, 5]),
)
def test_no_agents_no_calls_and_never_negative(talking, wrapup, ringing, dials, answers, abandons, method):
    params = {
        "predictMethod": method,
        "expPredictParam": EXP,
        "agentPredictParam": AGENT,
        "connectPredictParam": CONN,
        "offhookPredictParam": {"offHookRate": 200},
    }
    answers = min(answers, dials)
    s = PacingState(
        T0,
        agents_idle=0,
        agents_talking=talking,
        agents_wrapup=wrapup,
        calls_ringing=ringing,
        recent_dials=dials,
        recent_answers=answers,
        recent_abandons=min(abandons, answers),
    )
    assert predictive_pace(s, params).count >= 0
    nobody = PacingState(T0, calls_ringing=ringing, recent_dials=dials, recent_answers=answers)
    assert predictive_pace(nobody, params).count == 0
