"""deviceType 2 (predicted): dial ahead of free agents, expecting some dials not to be answered.

Common pieces (see docs/pacing.md):
- available = idle agents - persons already waiting for an agent.
- answer rate p = person answers / dials in the observation window once MIN_SAMPLE dials were seen; before
  that, the method's prior (connRate for method 3, outBoundRate for method 1, 1.0 = progressive otherwise).
- abandon rate = abandons / person answers in the window (0 until MIN_ANSWERS answers).
- average call time = observed talk time clamped to [minAvgCallTime, maxAvgCallTime].
- loss cap: the most calls that may be in flight (ringing + new) so that the expected persons left without
  an agent stay a small share of the expected persons answering (a binomial tail, normal approximation),
  against the agents free within a horizon that grows with the team (cap_horizon_s).
  Its share shrinks as the observed abandon rate nears the method's lossRate (3% for the methods without
  one) and is zero at or above it. Every method places min(its own formula, loss cap - ringing) and never
  fewer than progressive dialing (one call per available agent not already being called for).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from outdial.engine.pacing.state import TICK_MS, Pace, PacingState

MIN_SAMPLE = 30  # dials before the observed answer rate is trusted
MIN_ANSWERS = 20  # person answers before the observed abandon rate is trusted
RING_S = 10.0  # typical time from dial to answer (PacingBench mean)
PATIENCE_S = 2.0  # an abandoned call: a person not connected to an agent within 2 s
DEFAULT_WRAPUP_S = 15.0
DEFAULT_LOSS_PCT = 3  # regulatory cap used when the method has no lossRate
MAX_DIALS_PER_AGENT = 6.0
LEVEL_PERIOD_MS = 15_000  # VICIdial adapts its level every 15 s
MAX_LEVEL = 6.0
# The loss cap's model ignores when each ringing call will be answered and when each agent frees up, so it
# is optimistic: the share of overflow it allows is lossRate x CAP_MARGIN x (1 - observed / lossRate)^2.
# Tuned on simulation seeds 101-103 (tests assert on others): see docs/pacing.md.
CAP_MARGIN = 0.3
# Which agents the loss cap counts as free for the persons who will answer: those free within PATIENCE_S,
# for a small team. A larger team's agents free up steadily enough that the count expected within most of
# the answer time is reliable too (persons answer ~RING_S after the dial): one more second per
# AGENTS_PER_CAP_SECOND agents past SMALL_TEAM, up to MAX_CAP_HORIZON_S. Tuned on simulation seeds 101-106
# at 20-100 agents (talk occupancy +0.5 points at 20 agents, +3.4 at 100, abandonment still under 1.5%);
# teams of up to SMALL_TEAM agents are paced as before (docs/pacing.md).
SMALL_TEAM = 10
AGENTS_PER_CAP_SECOND = 8
MAX_CAP_HORIZON_S = RING_S - 1.0


def _num(params: Mapping[str, Any], key: str, default: float) -> float:
    value = params.get(key)
    return float(value) if value is not None else default


def answer_rate(state: PacingState, prior: float) -> float:
    p = state.recent_answers / state.recent_dials if state.recent_dials >= MIN_SAMPLE else prior
    return min(1.0, max(p, 1.0 / MAX_DIALS_PER_AGENT))


def abandon_rate(state: PacingState) -> float:
    if state.recent_answers < MIN_ANSWERS:
        return 0.0
    return state.recent_abandons / state.recent_answers


def avg_call_s(state: PacingState, params: Mapping[str, Any]) -> float:
    low = float(params.get("minAvgCallTime") or 50)
    high = float(params.get("maxAvgCallTime") or 200)
    observed = state.avg_talk_s if state.avg_talk_s is not None else (low + high) / 2
    return min(high, max(low, observed))


def _wrapup_s(state: PacingState) -> float:
    return state.avg_wrapup_s if state.avg_wrapup_s else DEFAULT_WRAPUP_S


def soon_free(state: PacingState, horizon_s: float, call_s: float) -> float:
    """Agents likely free within horizon_s at the team's average release rate (methods 1 and 3's formula)."""
    wrap = _wrapup_s(state)
    talking = state.agents_talking * min(1.0, horizon_s / (call_s + wrap))
    wrapping = state.agents_wrapup * min(1.0, horizon_s / wrap)
    return talking + wrapping


def free_within(state: PacingState, horizon_s: float, call_s: float) -> float:
    """Expected agents free within horizon_s: available now, wrap-up agents whose remaining wrap-up
    (uniform over the wrap-up time) ends by then, and talking agents whose remaining talk (exponential)
    plus a whole wrap-up ends by then."""
    wrap = _wrapup_s(state)
    wrapping = state.agents_wrapup * min(1.0, horizon_s / wrap)
    talking = state.agents_talking * (1.0 - math.exp(-max(0.0, horizon_s - wrap) / call_s))
    return available(state) + wrapping + talking


def expected_overflow(calls: int, p: float, free: float) -> float:
    """E[(A - free)+] for A ~ Binomial(calls, p) person answers, normal approximation with continuity
    correction: the expected persons who find no agent."""
    if calls <= 0:
        return 0.0
    mean = calls * p
    sd = math.sqrt(calls * p * (1.0 - p)) or 1e-9
    gap = free + 0.5 - mean
    z = gap / sd
    density = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    tail = 0.5 * math.erfc(z / math.sqrt(2))
    return sd * density - gap * tail


def loss_cap(state: PacingState, p: float, loss: float, horizon_s: float, call_s: float) -> int:
    """Most calls in flight (ringing + new) whose expected overflow stays within the allowed share of their
    expected person answers. The share falls to 0 as the observed abandon rate reaches loss."""
    headroom = max(0.0, 1.0 - abandon_rate(state) / loss) if loss > 0 else 0.0
    share = loss * CAP_MARGIN * headroom * headroom
    free = free_within(state, horizon_s, call_s)
    top = int(MAX_DIALS_PER_AGENT * state.agents_logged_in)

    def within(calls: int) -> bool:  # the overflow share grows with the calls in flight
        return expected_overflow(calls, p, free) <= share * calls * p

    calls = min(state.calls_ringing, top)  # the answer is usually near the calls already ringing
    if within(calls):
        while calls < top and within(calls + 1):
            calls += 1
    else:
        while calls > 0 and not within(calls):
            calls -= 1
    return calls


def cap_horizon_s(state: PacingState) -> float:
    """How far ahead the loss cap counts agents becoming free (see SMALL_TEAM)."""
    extra = max(0.0, state.agents_logged_in - SMALL_TEAM) / AGENTS_PER_CAP_SECOND
    return min(MAX_CAP_HORIZON_S, PATIENCE_S + extra)


def available(state: PacingState) -> int:
    return max(0, state.agents_idle - state.calls_waiting)


def progressive_count(state: PacingState) -> int:
    return max(0, available(state) - state.calls_ringing)


def _within_cap(state: PacingState, wanted: int, cap_total: int) -> int:
    """The method's own count, held under the loss cap, never below progressive dialing."""
    return max(progressive_count(state), min(wanted, cap_total - state.calls_ringing), 0)


def _dials_for(state: PacingState, agents: float, p: float) -> int:
    return max(0, math.ceil(agents / p - 1e-9) - state.calls_ringing)


def _pace(state: PacingState, count: int, reason: str) -> Pace:
    return Pace(count, state.now_ms + TICK_MS, state.level, state.level_updated_ms, reason)


def empirical(state: PacingState, params: Mapping[str, Any]) -> Pace:
    """Method 1: the administrator's expected answer rate outBoundRate (%) over agents free now or within
    the ring time. outBoundRate 0 or absent means no expectation: progressive. Loss cap at 3%."""
    rate = int(params.get("outBoundRate") or 0)
    if rate <= 0:
        return _pace(state, progressive_count(state), "no outBoundRate")
    p = min(1.0, max(rate / 100, 1.0 / MAX_DIALS_PER_AGENT))
    call_s = avg_call_s(state, params)
    wanted = _dials_for(state, available(state) + soon_free(state, RING_S, call_s), p)
    cap = loss_cap(state, answer_rate(state, p), DEFAULT_LOSS_PCT / 100, cap_horizon_s(state), call_s)
    return _pace(state, _within_cap(state, wanted, cap), "empirical")


def agent_usage(state: PacingState, params: Mapping[str, Any]) -> Pace:
    """Method 2: VICIdial-style adaptive level aiming at utilRate (%) of agent time busy, within lossRate.

    Every 15 s: level <- level x (1 + (utilRate - usage) / 100), within [1, MAX_LEVEL]; usage = talking
    (+ wrap-up when utilRateMethod is 2) over logged-in agents now. The level is not raised while the loss
    cap holds the count back, and is halved (VICIdial's AVERAGE) while the abandon rate is above lossRate.
    Calls to place = level x (idle + talking agents) - calls ringing, waiting or talking, under the cap."""
    loss = _num(params, "lossRate", DEFAULT_LOSS_PCT) / 100
    call_s = avg_call_s(state, params)
    cap = loss_cap(state, answer_rate(state, 1.0), loss, cap_horizon_s(state), call_s)
    base = state.agents_idle + state.agents_talking
    in_progress = state.calls_ringing + state.calls_waiting + state.agents_talking

    def by_level(level: float) -> int:
        return max(0, math.floor(level * base + 1e-9) - in_progress)

    level, updated = state.level, state.level_updated_ms
    if state.now_ms - updated >= LEVEL_PERIOD_MS and state.agents_logged_in > 0:
        if abandon_rate(state) > loss:
            level = max(1.0, level / 2)
        else:
            busy = state.agents_talking + (
                state.agents_wrapup if int(params.get("utilRateMethod") or 1) == 2 else 0
            )
            usage = busy / state.agents_logged_in
            target = _num(params, "utilRate", 70) / 100
            raised = level * (1 + (target - usage))
            if raised < level or by_level(level) < cap - state.calls_ringing:
                level = raised
            level = min(MAX_LEVEL, max(1.0, level))
        updated = state.now_ms
    count = _within_cap(state, by_level(level), cap)
    return Pace(count, state.now_ms + TICK_MS, level, updated, "agent usage")


def completion_rate(state: PacingState, params: Mapping[str, Any]) -> Pace:
    """Method 3: the loss cap itself, with the predicted answer rate (observed, or connRate % before enough
    dials) and agents free within waitTime (how long an answered person waits for an agent) counted."""
    loss = _num(params, "lossRate", DEFAULT_LOSS_PCT) / 100
    prior = int(params.get("connRate") or 0) / 100 or 1.0
    p = answer_rate(state, prior)
    cap = loss_cap(state, p, loss, _num(params, "waitTime", 5), avg_call_s(state, params))
    return _pace(state, _within_cap(state, cap - state.calls_ringing, cap), "completion rate")


def off_hook_rate(state: PacingState, params: Mapping[str, Any]) -> Pace:
    """Method 5: observed off-hook (person answer) rate; offHookRate (%) scales how many of the predicted
    dials are placed: 100 exactly enough for the available agents, 200 twice as many, 50 half. Loss cap
    at 3%."""
    p = answer_rate(state, 1.0)
    scale = int(params.get("offHookRate") or 100) / 100
    wanted = max(0, math.ceil(available(state) * scale / p - 1e-9) - state.calls_ringing)
    cap = loss_cap(state, p, DEFAULT_LOSS_PCT / 100, cap_horizon_s(state), avg_call_s(state, params))
    return _pace(state, _within_cap(state, wanted, cap), "off-hook rate")


METHODS = {
    1: ("expPredictParam", empirical),
    2: ("agentPredictParam", agent_usage),
    3: ("connectPredictParam", completion_rate),
    5: ("offhookPredictParam", off_hook_rate),
}


def predictive_pace(state: PacingState, predict_param: Mapping[str, Any]) -> Pace:
    """Dispatch on predictParam.predictMethod, reading the method's own parameter object."""
    key, method = METHODS[int(predict_param["predictMethod"])]
    return method(state, predict_param.get(key) or {})
