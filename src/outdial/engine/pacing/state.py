"""What pacing observes of one campaign at one instant, and what it answers."""

from __future__ import annotations

from dataclasses import dataclass

TICK_MS = 1_000  # skill-queue modes look again this soon


@dataclass(frozen=True, slots=True)
class PacingState:
    now_ms: int
    agents_idle: int = 0  # logged in, ready, no call
    agents_talking: int = 0
    agents_wrapup: int = 0  # after-call work
    agents_offline: int = 0  # not counted anywhere; reported for completeness
    calls_ringing: int = 0  # placed, not answered yet
    calls_waiting: int = 0  # answered by a person, not yet connected to an agent
    calls_in_progress: int = 0  # every call of the campaign not yet ended (IVR: lines in use)
    recent_dials: int = 0  # over the runner's observation window (e.g. the last 15 minutes)
    recent_answers: int = 0  # answered by a person in the window
    recent_abandons: int = 0  # person answered, no agent within 2 s, in the window
    avg_talk_s: float | None = None  # observed average talk time; None before any call
    avg_wrapup_s: float | None = None
    level: float = 1.0  # adaptive dial level carried over from the previous Pace (predictive method 2)
    level_updated_ms: int = 0

    @property
    def agents_logged_in(self) -> int:
        return self.agents_idle + self.agents_talking + self.agents_wrapup


@dataclass(frozen=True, slots=True)
class Pace:
    count: int  # calls to place now
    next_check_ms: int  # look again no later than this
    level: float = 1.0  # carry into the next PacingState
    level_updated_ms: int = 0
    reason: str = ""
