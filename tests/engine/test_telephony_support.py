"""Builders shared by the telephony tests (plain functions; this module holds no tests)."""

from __future__ import annotations

from typing import Any

from outdial.clock import VirtualClock
from outdial.engine.telephony import CallEvent, CallRequest, OutcomeMix, Simulator, SimulatorConfig
from outdial.engine.telephony.simulator import DRAW_ORDER

T0 = 1_800_000_000_000  # simulator start, epoch ms


def only(outcome: str) -> OutcomeMix:
    """A mix where every call does the same thing."""
    return OutcomeMix(**{name: 1.0 if name == outcome else 0.0 for name in DRAW_ORDER})


def exact(**overrides: Any) -> SimulatorConfig:
    """A config with no randomness in the timings: answer after 10 s, talk 100 s, wrap-up 15 s, refusals
    after 2 s, decided at the answer (no detection delay), machines hung up on after 3 s; every callee a
    person; one queue (skill 1) of one agent."""
    base: dict[str, Any] = {
        "mix": only("person"),
        "answer_mean_s": 10.0,
        "answer_sd_s": 0.0,
        "talk_mean_s": 100.0,
        "talk_cv": 0.0,
        "wrapup_s": 15.0,
        "early_fail_min_s": 2.0,
        "early_fail_max_s": 2.0,
        "detect_s": 3.0,
        "detect_delay_s": 0.0,
        "queues": {1: 1},
    }
    base.update(overrides)
    return SimulatorConfig(**base)


def make(config: SimulatorConfig) -> tuple[Simulator, VirtualClock]:
    clock = VirtualClock(T0)
    return Simulator(config, clock), clock


def request(n: int, *, max_alerting_s: int = 30, skill_id: int | None = 1, **kw: Any) -> CallRequest:
    return CallRequest(
        call_id=f"call-{n}",
        campaign_id=7,
        called=f"1380000{n:04d}",
        caller="4001",
        max_alerting_s=max_alerting_s,
        skill_id=skill_id,
        **kw,
    )


def place_at(sim: Simulator, clock: VirtualClock, at_ms: int, req: CallRequest) -> list[CallEvent]:
    """Move to `at_ms` (collecting what happened on the way) and place the call there."""
    seen = collect(sim, clock, at_ms)
    sim.place_call(req)
    return seen


def collect(sim: Simulator, clock: VirtualClock, until_ms: int) -> list[CallEvent]:
    events: list[CallEvent] = []
    sim.run_until(until_ms, events.extend)
    return events


def by_kind(events: list[CallEvent], call_id: str) -> dict[str, CallEvent]:
    return {e.kind: e for e in events if e.call_id == call_id}
