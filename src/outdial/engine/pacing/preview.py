"""deviceType 5 (previewed): an idle agent reserves a record, sees it, and the call is placed
automatically autoCallTime seconds later (or sooner when the agent dials).

- obCallCount: at most this many records reserved per look.
- failInterval: how often (seconds) the runner looks again for idle agents without a preview.
- autoCallTime: seconds between the reservation and the automatic call.
"""

from __future__ import annotations

from outdial.engine.pacing.state import Pace, PacingState


def preview_pace(state: PacingState, ob_call_count: int, fail_interval_s: int, previews_open: int) -> Pace:
    """Records to reserve now: one per idle agent that has no preview open, at most obCallCount."""
    free = max(0, state.agents_idle - previews_open)
    return Pace(min(free, ob_call_count), state.now_ms + fail_interval_s * 1000, reason="preview")


def auto_dial_at(reserved_at_ms: int, auto_call_time_s: int) -> int:
    return reserved_at_ms + auto_call_time_s * 1000
