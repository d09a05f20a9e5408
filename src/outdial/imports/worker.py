"""The import worker: claims due import tasks and runs them; ends tasks abandoned by a dead process and, at
start-up, removes the downloads such a process left (imports/tempfiles.py)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from outdial.context import AppContext
from outdial.imports import repository as repo
from outdial.imports import tempfiles
from outdial.imports.pipeline import run_import

log = logging.getLogger("outdial.imports")

LEASE_MS = 30_000  # a claim is renewed every few seconds while the import runs
HEARTBEAT_S = 5.0
IDLE_WAIT_S = 5.0
ABANDONED = "import interrupted: the process running it stopped; nothing of this file was stored. Start the import again."


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_due(ctx: AppContext, owner: str) -> int:
    """Run every due task now, one after the other. Returns how many ran. Tests call this directly."""
    ran = 0
    while True:
        with ctx.db.write() as conn:
            repo.fail_abandoned_tasks(conn, ctx.clock.now_ms(), ABANDONED)
            task = repo.claim_due_task(conn, owner, ctx.clock.now_ms(), LEASE_MS)
        if task is None:
            return ran
        stop_heartbeat = threading.Event()
        beat = threading.Thread(target=_heartbeat, args=(ctx, task.id, owner, stop_heartbeat), daemon=True)
        beat.start()
        try:
            run_import(ctx, task, owner)
        finally:
            stop_heartbeat.set()
            beat.join()
        ran += 1


def _heartbeat(ctx: AppContext, task_id: str, owner: str, stop: threading.Event) -> None:
    # Renew every HEARTBEAT_S of the service's clock (faster in real time under --speed); a virtual clock
    # does not move by itself, so there the renewal simply runs every HEARTBEAT_S real seconds.
    heartbeat_ms = int(HEARTBEAT_S * 1000)
    while not stop.wait(ctx.clock.seconds_until(ctx.clock.now_ms() + heartbeat_ms) or HEARTBEAT_S):
        with ctx.db.write() as conn:
            repo.renew_claim(conn, task_id, owner, ctx.clock.now_ms() + LEASE_MS)


def run(ctx: AppContext, stop: threading.Event) -> None:
    owner = worker_id()
    tempfiles.remove_leftovers(ctx.settings.data_dir)
    while not stop.is_set():
        run_due(ctx, owner)
        with ctx.db.read() as conn:
            due = repo.next_due_at(conn)
        # A virtual clock says 0 s to any instant (it is moved by whoever drives it): poll it gently.
        wait = IDLE_WAIT_S if due is None else min(IDLE_WAIT_S, ctx.clock.seconds_until(due)) or 0.05
        wakeup = ctx.wakeup("imports")
        wakeup.wait(wait)
        wakeup.clear()
