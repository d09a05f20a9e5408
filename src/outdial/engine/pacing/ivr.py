"""deviceType 1 and 3 (IVR): fixed batches, no agents.

The document: "(callCount / callInterval) x 3, rounded up; if callInterval is greater than 3, 3 is used".
outdial reads it as the size of one batch, placed every max(callInterval, 3) seconds:
- callInterval <= 3: batch = ceil(callCount x 3 / callInterval) every 3 s, i.e. callCount per callInterval.
  The example "60 calls a minute: callInterval 3, callCount 3" gives 3 calls every 3 s = 60 a minute.
- callInterval > 3: batch = ceil(callCount x 3 / 3) = callCount, every callInterval seconds.
The rate is therefore always callCount calls per callInterval seconds, in batches no closer than 3 s.
With callCount >= 1 the batch is always >= 1, so the "only when the result is at least 1" clause never
stops a valid campaign; it is kept as a guard.
"""

from __future__ import annotations

from outdial.engine.pacing.state import Pace, PacingState


def ivr_batch_size(call_count: int, call_interval: int) -> int:
    interval = min(call_interval, 3)
    return -(-call_count * 3 // interval)  # ceiling division, exact on integers


def ivr_period_ms(call_interval: int) -> int:
    return max(call_interval, 3) * 1000


def ivr_pace(state: PacingState, call_count: int, call_interval: int, last_batch_ms: int | None) -> Pace:
    """One batch when the period since the previous batch (last_batch_ms) has passed, else wait for it."""
    period = ivr_period_ms(call_interval)
    if last_batch_ms is not None and state.now_ms < last_batch_ms + period:
        return Pace(0, last_batch_ms + period, reason="between batches")
    batch = ivr_batch_size(call_count, call_interval)
    return Pace(batch if batch >= 1 else 0, state.now_ms + period, reason="batch")
