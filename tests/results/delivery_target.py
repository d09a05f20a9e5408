"""Run the callback delivery worker on a database until killed (test_delivery_e2e.py SIGKILLs it while a
push is in flight). Its clock stands still at the given instant, like the test's VirtualClock."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from outdial.clock import VirtualClock
from outdial.config import Settings
from outdial.context import AppContext
from outdial.db import Database
from outdial.results import delivery
from outdial.secretbox import SecretBox


def main(url: str, start_ms: int, data_dir: str) -> None:
    settings = Settings(
        data_dir=Path(data_dir), timezone="UTC", database_url=url, callback_allowed_networks="127.0.0.0/8"
    )
    ctx = AppContext(
        settings=settings,
        db=Database(url),
        clock=VirtualClock(start_ms),
        box=SecretBox.from_settings("", Path(data_dir)),
    )
    print("started", flush=True)
    delivery.run(ctx, threading.Event())


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
