"""`outdial serve`'s engine over SIP, in a process of its own, until killed (test_sip_end_to_end.py
SIGKILLs it mid-campaign). Prints the number of calls placed after every step."""

from __future__ import annotations

import sys
from pathlib import Path

from outdial.clock import RealClock
from outdial.config import Settings
from outdial.context import AppContext
from outdial.db import Database
from outdial.engine.runner import Engine
from outdial.engine.worker import make_port
from outdial.secretbox import SecretBox


def main(url: str, data_dir: str, listen: str, route: str, trunk: str, owner: str) -> None:
    settings = Settings(
        data_dir=Path(data_dir),
        timezone="UTC",
        database_url=url,
        telephony="sip",
        sip_listen=listen,
        sip_route=route,
        sip_trunk=trunk,
        sip_amd="off",
        sip_rtp_ports="40000-40999",
    )
    clock = RealClock()
    ctx = AppContext(
        settings=settings, db=Database(url), clock=clock, box=SecretBox.from_settings("", Path(data_dir))
    )
    port = make_port(ctx)
    engine = Engine(ctx, port, owner=owner, refresh_ms=500)
    wakeup = ctx.wakeup("engine")
    port.set_notify(wakeup.set)
    while True:
        next_at = engine.step()
        print(engine.placed, flush=True)
        wakeup.wait(min(max(clock.seconds_until(next_at), 0.001), 0.2))
        wakeup.clear()


if __name__ == "__main__":
    main(*sys.argv[1:7])
