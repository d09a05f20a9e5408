"""Campaign status, as every interface reports it. See docs/campaign-lifecycle.md.

Stored status is what was decided (published, paused, completed); the shown status also depends on the
clock: a published campaign is "executing" (2) from strBeginTime until strEndTime, and completed (4) after.
"""

from __future__ import annotations

PUBLISHED = 1  # created with initStatus 0, waiting for strBeginTime
EXECUTING = 2
PAUSED = 3
COMPLETED = 4


def effective_status(stored: int, begin_at: int, end_at: int, now_ms: int) -> int:
    if stored in (PAUSED, COMPLETED):
        return stored
    if now_ms >= end_at:
        return COMPLETED
    if now_ms >= begin_at:
        return EXECUTING
    return PUBLISHED
