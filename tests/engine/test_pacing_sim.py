"""Closed-loop check of the skill-queue pacers on a small PacingBench-like world (a fake outside world:
agents and customers drawn from a seeded random generator, one-second steps). Deterministic: same seed,
same numbers. Asserts the trade-off each mode promises, not exact figures."""

import math
import random
from collections import deque

import pytest

from outdial.engine.pacing.predictive import predictive_pace
from outdial.engine.pacing.preempted import preempted_pace
from outdial.engine.pacing.state import PacingState


def lognormal(rng, mean, sd):
    sigma2 = math.log(1 + (sd / mean) ** 2)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def simulate(pacer, agents=20, seconds=3 * 3600, seed=7):
    rng = random.Random(seed)
    talk_until = [0.0] * agents
    free_at = [0.0] * agents  # talk + 15 s wrap-up
    ringing = []  # (event_at, person)
    waiting = deque()  # answered persons: give-up instants
    dials, answers, abandons = deque(), deque(), deque()
    talk_total = 0.0
    total = {"answers": 0, "abandons": 0}
    level, level_at = 1.0, 0
    talks = deque(maxlen=200)
    for t in range(seconds):
        still = []
        for at, person in ringing:
            if at > t:
                still.append((at, person))
            elif person:
                answers.append(t)
                total["answers"] += 1
                waiting.append(t + 2)
        ringing = still
        idle = [i for i in range(agents) if free_at[i] <= t]
        while waiting and idle:
            waiting.popleft()
            i = idle.pop()
            talk = lognormal(rng, 120, 120)
            talks.append(talk)
            talk_total += talk
            talk_until[i], free_at[i] = t + talk, t + talk + 15
        while waiting and waiting[0] <= t:
            waiting.popleft()
            abandons.append(t)
            total["abandons"] += 1
        for q in (dials, answers, abandons):
            while q and q[0] < t - 900:
                q.popleft()
        talking = sum(1 for i in range(agents) if talk_until[i] > t)
        state = PacingState(
            t * 1000,
            agents_idle=len(idle),
            agents_talking=talking,
            agents_wrapup=agents - len(idle) - talking,
            calls_ringing=len(ringing),
            calls_waiting=len(waiting),
            recent_dials=len(dials),
            recent_answers=len(answers),
            recent_abandons=len(abandons),
            avg_talk_s=sum(talks) / len(talks) if talks else None,
            avg_wrapup_s=15,
            level=level,
            level_updated_ms=level_at,
        )
        pace = pacer(state)
        level, level_at = pace.level, pace.level_updated_ms
        for _ in range(pace.count):
            dials.append(t)
            person = rng.random() < 0.25
            ringing.append((t + (lognormal(rng, 10, 5) if person else 15), person))
    return talk_total / (agents * seconds), total["abandons"] / max(1, total["answers"])


def test_preempted_never_abandons():
    occupancy, abandon = simulate(preempted_pace)
    assert abandon == 0.0
    assert 0.2 < occupancy < 0.8


@pytest.mark.xfail(
    strict=True,
    reason="known shortfall: in this closed loop method 2 reaches 64% occupancy (progressive 63.6%) at 5.2% "
    "abandonment, above lossRate 3%; tuning pending (see docs/pacing.md)",
)
def test_agent_usage_beats_progressive_within_loss_rate():
    base, _ = simulate(preempted_pace)
    params = {
        "predictMethod": 2,
        "agentPredictParam": {
            "maxAvgCallTime": 200,
            "minAvgCallTime": 50,
            "lossRate": 3,
            "utilRate": 85,
            "utilRateMethod": 1,
        },
    }
    occupancy, abandon = simulate(lambda s: predictive_pace(s, params))
    print(f"progressive {base:.3f}, agent usage {occupancy:.3f} at {abandon:.3%}")
    assert occupancy > base + 0.05
    assert abandon <= 0.03
