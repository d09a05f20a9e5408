"""Run one engine in virtual time on a database until killed (test_runner_restart.py SIGKILLs it mid-campaign).
Prints the number of calls placed after every step, so the test knows when to kill it."""

from __future__ import annotations

import sys
from pathlib import Path

from outdial.clock import VirtualClock
from outdial.config import Settings
from outdial.context import AppContext
from outdial.db import Database
from outdial.engine.runner import Engine
from outdial.engine.telephony import OutcomeMix, Simulator, SimulatorConfig
from outdial.secretbox import SecretBox


def main(url: str, start_ms: int, data_dir: str) -> None:
    clock = VirtualClock(start_ms)
    settings = Settings(data_dir=Path(data_dir), timezone="UTC", database_url=url)
    ctx = AppContext(
        settings=settings, db=Database(url), clock=clock, box=SecretBox.from_settings("", Path(data_dir))
    )
    mix = OutcomeMix(person=1.0, machine=0, no_answer=0, busy=0, vacant=0)
    config = SimulatorConfig(
        seed=3,
        mix=mix,
        queues={2: 10},
        talk_mean_s=60,
        talk_cv=0,
        answer_mean_s=5,
        answer_sd_s=0,
        detect_delay_s=0,
    )
    engine = Engine(ctx, Simulator(config, clock), owner="doomed")
    while True:
        next_at = engine.step()
        print(engine.placed, clock.now_ms(), flush=True)
        clock.set(max(next_at, clock.now_ms()))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
