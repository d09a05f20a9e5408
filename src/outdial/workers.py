"""Background workers run as threads inside `outdial serve` (or `outdial worker`). Each is a plain
function `run(ctx, stop)` that loops until `stop` is set; all durable state lives in the database, so a
killed process loses nothing a restart cannot pick up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from outdial.context import AppContext

log = logging.getLogger("outdial.workers")

Worker = Callable[[AppContext, threading.Event], None]


def registered_workers() -> dict[str, Worker]:
    """Every background worker, by name. Imported lazily so the API can start without them in tests."""
    workers: dict[str, Worker] = {}
    from outdial.imports import worker as imports_worker

    workers["imports"] = imports_worker.run
    from outdial.engine import worker as engine_worker

    workers["engine"] = engine_worker.run
    from outdial.results import delivery

    workers["callbacks"] = delivery.run
    return workers


class WorkerSet:
    def __init__(self, ctx: AppContext, workers: dict[str, Worker]) -> None:
        self.ctx = ctx
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(name, fn), name=f"outdial-{name}", daemon=True)
            for name, fn in workers.items()
        ]

    def _run(self, name: str, fn: Worker) -> None:
        while not self.stop.is_set():
            try:
                fn(self.ctx, self.stop)
                return
            except Exception:  # a worker bug must not kill the service; log it and start the loop again
                log.exception("worker %s crashed; restarting in 1 s", name)
                self.stop.wait(1.0)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def shutdown(self, timeout: float = 10.0) -> None:
        self.stop.set()
        for event in self.ctx.wakeups.values():
            event.set()
        for thread in self.threads:
            thread.join(timeout)
