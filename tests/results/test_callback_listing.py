"""outdial's own callback listing: GET /rest/outdial/v1/{vdnId}/callbacks/deliveries and /results, POST
/redeliver, and the same through `outdial callbacks ...`."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from outdial.cli import app, cli_groups
from outdial.client import Client
from outdial.context import AppContext
from outdial.results import delivery
from results.receiver import Receiver
from results.test_delivery import enqueue


@pytest.fixture
def history(ctx: AppContext) -> tuple[int, int, Receiver]:
    """Campaign A: 3 results, first push refused (500) then delivered; campaign B: 1 result given up
    (max 1 push, HTTP 500); campaign C of VDN 2: delivered."""
    ctx.settings.callback_allowed_networks = "127.0.0.0/8"
    receiver = Receiver(["500"])
    a = enqueue(ctx, receiver.url, 3)
    with httpx.Client(timeout=5) as http_client:
        delivery.deliver_due(ctx, http_client)
        delivery.deliver_due(ctx, http_client)
        ctx.settings.callback_max_pushes = 1
        receiver.script = ["500"]
        b = enqueue(ctx, receiver.url, 1)
        delivery.deliver_due(ctx, http_client)
        enqueue(ctx, receiver.url, 1, vdn_id=2)
        delivery.deliver_due(ctx, http_client)
    return a, b, receiver


def test_deliveries_listed_newest_first_and_only_the_tenants(
    client: Client, history: tuple[int, int, Receiver]
) -> None:
    a, b, receiver = history
    try:
        page = client.list_callback_deliveries(1).body
        assert page["resultCode"] == "0200000" and page["totalCount"] == 3  # VDN 2's push is not listed
        assert [(d["campaignId"], d["pushNo"], d["ok"], d["httpStatus"]) for d in page["data"]] == [
            (b, 1, False, 500),
            (a, 2, True, 200),
            (a, 1, False, 500),
        ]
        assert page["data"][1]["resultCount"] == 3 and page["data"][1]["url"] == receiver.url
        failed = client.list_callback_deliveries(1, failedOnly=1, campaignId=a).body
        assert [(d["campaignId"], d["error"]) for d in failed["data"]] == [(a, "HTTP 500")]
        assert client.list_callback_deliveries(1, limit=1, offset=1).body["data"][0]["pushNo"] == 2
    finally:
        receiver.stop()


def test_results_listed_with_state_and_redelivered(
    client: Client, ctx: AppContext, history: tuple[int, int, Receiver]
) -> None:
    a, b, receiver = history
    try:
        failed = client.list_callback_results(1, state="failed").body
        assert failed["totalCount"] == 1
        (item,) = failed["data"]
        assert (item["campaignId"], item["callId"], item["pushes"], item["lastError"]) == (
            b,
            f"call-{b}-0",
            1,
            "HTTP 500",
        )
        delivered = client.list_callback_results(1, campaignId=a, state="delivered").body
        assert [r["callId"] for r in delivered["data"]] == [f"call-{a}-{i}" for i in range(3)]
        assert all(r["pushes"] == 2 and r["deliveredAt"] == ctx.clock.now_ms() for r in delivered["data"])
        again = client.redeliver_callbacks(1, b).body
        assert again["returnObject"] == {"requeued": 1}
        with httpx.Client(timeout=5) as http_client:
            assert delivery.deliver_due(ctx, http_client) == 1
        ctx.clock.advance(1)  # type: ignore[attr-defined]  # the same request again is not a replay
        assert client.list_callback_results(1, state="failed").body["totalCount"] == 0
    finally:
        receiver.stop()


def test_listing_refusals(client: Client, client_vdn2: Client, history: tuple[int, int, Receiver]) -> None:
    a, _, receiver = history
    receiver.stop()
    assert client.list_callback_results(1, state="lost").body["resultCode"] == "02000007"
    assert client.list_callback_deliveries(1, limit=501).body["resultCode"] == "02000007"
    assert client.list_callback_deliveries(1, failedOnly=2).body["resultCode"] == "02000007"
    assert client_vdn2.list_callback_deliveries(2, campaignId=a).body["resultCode"] == "0200007"
    assert client_vdn2.redeliver_callbacks(2, a).body["resultCode"] == "0200007"
    assert client.list_callback_deliveries(2).status_code == 401


def test_cli_lists_deliveries_and_results(
    ctx: AppContext, history: tuple[int, int, Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, receiver = history
    receiver.stop()
    monkeypatch.setattr("outdial.cli._context", lambda db: ctx)
    cli_groups()
    runner = CliRunner()
    shown = runner.invoke(app, ["callbacks", "deliveries", "--vdn", "1", "--failed"])
    assert shown.exit_code == 0, shown.output
    lines = [json.loads(line) for line in shown.stdout.splitlines() if line.startswith("{")]
    assert [(d["campaignId"], d["pushNo"]) for d in lines] == [(b, 1), (a, 1)]
    shown = runner.invoke(app, ["callbacks", "results", "--vdn", "1", "--state", "failed"])
    assert [json.loads(line)["callId"] for line in shown.stdout.splitlines() if line.startswith("{")] == [
        f"call-{b}-0"
    ]
    refused = runner.invoke(app, ["callbacks", "results", "--vdn", "1", "--state", "lost"])
    assert refused.exit_code == 1 and "02000007" in refused.stderr
    requeued = runner.invoke(app, ["callbacks", "redeliver", "--vdn", "1", "--campaign", str(b)])
    assert json.loads(requeued.stdout) == {"campaignId": b, "requeued": 1}


def test_tenant_settings_used_by_delivery(client: Client, ctx: AppContext) -> None:
    ctx.settings.callback_allowed_networks = "127.0.0.0/8"
    shown = client.callback_settings(1).body["returnObject"]
    assert shown == {"callBackUrl": "", "maxPushes": None, "effectiveMaxPushes": 6}
    receiver = Receiver(["500"])
    try:
        assert client.set_callback_settings(1, {"callBackUrl": receiver.url, "maxPushes": 1}).ok
        ctx.clock.advance(1)  # type: ignore[attr-defined]  # the same GET again is not a replay
        assert client.callback_settings(1).body["returnObject"] == {
            "callBackUrl": receiver.url,
            "maxPushes": 1,
            "effectiveMaxPushes": 1,
        }
        enqueue(ctx, None, 1)  # the campaign has no URL of its own
        with httpx.Client(timeout=5) as http_client:
            delivery.deliver_due(ctx, http_client)
        assert len(receiver.batches) == 1  # the tenant's URL, and given up after its single push
        assert client.list_callback_results(1, state="failed").body["totalCount"] == 1
    finally:
        receiver.stop()
    for body, code in (
        ({"maxPushes": 7}, "02000007"),
        ({"maxPushes": 0}, "02000007"),
        ({"callBackUrl": "ftp://x"}, "02000007"),
        ({"callBackUrl": "http://"}, "02000008"),
        ({"callBackUrl": "http://x/" + "a" * 1024}, "02000003"),
        ({}, "02000001"),
    ):
        answer = client.set_callback_settings(1, body).body
        assert answer["resultCode"] == code, (body, answer)
    assert client.set_callback_settings(1, {"callBackUrl": ""}).ok  # cleared, maxPushes kept
    ctx.clock.advance(1)  # type: ignore[attr-defined]  # the same request again is not a replay
    assert client.callback_settings(1).body["returnObject"] == {
        "callBackUrl": "",
        "maxPushes": 1,
        "effectiveMaxPushes": 1,
    }


def test_cli_settings(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("outdial.cli._context", lambda db: ctx)
    cli_groups()
    runner = CliRunner()
    shown = runner.invoke(
        app, ["callbacks", "settings", "--vdn", "3", "--url", "https://crm.example/cb", "--max-pushes", "2"]
    )
    assert json.loads(shown.stdout) == {
        "vdnId": 3,
        "callBackUrl": "https://crm.example/cb",
        "maxPushes": 2,
        "effectiveMaxPushes": 2,
    }
    refused = runner.invoke(app, ["callbacks", "settings", "--vdn", "3", "--max-pushes", "9"])
    assert refused.exit_code == 1 and "maxPushes" in refused.stderr
