from hypothesis import given
from hypothesis import strategies as st

from outdial.engine.pacing.ivr import ivr_batch_size, ivr_pace
from outdial.engine.pacing.predictive import (
    agent_usage,
    cap_horizon_s,
    completion_rate,
    empirical,
    expected_overflow,
    loss_cap,
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
# With abandonment under the target the loss cap lets through an expected overflow of up to
# lossRate x CAP_MARGIN = 0.03 x 0.3 = 0.009 of the expected person answers. Normal approximation of
# Binomial(N, p), continuity-corrected: gap = free + 0.5 - Np, z = gap / sd, overflow = sd phi(z) - gap Q(z).


def test_expected_overflow_and_loss_cap():
    assert expected_overflow(0, 0.25, 3) == 0.0
    assert abs(expected_overflow(100, 0.25, 0) - 24.5) < 1e-6  # nobody free: every answer, less 0.5
    four_idle = PacingState(T0, agents_idle=4)
    # p 0.5, 4 free: N=5 -> sd 1.118, z 1.789, overflow 0.0165 <= 0.0225; N=6 -> z 1.225, 0.065 > 0.027
    assert loss_cap(four_idle, 0.5, 0.03, 2, 120) == 5
    # p 0.25, 4 free: N=8 -> sd 1.225, z 2.041, 0.0093 <= 0.018; N=9 -> sd 1.299, z 1.732, 0.022 > 0.020
    assert loss_cap(four_idle, 0.25, 0.03, 2, 120) == 8
    # p 0.25, 2 free: N=3 -> sd 0.75, z 2.333, 0.0025 <= 0.0068; N=4 -> sd 0.866, z 1.732, 0.0147 > 0.009
    assert loss_cap(PacingState(T0, agents_idle=2), 0.25, 0.03, 5, 120) == 3
    # 3 agents in a 15 s wrap-up: 5 s of waiting frees 1 of them, so 3 free: a looser cap than with 0 s
    wrapping = PacingState(T0, agents_idle=2, agents_wrapup=3)
    assert loss_cap(wrapping, 0.25, 0.03, 5, 120) > loss_cap(wrapping, 0.25, 0.03, 0, 120) == 3
    at_target = PacingState(T0, agents_idle=4, recent_dials=400, recent_answers=100, recent_abandons=3)
    assert loss_cap(at_target, 0.25, 0.03, 2, 120) == 0  # abandon rate at lossRate: no dialling ahead


def test_the_cap_horizon_grows_with_the_team_past_ten_agents():
    # 2 s (the patience) up to 10 agents, one second more per 8 agents past 10, at most 9 s (ring time - 1)
    for agents, horizon in ((1, 2.0), (10, 2.0), (18, 3.0), (30, 4.5), (66, 9.0), (500, 9.0)):
        assert cap_horizon_s(PacingState(0, agents_idle=agents)) == horizon
    # logged-in agents count, whatever their state; offline agents do not
    assert cap_horizon_s(PacingState(0, agents_idle=4, agents_talking=10, agents_wrapup=4, agents_offline=50)) == 3.0


def test_empirical():
    s = PacingState(T0, agents_idle=4, calls_ringing=3)
    # formula ceil(4 / 0.5) - 3 = 5, loss cap 5 in flight (p 0.5, 4 free) - 3 ringing = 2
    assert empirical(s, EXP).count == 2
    over = PacingState(
        T0, agents_idle=4, calls_ringing=3, recent_dials=400, recent_answers=100, recent_abandons=4
    )
    assert empirical(over, EXP).count == 1  # 4% abandoned: progressive, 4 idle - 3 ringing
    assert empirical(s, {**EXP, "outBoundRate": 0}).count == 1  # no expectation: progressive


AGENT = {"maxAvgCallTime": 200, "minAvgCallTime": 50, "lossRate": 3, "utilRate": 70, "utilRateMethod": 1}
SEEN = {"recent_dials": 100, "recent_answers": 25}  # p 0.25: the loss cap allows 8 in flight for 4 free


def test_agent_usage_level():
    early = PacingState(T0 + 10_000, agents_idle=4, agents_talking=6, level_updated_ms=T0, **SEEN)
    pace = agent_usage(early, AGENT)
    assert (pace.level, pace.count) == (1.0, 4)  # not yet 15 s: level kept; 1 x 10 - 6 talking
    due = PacingState(T0 + 15_000, agents_idle=4, agents_talking=6, level_updated_ms=T0, **SEEN)
    pace = agent_usage(due, AGENT)
    assert abs(pace.level - 1.1) < 1e-9  # usage 0.6, target 0.7
    assert pace.count == 5 and pace.level_updated_ms == T0 + 15_000  # floor(1.1 x 10) - 6, under the cap
    method2 = agent_usage(
        PacingState(
            T0 + 15_000, agents_idle=4, agents_talking=3, agents_wrapup=3, level_updated_ms=T0, **SEEN
        ),
        {**AGENT, "utilRateMethod": 2},
    )
    assert abs(method2.level - 1.1) < 1e-9  # (3 + 3) / 10 counted busy
    # no observed answer rate yet (p 1): the cap is the 4 free agents, so the level is not raised
    held = agent_usage(PacingState(T0 + 15_000, agents_idle=4, agents_talking=6, level_updated_ms=T0), AGENT)
    assert (held.level, held.count) == (1.0, 4)
    lossy = PacingState(
        T0 + 15_000, agents_idle=4, agents_talking=6, level=2.5, recent_answers=50, recent_abandons=5
    )
    pace = agent_usage(lossy, AGENT)
    assert pace.level == 1.25 and pace.count == 4  # 10% abandoned: level halved, count progressive


CONN = {"maxAvgCallTime": 200, "minAvgCallTime": 50, "lossRate": 3, "waitTime": 5, "connRate": 50}


def test_completion_rate_and_off_hook():
    observed = PacingState(T0, agents_idle=2, calls_ringing=1, recent_dials=100, recent_answers=25)
    assert completion_rate(observed, CONN).count == 2  # loss cap 3 in flight (p 0.25, 2 free) - 1 ringing
    fresh = PacingState(T0, agents_idle=2, recent_dials=10, recent_answers=1)
    # connRate 50% until 30 dials: N=2 -> z 2.121, 0.0043 <= 0.009; N=3 -> z 1.155, 0.053 > 0.0135
    assert completion_rate(fresh, CONN).count == 2
    assert completion_rate(fresh, {**CONN, "connRate": 25}).count == 3
    assert completion_rate(fresh, {**CONN, "lossRate": 0}).count == 2  # progressive: 2 idle
    s = PacingState(T0, agents_idle=4, recent_dials=100, recent_answers=25)
    assert off_hook_rate(s, {"offHookRate": 50}).count == 8  # 4 x 0.5 / 0.25, within the cap of 8
    assert off_hook_rate(s, {"offHookRate": 100}).count == 8  # 16 wanted, held at the 3% cap
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
