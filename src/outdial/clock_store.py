"""The clock of `serve`: real time, or the scaled timeline of `--speed N`, kept in the database so that a
restarted sped-up server continues its timeline instead of going back to real time (times never go
backwards: the engine's attempts, the results and their callbacks keep their order)."""

from __future__ import annotations

import json
import logging
import time

import sqlalchemy as sa

from outdial.clock import Clock, ClockOrigin, RealClock, ScaledClock, continued_origin
from outdial.db import Database
from outdial.models.foundation import server_state

log = logging.getLogger("outdial.clock")

KEY = "scaled_clock"


def stored_origin(db: Database) -> ClockOrigin | None:
    with db.read() as conn:
        value = conn.execute(sa.select(server_state.c.value).where(server_state.c.key == KEY)).scalar()
    if value is None:
        return None
    fields = json.loads(value)
    return ClockOrigin(int(fields["real_ms"]), int(fields["virtual_ms"]), float(fields["speed"]))


def _store(db: Database, origin: ClockOrigin | None, now_ms: int) -> None:
    with db.write() as conn:
        conn.execute(server_state.delete().where(server_state.c.key == KEY))
        if origin is not None:
            value = json.dumps(
                {"real_ms": origin.real_ms, "virtual_ms": origin.virtual_ms, "speed": origin.speed}
            )
            conn.execute(server_state.insert().values(key=KEY, value=value, updated_at=now_ms))


def serve_clock(db: Database, speed: float, *, reset: bool = False) -> Clock:
    """The clock a starting server runs on: a sped-up timeline stored by an earlier run goes on (at the new
    speed) unless `reset`; otherwise real time, or a new timeline from now at `speed`."""
    real_now = time.time_ns() // 1_000_000
    stored = None if reset else stored_origin(db)
    origin = continued_origin(stored, speed, real_now)
    _store(db, origin, real_now)
    if origin is None:
        return RealClock()
    if stored is not None:
        log.warning(
            "clock: continuing the sped-up timeline of an earlier run at %s (%.0f s ahead of real time), "
            "%gx; `serve --reset-clock` goes back to real time",
            time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(origin.virtual_ms / 1000)),
            (origin.virtual_ms - real_now) / 1000,
            speed,
        )
    return ScaledClock(origin.speed, start_ms=origin.virtual_ms)
