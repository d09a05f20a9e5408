"""What the running service holds: settings, database, clock, secrets, and the workers' wake-up hooks."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from outdial.clock import Clock
from outdial.config import Settings
from outdial.db import Database
from outdial.secretbox import SecretBox


@dataclass
class AppContext:
    settings: Settings
    db: Database
    clock: Clock
    box: SecretBox
    # One event per background worker ("imports", "engine", "callbacks"), set when something it waits
    # for has changed (a new import task, a campaign resumed...), so it need not poll.
    wakeups: dict[str, threading.Event] = field(default_factory=dict)
    extras: dict[str, object] = field(default_factory=dict)
    # The clock request signatures are checked against. Clients sign with the real time, so under
    # `serve --speed N` (a ScaledClock for the campaigns) this is the real clock; None: `clock`.
    auth_clock: Clock | None = None

    @property
    def signature_clock(self) -> Clock:
        return self.auth_clock or self.clock

    def wakeup(self, worker: str) -> threading.Event:
        return self.wakeups.setdefault(worker, threading.Event())
