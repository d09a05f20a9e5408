"""deviceType 6 (preempted): a call is placed only for an agent who is idle now; never more calls than
idle agents not already spoken for by a ringing or waiting call. No abandonment by construction."""

from __future__ import annotations

from outdial.engine.pacing.state import TICK_MS, Pace, PacingState


def preempted_pace(state: PacingState) -> Pace:
    free = state.agents_idle - state.calls_ringing - state.calls_waiting
    return Pace(max(0, free), state.now_ms + TICK_MS, reason="one call per idle agent")
