"""The one clock. Everything that waits or stamps time reads it, so tests and simulations can replace it.

Instants are epoch milliseconds (int, UTC) throughout outdial: in the database, in the engine and here.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...

    def sleep(self, seconds: float) -> None: ...

    def seconds_until(self, at_ms: int) -> float:
        """Wall-clock seconds a worker must wait for this clock to reach `at_ms` (0 if it has)."""
        ...


class RealClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def seconds_until(self, at_ms: int) -> float:
        return max(0.0, (at_ms - self.now_ms()) / 1000)


class ScaledClock:
    """Real time running `speed` times faster (`serve --speed N`), from `start_ms` (default: the real now)
    at the moment it is created."""

    def __init__(self, speed: float, start_ms: int | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin_real = time.monotonic()
        self._origin_ms = time.time_ns() // 1_000_000 if start_ms is None else start_ms

    def now_ms(self) -> int:
        return self._origin_ms + int((time.monotonic() - self._origin_real) * 1000 * self.speed)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def seconds_until(self, at_ms: int) -> float:
        return max(0.0, (at_ms - self.now_ms()) / 1000 / self.speed)


@dataclass(frozen=True, slots=True)
class ClockOrigin:
    """Where a scaled timeline stood at one real instant: it reads `virtual_ms` at `real_ms` and runs
    `speed` times faster than real time from there. Stored by `serve --speed` so a restart continues it."""

    real_ms: int
    virtual_ms: int
    speed: float

    def virtual_at(self, real_ms: int) -> int:
        return self.virtual_ms + int((real_ms - self.real_ms) * self.speed)


def continued_origin(stored: ClockOrigin | None, speed: float, real_now_ms: int) -> ClockOrigin | None:
    """The timeline a server starting at `real_now_ms` runs on, at `speed`; None: the real clock.

    A sped-up run's timeline goes on where it would be now had the server never stopped (it is never
    behind anything the last run wrote, whatever `speed` is now), and never behind real time; at speed 1
    with nothing stored the real clock is used."""
    virtual_now = real_now_ms if stored is None else max(stored.virtual_at(real_now_ms), real_now_ms)
    if speed == 1.0 and virtual_now == real_now_ms:
        return None  # real time has caught up with any earlier timeline
    return ClockOrigin(real_now_ms, virtual_now, speed)


class VirtualClock:
    """Time that moves only when told to. `sleep` advances it at once, so waiting costs nothing."""

    def __init__(self, start_ms: int) -> None:
        self._now = start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += round(seconds * 1000)

    def set(self, at_ms: int) -> None:
        with self._lock:
            if at_ms < self._now:
                raise ValueError("virtual time cannot go backwards")
            self._now = at_ms

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def seconds_until(self, at_ms: int) -> float:
        return 0.0  # virtual time is moved by whoever drives it, never waited for


def to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def from_datetime(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: attach a time zone first")
    return int(dt.timestamp() * 1000)
