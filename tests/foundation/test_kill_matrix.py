"""The kill matrix: `outdial serve` (a real subprocess, on the test's database, SQLite and PostgreSQL) is
killed with SIGKILL at three moments, then started again, and what it owed is checked:
  import    inside an import's transaction, its rows written (tests/imports/crash_worker.py's hook): the task
            ends failed with nothing stored, and importing the file again stores every row once;
  dialing   with calls in progress: every attempt's call is placed once (no record in two calls, call ids
            in sequence), the calls cut by the kill end as 34608, every record finishes;
  callback  while the receiver holds a batch of results: every result arrives at least once, always with the
            same resultId, none lost.
After a dialing or callback kill both the calls and the results are checked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from campaigns.factories import create_campaign
from demo_server import _free_port
from imports.helpers import add_server, dumps, start_import, task, xlsx_bytes
from imports.test_import_api import stored
from imports.test_import_crash import TEST_SECRET_KEY
from outdial.client import Client
from outdial.clock import VirtualClock
from outdial.context import AppContext
from outdial.imports import worker
from outdial.models import calldata as cd
from outdial.models.engine import OPEN, RECONCILED
from outdial.models.results import DELIVERED, callback_outbox
from results.receiver import Receiver
from sftp_servers import LOOPBACK_NETWORKS, SftpTestServer, asyncssh_sftp  # noqa: F401 (the fixture)

# tests/engine is no package: its modules import one another by bare name, as pytest puts it on the path
sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
from runner_support import attempts_of, load_and_resume, records_of  # noqa: E402
from test_runner_restart import RETRY, _assert_no_double_and_nothing_open  # noqa: E402

# The server to be killed runs in real time, the one started after it 60 times faster: its clock starts
# where the dead one's stopped, and the dead one's leases (30 s, 2 min) run out within a second or two.
RESTART_SPEED = 60
ROWS = 2000
NUMBERS = 30
SERVE_TARGET = Path(__file__).with_name("serve_target.py")
WAIT_S = 90  # the most any step may take on a busy machine; the matrix takes far less


class Serve:
    """`outdial serve --speed N` on the test's database, its workers on the built-in simulator (ten agents
    who answer every call after 0.5 s and talk for about 2 s, in the server's time)."""

    def __init__(self, ctx: AppContext, data_dir: Path, *, speed: int, crash_at: str | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OUTDIAL_")}
        env.update(
            OUTDIAL_DATABASE_URL=ctx.db.url,
            OUTDIAL_DATA_DIR=str(data_dir),
            OUTDIAL_SECRET_KEY=TEST_SECRET_KEY,  # the SKs and file-server keys the tests sealed
            OUTDIAL_TIMEZONE="UTC",
            OUTDIAL_CALLBACK_ALLOWED_NETWORKS=LOOPBACK_NETWORKS,
            OUTDIAL_FILESERVER_ALLOWED_NETWORKS=LOOPBACK_NETWORKS,  # the test's SFTP server is on loopback
            OUTDIAL_SIM_MIX="person=1,machine=0,no_answer=0,busy=0,vacant=0",
            OUTDIAL_SIM_AGENTS_PER_QUEUE="10",
            OUTDIAL_SIM_ANSWER_MEAN_S="0.5",
            OUTDIAL_SIM_TALK_MEAN_S="2",
            OUTDIAL_SIM_WRAPUP_S="0.5",
            PYTHONPATH=os.pathsep.join(sys.path),
        )
        if crash_at:
            env["CRASH_AT"] = crash_at
        self.log = data_dir / f"serve-{time.monotonic_ns()}.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVE_TARGET), "--port", str(_free_port()), "--speed", str(speed)],
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                text=True,
            )
        self.lines: list[str] = []  # what it printed (the crash hook's STORED), read by a thread
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(30) == -signal.SIGKILL, self.log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Serve]]:
    """Every server a test starts is stopped at its end, whatever happened."""
    started: list[Serve] = []
    yield started
    for server in started:
        server.stop()


def _until(what: str, condition: Callable[[], Any], server: Serve) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if server.process.poll() is not None:
            pytest.fail(f"serve ended while waiting for {what}: {server.log.read_text()[-3000:]}")
        time.sleep(0.05)
    pytest.fail(f"no {what} within {WAIT_S} s: {server.log.read_text()[-3000:]}")


def test_killed_during_an_import_store(
    asyncssh_sftp: SftpTestServer,  # noqa: F811 (the fixture imported above)
    client: Client,
    ctx: AppContext,
    clock: VirtualClock,
    tmp_path: Path,
    servers: list[Serve],
) -> None:
    campaign = create_campaign(client, initStatus=1)
    rows = [[f"s{i}", dumps([{"calledNo": str(13800000000 + i)}])] for i in range(ROWS)]
    asyncssh_sftp.put(f"kill/{campaign}/big.xlsx", xlsx_bytes(rows))
    sid = add_server(client, asyncssh_sftp)
    task_id = start_import(client, campaign, sid, "big.xlsx", file_path=f"kill/{campaign}")

    doomed = Serve(ctx, tmp_path / "serve", speed=1, crash_at="insert")
    servers.append(doomed)
    _until("import store", lambda: any(line.startswith("STORED") for line in doomed.lines), doomed)
    assert f"STORED {ROWS}" in doomed.lines
    doomed.kill()
    assert stored(ctx, campaign) == []

    servers.append(restarted := Serve(ctx, tmp_path / "serve", speed=RESTART_SPEED))
    result = _until("failed task", lambda: _task_if(client, clock, campaign, task_id, "3"), restarted)
    assert (result["errMsg"], result["succNum"], result["repeatNum"], result["failNum"]) == (
        worker.ABANDONED, 0, 0, 0,
    )  # fmt: skip
    assert stored(ctx, campaign) == []

    again = start_import(client, campaign, sid, "big.xlsx", file_path=f"kill/{campaign}")
    result = _until("second import", lambda: _task_if(client, clock, campaign, again, "2"), restarted)
    assert (result["succNum"], result["repeatNum"], result["failNum"]) == (ROWS, 0, 0)
    numbers = [row.called for row in stored(ctx, campaign)]
    assert len(numbers) == len(set(numbers)) == ROWS


def _task_if(client: Client, clock: VirtualClock, campaign: int, task_id: str, status: str) -> Any:
    found = task(client, clock, campaign, task_id)
    return found if found["status"] == status else None


def _outbox(ctx: AppContext, campaign_id: int) -> list[Any]:
    with ctx.db.read() as conn:
        return conn.execute(
            sa.select(callback_outbox)
            .where(callback_outbox.c.campaign_id == campaign_id)
            .order_by(callback_outbox.c.id)
        ).all()


def _all_called_and_delivered(ctx: AppContext, campaign_id: int) -> bool:
    made = attempts_of(ctx, campaign_id)
    records = records_of(ctx, campaign_id)
    if (
        not made
        or any(a.state == OPEN for a in made)
        or any(r.state not in (cd.FINISHED, cd.RECYCLED) for r in records)
    ):
        return False
    outbox = _outbox(ctx, campaign_id)
    return len(outbox) == len(made) and all(row.state == DELIVERED for row in outbox)


@pytest.mark.parametrize("moment", ["dialing", "callback"])
def test_killed_while_dialing_or_delivering(
    client: Client, ctx: AppContext, tmp_path: Path, servers: list[Serve], moment: str
) -> None:
    receiver = Receiver(["hold"] if moment == "callback" else [])
    try:
        today = datetime.now(UTC)
        cid = create_campaign(
            client,
            strBeginTime=today.strftime("%Y-%m-%d 00:00:00"),
            strEndTime=(today + timedelta(days=2)).strftime("%Y-%m-%d 23:59:59"),
            callPolicy=None,
            retryPolicy=RETRY,
            initStatus=1,
            callBackUrl=receiver.url,
        )
        load_and_resume(ctx, client, {cid: [f"1390000{i:04d}" for i in range(NUMBERS)]})

        doomed = Serve(ctx, tmp_path / "serve", speed=1)
        servers.append(doomed)
        if moment == "dialing":
            _until(
                "calls in progress", lambda: sum(a.state == OPEN for a in attempts_of(ctx, cid)) >= 3, doomed
            )
        else:
            _until("a held push", lambda: receiver.holding.is_set(), doomed)
        doomed.kill()
        receiver.release.set()
        at_kill = attempts_of(ctx, cid)
        open_at_kill = {a.call_id for a in at_kill if a.state == OPEN}
        if moment == "dialing":
            assert open_at_kill

        servers.append(restarted := Serve(ctx, tmp_path / "serve", speed=RESTART_SPEED))
        _until("every call made and delivered", lambda: _all_called_and_delivered(ctx, cid), restarted)
        restarted.stop()
    finally:
        receiver.stop()

    made = _assert_no_double_and_nothing_open(ctx, cid)  # each call placed once, none in parallel
    assert {a.call_id for a in at_kill} <= {a.call_id for a in made}  # nothing the dead server wrote was lost
    by_call = {a.call_id: a for a in made}
    for call_id in open_at_kill:  # cut by the kill: ended as 34608 by the server that took over
        assert (by_call[call_id].state, by_call[call_id].fail_code) == (RECONCILED, "34608")

    outbox = _outbox(ctx, cid)
    assert sorted(row.attempt_id for row in outbox) == sorted(a.id for a in made)  # one result per call
    assert set(receiver.first_arrivals(cid)) == {row.id for row in outbox}  # each arrived, none lost
    sent: dict[int, str] = {}
    for batch in receiver.batches:  # a resultId always names the same result
        for item in batch:
            assert sent.setdefault(int(item["resultId"]), item["callId"]) == item["callId"]
    assert sent == {row.id: json.loads(row.payload)["callId"] for row in outbox}
    if moment == "callback":
        held = [int(item["resultId"]) for item in receiver.batches[0]]
        later = [int(item["resultId"]) for batch in receiver.batches[1:] for item in batch]
        assert held and set(held) <= set(later)  # the batch in flight at the kill was pushed again
