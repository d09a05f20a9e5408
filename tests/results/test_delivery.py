"""Callback delivery against a real HTTP receiver on loopback (tests/results/receiver.py): batches, success
only on HTTP 200 + retCode "0", retries (at once, then every 10 minutes), give-up after max pushes, URL
precedence, the network guard, the registered worker, and a delivery process killed mid-push."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from outdial.context import AppContext
from outdial.db import Database
from outdial.models.foundation import vdn_settings
from outdial.models.results import DELIVERED, GAVE_UP, PENDING, callback_deliveries, callback_outbox
from outdial.results import delivery, outbox
from outdial.workers import WorkerSet, registered_workers
from results import factory
from results.receiver import Receiver

HERE = Path(__file__).parent
MINUTE = 60


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def loopback(ctx: AppContext) -> AppContext:
    ctx.settings.callback_allowed_networks = "127.0.0.0/8"
    return ctx


def enqueue(ctx: AppContext, url: str | None, n: int, *, vdn_id: int = 1, prefix: str = "call") -> int:
    """A campaign with n ended calls queued for callback, as the engine queues them."""
    with ctx.db.write() as conn:
        cid = factory.campaign(conn, vdn_id, callback_url=url)
        data_id = factory.record(conn, cid, vdn_id)
        for i in range(n):
            call_id = f"{prefix}-{cid}-{i}"
            aid = factory.attempt(conn, cid, vdn_id, data_id, call_id, ctx.clock.now_ms())
            attempt = {
                "id": aid,
                "call_id": call_id,
                "call_status": 6,
                "fail_code": "00000",
                "called": "60584",
                "created_at": ctx.clock.now_ms(),
            }
            outbox.enqueue(conn, attempt, campaign_id=cid, vdn_id=vdn_id, now_ms=ctx.clock.now_ms())
    return cid


def outbox_rows(ctx: AppContext) -> list[sa.Row]:
    with ctx.db.read() as conn:
        return list(conn.execute(sa.select(callback_outbox).order_by(callback_outbox.c.id)))


def pushes_logged(ctx: AppContext) -> list[sa.Row]:
    with ctx.db.read() as conn:
        return list(conn.execute(sa.select(callback_deliveries).order_by(callback_deliveries.c.id)))


def test_pure_rules() -> None:
    assert [delivery.retry_delay_ms(n) // 60_000 for n in range(1, 6)] == [0, 10, 10, 10, 10]
    assert delivery.max_pushes(None, 6) == 6 and delivery.max_pushes(2, 6) == 2
    assert delivery.max_pushes(9, 6) == 6 and delivery.max_pushes(None, 0) == 1  # kept within 1..6
    assert delivery.target_url("http://c", "http://t", "http://s") == "http://c"
    assert delivery.target_url(None, "http://t", "http://s") == "http://t"
    assert delivery.target_url("", None, "http://s") == "http://s"


def test_results_pushed_as_json_arrays_in_batches_with_stable_ids(
    loopback: AppContext, receiver: Receiver
) -> None:
    cid = enqueue(loopback, receiver.url, 450)
    with httpx.Client(timeout=5) as http_client:
        assert delivery.deliver_due(loopback, http_client) == 200  # one batch per campaign per pass
        assert delivery.deliver_due(loopback, http_client) == 200
        assert delivery.deliver_due(loopback, http_client) == 50
        assert delivery.deliver_due(loopback, http_client) == 0
    assert [len(b) for b in receiver.batches] == [200, 200, 50]
    rows = outbox_rows(loopback)
    assert receiver.first_arrivals(cid) == [r.id for r in rows]  # in order, each once
    assert {r.state for r in rows} == {DELIVERED}
    first = receiver.batches[0][0]
    assert first == {
        "campaignId": str(cid),
        "sessionId": "",
        "called": "60584",
        "callTimeStr": "2026-11-23 09:00:00",
        "callStatus": 6,
        "failCode": "0",  # success is sent as "0", as in the seed 003 example
        "resultCode": "",
        "vdnId": 1,
        "callId": f"call-{cid}-0",
        "recordPath": "",
        "resultId": str(rows[0].id),
    }


def test_failures_retried_at_once_then_after_ten_minutes(loopback: AppContext, receiver: Receiver) -> None:
    receiver.script = ["500", "retcode", "500"]
    cid = enqueue(loopback, receiver.url, 3)
    with httpx.Client(timeout=5) as http_client:
        assert delivery.deliver_due(loopback, http_client) == 0  # push 1: HTTP 500
        assert delivery.deliver_due(loopback, http_client) == 0  # push 2 at once: HTTP 200 but retCode "1"
        assert delivery.deliver_due(loopback, http_client) == 0  # push 3 waits 10 minutes
        loopback.clock.advance(10 * MINUTE - 1)  # type: ignore[attr-defined]
        assert delivery.deliver_due(loopback, http_client) == 0
        loopback.clock.advance(1)  # type: ignore[attr-defined]
        assert delivery.deliver_due(loopback, http_client) == 0  # push 3: HTTP 500
        loopback.clock.advance(10 * MINUTE)  # type: ignore[attr-defined]
        assert delivery.deliver_due(loopback, http_client) == 3  # push 4 succeeds
    assert receiver.answers == ["500", "retcode", "500", "ok"]
    assert receiver.first_arrivals(cid) == [r.id for r in outbox_rows(loopback)]
    log = pushes_logged(loopback)
    assert [(p.push_no, p.http_status, p.ok) for p in log] == [
        (1, 500, False),
        (2, 200, False),
        (3, 500, False),
        (4, 200, True),
    ]
    assert log[1].error == "retCode '1'"
    assert {(r.state, r.pushes) for r in outbox_rows(loopback)} == {(DELIVERED, 4)}


def test_given_up_after_max_pushes_and_later_results_continue(
    loopback: AppContext, receiver: Receiver
) -> None:
    loopback.settings.callback_max_pushes = 3
    receiver.script = ["500"] * 3
    cid = enqueue(loopback, receiver.url, 2)
    with httpx.Client(timeout=5) as http_client:
        delivery.deliver_due(loopback, http_client)  # push 1
        delivery.deliver_due(loopback, http_client)  # push 2, at once
        loopback.clock.advance(10 * MINUTE)  # type: ignore[attr-defined]
        delivery.deliver_due(loopback, http_client)  # push 3: the last one
        assert {(r.state, r.pushes) for r in outbox_rows(loopback)} == {(GAVE_UP, 3)}
        assert "HTTP 500" in outbox_rows(loopback)[0].last_error
        later = enqueue(loopback, receiver.url, 1, prefix="later")
        with loopback.db.write() as conn:  # the later result belongs to the same campaign
            conn.execute(
                sa.update(callback_outbox)
                .where(callback_outbox.c.campaign_id == later)
                .values(campaign_id=cid)
            )
        assert delivery.deliver_due(loopback, http_client) == 1
    assert [r.state for r in outbox_rows(loopback)] == [GAVE_UP, GAVE_UP, DELIVERED]


def test_tenant_setting_and_late_joiners_keep_their_own_push_count(
    loopback: AppContext, receiver: Receiver
) -> None:
    with loopback.db.write() as conn:
        conn.execute(sa.insert(vdn_settings).values(vdn_id=1, callback_max_pushes=2))
    receiver.script = ["500", "500", "500"]
    cid = enqueue(loopback, receiver.url, 1)
    with httpx.Client(timeout=5) as http_client:
        delivery.deliver_due(loopback, http_client)  # push 1 of result 1
        with loopback.db.write() as conn:  # a result ends while result 1 waits for its retry
            aid = factory.attempt(conn, cid, 1, factory.record(conn, cid, 1), "late", loopback.clock.now_ms())
            outbox.enqueue(conn, {"id": aid, "call_id": "late"}, campaign_id=cid, vdn_id=1, now_ms=0)
        delivery.deliver_due(loopback, http_client)  # push 2 (result 1's last, the late one's first): 500
        rows = outbox_rows(loopback)
        assert [(r.state, r.pushes) for r in rows] == [(GAVE_UP, 2), (PENDING, 1)]
        loopback.clock.advance(10 * MINUTE)  # type: ignore[attr-defined]
        delivery.deliver_due(loopback, http_client)  # the late one's push 2: 500, its last
    assert [(r.state, r.pushes) for r in outbox_rows(loopback)] == [(GAVE_UP, 2), (GAVE_UP, 2)]


def test_receiver_that_times_out_gets_the_batch_again(loopback: AppContext) -> None:
    receiver = Receiver(["slow"], slow_s=1.0)
    try:
        cid = enqueue(loopback, receiver.url, 5)
        with httpx.Client(timeout=0.2) as http_client:
            assert delivery.deliver_due(loopback, http_client) == 0  # timed out: not delivered
            assert delivery.deliver_due(loopback, http_client) == 5  # retried at once
        log = pushes_logged(loopback)
        assert [(p.ok, p.http_status) for p in log] == [(False, None), (True, 200)]
        assert "Timeout" in log[0].error
        # the slow receiver did get the first push: at-least-once, the receiver de-duplicates on resultId
        assert len(receiver.batches) == 2 and receiver.batches[0] == receiver.batches[1]
        assert receiver.first_arrivals(cid) == [r.id for r in outbox_rows(loopback)]
    finally:
        receiver.stop()


def test_url_precedence_campaign_then_tenant_then_system(loopback: AppContext) -> None:
    campaign_rx, tenant_rx, system_rx = Receiver(), Receiver(), Receiver()
    try:
        loopback.settings.callback_url = system_rx.url
        with loopback.db.write() as conn:
            conn.execute(sa.insert(vdn_settings).values(vdn_id=1, callback_url=tenant_rx.url))
        enqueue(loopback, campaign_rx.url, 1, prefix="own")
        enqueue(loopback, None, 1, prefix="tenant")
        enqueue(loopback, None, 1, vdn_id=2, prefix="system")
        with httpx.Client(timeout=5) as http_client:
            assert delivery.deliver_due(loopback, http_client) == 3
        assert [c.split("-")[0] for c in campaign_rx.call_ids()] == ["own"]
        assert [c.split("-")[0] for c in tenant_rx.call_ids()] == ["tenant"]
        assert [c.split("-")[0] for c in system_rx.call_ids()] == ["system"]
    finally:
        for r in (campaign_rx, tenant_rx, system_rx):
            r.stop()


def test_loopback_refused_by_default(ctx: AppContext, receiver: Receiver) -> None:
    enqueue(ctx, receiver.url, 1)
    with httpx.Client(timeout=5) as http_client:
        delivery.deliver_due(ctx, http_client)
    assert receiver.batches == []  # never contacted
    (row,) = outbox_rows(ctx)
    assert row.state == GAVE_UP and row.pushes == 1  # refused by policy: given up at the first push
    assert "not allowed" in row.last_error and "127.0.0.1" in row.last_error  # the URL's own host, given


def test_a_target_refused_by_policy_is_given_up_at_once_and_the_rest_goes_on(
    loopback: AppContext,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the seed's callBackUrl is accepted at campaign creation (tests/campaigns) and refused at push time
    refused = enqueue(loopback, "https://10.10.10.10/xxx/xxx/xxx", 2)
    fine = enqueue(loopback, receiver.url, 1, prefix="fine")
    caplog.set_level("WARNING", logger="outdial.callbacks")
    with httpx.Client(timeout=5) as http_client:
        assert delivery.deliver_due(loopback, http_client) == 1  # the other campaign's result
        loopback.clock.advance(60 * MINUTE)  # type: ignore[attr-defined]
        assert delivery.deliver_due(loopback, http_client) == 0  # nothing left to retry
    rows = outbox_rows(loopback)
    assert [(r.campaign_id, r.state, r.pushes) for r in rows] == [
        (refused, GAVE_UP, 1),
        (refused, GAVE_UP, 1),
        (fine, DELIVERED, 1),
    ]
    assert len(pushes_logged(loopback)) == 2  # one push each: no retry was attempted
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert f"campaign {refused}:" in warning.getMessage() and "not allowed" in warning.getMessage()
    # visible in `outdial callbacks results`
    from typer.testing import CliRunner

    from outdial.cli import app, cli_groups

    monkeypatch.setattr("outdial.cli._context", lambda db: loopback)
    cli_groups()
    shown = CliRunner().invoke(app, ["callbacks", "results", "--vdn", "1", "--state", "failed"])
    assert shown.exit_code == 0, shown.output
    listed = [json.loads(line) for line in shown.stdout.splitlines() if line.startswith("{")]
    assert [(r["campaignId"], r["pushes"]) for r in listed] == [(refused, 1), (refused, 1)]
    assert all("not allowed by the network policy" in r["lastError"] for r in listed)


def test_a_host_that_does_not_resolve_is_retried_not_given_up(loopback: AppContext) -> None:
    enqueue(loopback, "http://no-such-host.invalid/results", 1)
    with httpx.Client(timeout=5) as http_client:
        delivery.deliver_due(loopback, http_client)
    (row,) = outbox_rows(loopback)
    assert row.state == PENDING and row.pushes == 1 and "does not resolve" in row.last_error


def test_no_url_anywhere_is_a_failed_push(loopback: AppContext) -> None:
    enqueue(loopback, None, 1)
    with httpx.Client(timeout=5) as http_client:
        delivery.deliver_due(loopback, http_client)
    (push,) = pushes_logged(loopback)
    assert not push.ok and "no callback URL" in push.error


def test_campaigns_are_delivered_side_by_side_each_in_order(loopback: AppContext, receiver: Receiver) -> None:
    receiver.script = ["500", "ok", "500"]  # the first campaign's first two pushes fail (passes alternate)
    first = enqueue(loopback, receiver.url, 250)
    second = enqueue(loopback, receiver.url, 250)
    with httpx.Client(timeout=5) as http_client:
        for _ in range(4):
            delivery.deliver_due(loopback, http_client)
        assert receiver.first_arrivals(second) == [
            r.id for r in outbox_rows(loopback) if r.campaign_id == second
        ]
        assert receiver.first_arrivals(first) == []  # waiting 10 minutes; the second did not wait for it
        loopback.clock.advance(10 * MINUTE)  # type: ignore[attr-defined]
        for _ in range(2):
            delivery.deliver_due(loopback, http_client)
    assert receiver.first_arrivals(first) == [r.id for r in outbox_rows(loopback) if r.campaign_id == first]


def test_registered_worker_delivers_in_the_background(loopback: AppContext, receiver: Receiver) -> None:
    workers = registered_workers()
    assert "callbacks" in workers
    cid = enqueue(loopback, receiver.url, 300)
    running = WorkerSet(loopback, {"callbacks": workers["callbacks"]})
    running.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and {r.state for r in outbox_rows(loopback)} != {DELIVERED}:
            time.sleep(0.05)
    finally:
        running.shutdown()
    assert receiver.first_arrivals(cid) == [r.id for r in outbox_rows(loopback)]


def test_server_killed_mid_push_then_restarted_delivers_everything_in_order(
    loopback: AppContext, receiver: Receiver, tmp_path: Path
) -> None:
    """A delivery process is SIGKILLed while its push waits for the receiver's answer; a new AppContext on
    the same database takes over once the dead process's lease runs out: every result arrives at least
    once, each campaign's in order."""
    campaigns = [enqueue(loopback, receiver.url, 450, prefix=f"k{k}") for k in range(3)]
    receiver.script = ["ok", "ok", "ok", "hold"]  # the 4th push: the 2nd batch of one campaign
    child = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "delivery_target.py"),
            loopback.db.url,
            str(loopback.clock.now_ms()),
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert receiver.holding.wait(60), (
            child.stderr.read().decode() if child.poll() is not None else "no hold"
        )
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    receiver.release.set()
    held = receiver.batches[3]
    restarted = AppContext(
        settings=loopback.settings, db=Database(loopback.db.url), clock=loopback.clock, box=loopback.box
    )
    try:
        with httpx.Client(timeout=5) as http_client:
            for _ in range(10):
                delivery.deliver_due(restarted, http_client)
            pending = [r for r in outbox_rows(restarted) if r.state == PENDING]
            assert pending and {r.campaign_id for r in pending} == {int(held[0]["campaignId"])}  # leased
            restarted.clock.advance(delivery.LEASE_MS // 1000)  # type: ignore[attr-defined]
            for _ in range(10):
                delivery.deliver_due(restarted, http_client)
    finally:
        restarted.db.dispose()
    rows = outbox_rows(restarted)
    assert {r.state for r in rows} == {DELIVERED}
    for cid in campaigns:
        assert receiver.first_arrivals(cid) == [r.id for r in rows if r.campaign_id == cid]
    held_ids = [item["resultId"] for item in held]
    again = [b for b in receiver.batches[4:] if [i["resultId"] for i in b][: len(held_ids)] == held_ids]
    assert again, "the batch in flight when the process died is pushed again"


def test_delivered_results_and_the_log_are_pruned_after_the_retention_days(
    loopback: AppContext, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "PRUNE_BATCH", 2)  # several short transactions
    loopback.settings.callback_retention_days = 7
    loopback.settings.callback_max_pushes = 1
    old = enqueue(loopback, receiver.url, 5, prefix="old")
    with httpx.Client(timeout=5) as http_client:
        assert delivery.deliver_due(loopback, http_client) == 5
        receiver.script = ["500"]
        failed = enqueue(loopback, receiver.url, 1, prefix="failed")
        assert delivery.deliver_due(loopback, http_client) == 0  # given up at once (1 push)
        loopback.clock.advance(6 * 86_400)  # type: ignore[attr-defined]
        recent = enqueue(loopback, receiver.url, 1, prefix="recent")
        assert delivery.deliver_due(loopback, http_client) == 1
    assert delivery.prune(loopback) == 0  # nothing is 7 days old yet
    loopback.clock.advance(86_400 + 1)  # type: ignore[attr-defined]  # 7 days and a second
    assert delivery.prune(loopback) == 5 + 1 + 1  # the old results, and the old pushes (one ok, one failed)
    rows = outbox_rows(loopback)
    assert [(r.campaign_id, r.state) for r in rows] == [(failed, GAVE_UP), (recent, DELIVERED)]
    assert [p.campaign_id for p in pushes_logged(loopback)] == [recent]
    assert old not in {r.campaign_id for r in rows}
    loopback.settings.callback_retention_days = 0  # keep forever
    loopback.clock.advance(365 * 86_400)  # type: ignore[attr-defined]
    assert delivery.prune(loopback) == 0
