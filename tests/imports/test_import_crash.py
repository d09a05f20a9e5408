"""Nothing lost, nothing doubled: a worker process killed with SIGKILL in the middle of an import (its
rows written but not committed, or its file opened and the transaction not begun) leaves, once the service runs again, a failed task with a reason and
none of the file's rows; importing the file again stores each row once."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from campaigns.factories import create_campaign
from conftest import TEST_SECRET
from imports.helpers import add_server, dumps, process_gone, run_worker, start_import, task, xlsx_bytes
from imports.test_import_api import stored
from outdial.client import Client
from outdial.clock import VirtualClock
from outdial.context import AppContext
from outdial.imports import tempfiles, worker
from outdial.models.imports import import_tasks
from outdial.secretbox import SecretBox
from sftp_servers import SftpTestServer

ROWS = 2000
TEST_SECRET_KEY = "k0BJ1Xv8_5lD3aPqYJcJm5q3i3d7xXo2c9mR6cQp1yA="  # conftest's TEST_SECRET, as text
CRASH_WORKER = Path(__file__).with_name("crash_worker.py")


@pytest.mark.parametrize("stage", ["insert", "open"])
def test_killed_worker_leaves_a_failed_task_and_no_rows(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, stage: str
) -> None:
    assert SecretBox(TEST_SECRET_KEY).decrypt(TEST_SECRET.encrypt("same key")) == "same key"
    campaign = create_campaign(client, initStatus=1)
    rows = [[f"s{i}", dumps([{"calledNo": str(13800000000 + i)}])] for i in range(ROWS)]
    asyncssh_sftp.put(f"crash/{campaign}/big.xlsx", xlsx_bytes(rows))
    sid = add_server(client, asyncssh_sftp)
    task_id = start_import(client, campaign, sid, "big.xlsx", file_path=f"crash/{campaign}")

    env = {
        **os.environ,
        "CRASH_DB_URL": ctx.db.url,
        "CRASH_NOW_MS": str(clock.now_ms()),
        "CRASH_SECRET": TEST_SECRET_KEY,
        "CRASH_AT": stage,
        "CRASH_DATA_DIR": str(ctx.settings.data_dir),
        "CRASH_ALLOWED_NETWORKS": ctx.settings.fileserver_allowed_networks,
    }
    proc = subprocess.Popen(
        [sys.executable, str(CRASH_WORKER)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip(), proc.stdout.readline().strip()]
        expected = f"STORED {ROWS}" if stage == "insert" else "OPENED "
        if not lines[1].startswith(expected):
            proc.kill()
            pytest.fail(f"the worker did not reach the {stage}: {lines} {proc.stderr.read() if proc.stderr else ''}")
        # Before the commit nobody else sees a row; the task is "importing".
        assert stored(ctx, campaign) == []
        with ctx.db.read() as conn:
            assert conn.execute(sa.select(import_tasks.c.status).where(import_tasks.c.id == task_id)).scalar() == 1
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
        if stage == "open":  # the reading process, waiting for its start, sees its parent gone and leaves
            reader = int(lines[1].split()[1])
            deadline = time.monotonic() + 10
            while not process_gone(reader) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert process_gone(reader)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)

    # The killed worker's download stays behind, readable by the service alone, in the data directory ...
    downloads = ctx.settings.data_dir / tempfiles.FOLDER
    (left,) = list(downloads.iterdir())
    assert left.read_bytes() == asyncssh_sftp.root.joinpath(f"crash/{campaign}/big.xlsx").read_bytes()
    assert (stat.S_IMODE(left.stat().st_mode), stat.S_IMODE(downloads.stat().st_mode)) == (0o600, 0o700)
    # ... and the imports worker removes it when it starts.
    stopped = threading.Event()
    stopped.set()
    worker.run(ctx, stopped)
    assert list(downloads.iterdir()) == []

    # The restarted service: before the claim expires the task is left alone ...
    clock.advance(worker.LEASE_MS / 1000 - 1)
    assert run_worker(ctx) == 0
    assert task(client, clock, campaign, task_id)["status"] == "1"
    # ... once it has expired, the task ends as failed with the reason, and none of its rows exists.
    clock.advance(1)
    assert run_worker(ctx) == 0
    result = task(client, clock, campaign, task_id)
    assert (result["status"], result["errMsg"]) == ("3", worker.ABANDONED)
    assert (result["succNum"], result["repeatNum"], result["failNum"]) == (0, 0, 0)
    assert stored(ctx, campaign) == []

    # Importing the file again stores every row exactly once.
    again = start_import(client, campaign, sid, "big.xlsx", file_path=f"crash/{campaign}")
    assert run_worker(ctx) == 1
    result = task(client, clock, campaign, again)
    assert (result["status"], result["succNum"], result["repeatNum"], result["failNum"]) == ("2", ROWS, 0, 0)
    numbers = [row.called for row in stored(ctx, campaign)]
    assert len(numbers) == len(set(numbers)) == ROWS


def test_worker_that_lost_its_claim_stores_nothing(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock
) -> None:
    """A worker that stalled past its lease: another pass ended the task; the stalled worker's import
    then rolls back instead of storing rows for a task reported as failed."""
    from outdial.imports import pipeline
    from outdial.imports import repository as repo

    campaign = create_campaign(client, initStatus=1)
    asyncssh_sftp.put(f"stall/{campaign}/f.xlsx", xlsx_bytes([[None, dumps([{"calledNo": "1"}])]]))
    sid = add_server(client, asyncssh_sftp)
    task_id = start_import(client, campaign, sid, "f.xlsx", file_path=f"stall/{campaign}")
    with ctx.db.write() as conn:
        claimed = repo.claim_due_task(conn, "stalled", clock.now_ms(), worker.LEASE_MS)
    assert claimed is not None and claimed.id == task_id
    clock.advance(worker.LEASE_MS / 1000 + 1)
    assert run_worker(ctx) == 0  # ends the abandoned task
    pipeline.run_import(ctx, claimed, "stalled")  # the stalled worker wakes up and finishes its work
    result = task(client, clock, campaign, task_id)
    assert (result["status"], result["errMsg"], result["succNum"]) == ("3", worker.ABANDONED, 0)
    assert stored(ctx, campaign) == []


def test_the_serve_worker_thread_imports_when_woken(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock
) -> None:
    """The worker as `outdial serve` runs it (registered, in its own thread): a new task wakes it."""
    from outdial.workers import WorkerSet, registered_workers

    assert registered_workers()["imports"] is worker.run
    campaign = create_campaign(client, initStatus=1)
    asyncssh_sftp.put(f"serve/{campaign}/f.csv", b"called\n\"[{'calledNo':'42'}]\"\n")
    sid = add_server(client, asyncssh_sftp)
    workers = WorkerSet(ctx, {"imports": worker.run})
    workers.start()
    try:
        task_id = start_import(client, campaign, sid, "f.csv", file_path=f"serve/{campaign}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with ctx.db.read() as conn:
                status = conn.execute(
                    sa.select(import_tasks.c.status).where(import_tasks.c.id == task_id)
                ).scalar()
            if status == 2:
                break
            time.sleep(0.02)
    finally:
        workers.shutdown()
    assert status == 2
    assert [row.called for row in stored(ctx, campaign)] == ["42"]
