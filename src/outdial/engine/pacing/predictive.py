"""deviceType 2 (predicted): dial ahead of free agents, expecting some dials not to be answered.

Common pieces (see docs/pacing.md):
- available = idle agents - persons already waiting for an agent.
- answer rate p = person answers / dials in the observation window once MIN_SAMPLE dials were seen; before
  that, the method's prior (connRate for method 3, outBoundRate for method 1, 1.0 = progressive otherwise).
- abandon rate = abandons / person answers in the window (0 until MIN_ANSWERS answers).
- average call time = observed talk time clamped to [minAvgCallTime, maxAvgCallTime].
- soon_free(h) = agents that will likely be free within h seconds:
  talking x h / (avg call + wrap-up) + wrap-up x h / wrap-up (each capped at the count).
- abandonment guard: when the abandon rate is above lossRate (3% for the methods without lossRate), the
  method falls back to progressive dialing (one call per available agent) until it is back under.
- every method subtracts the calls still ringing: they are already on their way to an agent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from outdial.engine.pacing.state import TICK_MS, Pace, PacingState

MIN_SAMPLE = 30  # dials before the observed answer rate is trusted
MIN_ANSWERS = 20  # person answers before the observed abandon rate is trusted
RING_S = 10.0  # typical time from dial to answer (PacingBench mean)
DEFAULT_WRAPUP_S = 15.0
DEFAULT_LOSS_PCT = 3  # regulatory cap used when the method has no lossRate
MAX_DIALS_PER_AGENT = 6.0
LEVEL_PERIOD_MS = 15_000  # VICIdial adapts its level every 15 s
MAX_LEVEL = 6.0


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


def soon_free(state: PacingState, horizon_s: float, call_s: float) -> float:
    wrap = state.avg_wrapup_s if state.avg_wrapup_s else DEFAULT_WRAPUP_S
    talking = state.agents_talking * min(1.0, horizon_s / (call_s + wrap))
    wrapping = state.agents_wrapup * min(1.0, horizon_s / wrap)
    return talking + wrapping


def available(state: PacingState) -> int:
    return max(0, state.agents_idle - state.calls_waiting)


def _progressive(state: PacingState, reason: str) -> Pace:
    count = max(0, available(state) - state.calls_ringing)
    return Pace(count, state.now_ms + TICK_MS, state.level, state.level_updated_ms, reason)


def _dials_for(state: PacingState, agents: float, p: float) -> int:
    return max(0, math.ceil(agents / p - 1e-9) - state.calls_ringing)


def empirical(state: PacingState, params: Mapping[str, Any]) -> Pace:
    """Method 1: the administrator's expected answer rate outBoundRate (%) over agents free now or within
    the ring time. outBoundRate 0 or absent means no expectation: progressive."""
    if abandon_rate(state) > DEFAULT_LOSS_PCT / 100:
        return _progressive(state, "abandon guard")
    rate = int(params.get("outBoundRate") or 0)
    if rate <= 0:
        return _progressive(state, "no outBoundRate")
    p = min(1.0, max(rate / 100, 1.0 / MAX_DIALS_PER_AGENT))
    agents = available(state) + soon_free(state, RING_S, avg_call_s(state, params))
    return Pace(
        _dials_for(state, agents, p), state.now_ms + TICK_MS, state.level, state.level_updated_ms, "empirical"
    )


def agent_usage(state: PacingState, params: Mapping[str, Any]) -> Pace:
    """Method 2: VICIdial-style adaptive level aiming at utilRate (%) of agent time busy.

    Every 15 s: level <- level x (1 + (utilRate - usage) / 100), within [1, MAX_LEVEL]; usage = talking
    (+ wrap-up when utilRateMethod is 2) over logged-in agents now. Above lossRate the level drops to 1.
    Calls to place = level x (idle + talking agents) - calls ringing, waiting or talking."""
    loss = _num(params, "lossRate", DEFAULT_LOSS_PCT) / 100
    level, updated = state.level, state.level_updated_ms
    if abandon_rate(state) > loss:
        level, updated = 1.0, state.now_ms
    elif state.now_ms - updated >= LEVEL_PERIOD_MS and state.agents_logged_in > 0:
        busy = state.agents_talking + (
            state.agents_wrapup if int(params.get("utilRateMethod") or 1) == 2 else 0
        )
        usage = busy / state.agents_logged_in
        target = _num(params, "utilRate", 70) / 100
        level = min(MAX_LEVEL, max(1.0, level * (1 + (target - usage))))
        updated = state.now_ms
    base = state.agents_idle + state.agents_talking
    in_progress = state.calls_ringing + state.calls_waiting + state.agents_talking
    count = max(0, math.floor(level * base + 1e-9) - in_progress)
    return Pace(count, state.now_ms + TICK_MS, level, updated, "agent usage")


def completion_rate(state: PacingState, params: Mapping[str, Any]) -> Pace:
    """Method 3: predicted answer rate (observed, or connRate % before enough dials) over agents free now or
    within the ring time plus waitTime (how long a person will wait for an agent)."""
    loss = _num(params, "lossRate", DEFAULT_LOSS_PCT) / 100
    if abandon_rate(state) > loss:
        return _progressive(state, "abandon guard")
    prior = int(params.get("connRate") or 0) / 100 or 1.0
    p = answer_rate(state, prior)
    horizon = RING_S + _num(params, "waitTime", 5)
    agents = available(state) + soon_free(state, horizon, avg_call_s(state, params))
    return Pace(
        _dials_for(state, agents, p),
        state.now_ms + TICK_MS,
        state.level,
        state.level_updated_ms,
        "completion rate",
    )


def off_hook_rate(state: PacingState, params: Mapping[str, Any]) -> Pace:
    """Method 5: observed off-hook (person answer) rate; offHookRate (%) scales how many of the predicted
    dials are placed: 100 exactly enough for the available agents, 200 twice as many, 50 half."""
    if abandon_rate(state) > DEFAULT_LOSS_PCT / 100:
        return _progressive(state, "abandon guard")
    p = answer_rate(state, 1.0)
    scale = int(params.get("offHookRate") or 100) / 100
    count = max(0, math.ceil(available(state) * scale / p - 1e-9) - state.calls_ringing)
    return Pace(count, state.now_ms + TICK_MS, state.level, state.level_updated_ms, "off-hook rate")


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
