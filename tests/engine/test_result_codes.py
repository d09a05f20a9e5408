"""The VDN's failCode -> resultCode map (outdial's own interface and CLI): what it answers, what it refuses
(all or nothing), and that the engine uses a change for the calls that end after it, in call results and in
noRetryPolicy, without the campaign being touched."""

from __future__ import annotations

import json

import pytest
from runner_support import ALL_BUSY, attempts_of, engine, load_and_resume, records_of, utc
from typer.testing import CliRunner

from campaigns.factories import create_campaign
from outdial.cli import app, cli_groups
from outdial.client import Client
from outdial.clock import VirtualClock
from outdial.context import AppContext
from outdial.models import calldata as cd

# Every failCode the engine writes (outcomes.py, and 34608 for an attempt a dead worker left open).
ENGINE_CODES = [
    "00000",
    "00531",
    "00537",
    "00538",
    "00548",
    "00549",
    "00601",
    "00604",
    "00606",  # network_failure (the SIP adapter)
    "00701",
    "01040",
    "01046",
    "34606",
    "34608",
]


def table(client: Client, clock: VirtualClock, vdn: int = 1) -> dict[str, tuple[str, str, bool]]:
    clock.advance(1)  # the same signed GET twice within a second would be a replay
    response = client.result_codes(vdn)
    assert response.ok, response.body
    return {
        e["failCode"]: (e["resultCode"], e["defaultResultCode"], e["overridden"])
        for e in response.body["data"]
    }


def test_the_defaults_cover_every_code_the_engine_writes(client: Client, clock: VirtualClock) -> None:
    shown = table(client, clock)
    assert list(shown) == ENGINE_CODES  # success first, then in code order
    assert shown["00000"] == ("OB99999", "OB99999", False)
    assert all(shown[code] == ("OB" + code, "OB" + code, False) for code in ENGINE_CODES[1:])


def test_overrides_per_vdn_and_back_to_the_default(
    client: Client, client_vdn2: Client, clock: VirtualClock
) -> None:
    answer = client.set_result_codes(1, {"00537": "BUSY", "01040": "NO_ANSWER", "99001": "CUSTOM.1"})
    assert answer.ok, answer.body
    after = {e["failCode"]: e["resultCode"] for e in answer.body["data"]}
    assert (after["00537"], after["01040"], after["99001"], after["00538"]) == (
        "BUSY",
        "NO_ANSWER",
        "CUSTOM.1",
        "OB00538",
    )
    shown = table(client, clock)
    assert shown["00537"] == ("BUSY", "OB00537", True)
    assert shown["99001"] == ("CUSTOM.1", "OB99001", True)  # a code of the caller's own is listed too
    assert table(client_vdn2, clock, 2)["00537"] == (
        "OB00537",
        "OB00537",
        False,
    )  # another VDN keeps the default

    clock.advance(1)
    assert client.set_result_codes(1, {"00537": "", "99001": None}).ok
    shown = table(client, clock)
    assert shown["00537"] == ("OB00537", "OB00537", False)
    assert "99001" not in shown
    assert shown["01040"] == ("NO_ANSWER", "OB01040", True)  # left out of the change: kept


@pytest.mark.parametrize(
    "body,code,desc",
    [
        ({}, "02000001", "resultCodes is required"),
        ({"resultCodes": []}, "02000001", "resultCodes is required"),
        ({"resultCodes": {"00537": "BUSY"}}, "02000006", "resultCodes must be a JSON array"),
        ({"resultCodes": ["00537=BUSY"]}, "02000006", "resultCodes[0] must be a JSON object"),
        ({"resultCodes": [{"resultCode": "BUSY"}]}, "02000001", "resultCodes[0].failCode is required"),
        (
            {"resultCodes": [{"failCode": "537", "resultCode": "BUSY"}]},
            "02000007",
            "resultCodes[0].failCode must be five digits",
        ),
        (
            {"resultCodes": [{"failCode": 537, "resultCode": "BUSY"}]},
            "02000007",
            "resultCodes[0].failCode must be five digits",
        ),
        (
            {"resultCodes": [{"failCode": "00537", "resultCode": "A B"}]},
            "02000007",
            "resultCodes[0].resultCode must be 1-20",
        ),
        (
            {"resultCodes": [{"failCode": "00537", "resultCode": "X" * 21}]},
            "02000007",
            "resultCodes[0].resultCode must be 1-20",
        ),
        (
            {
                "resultCodes": [
                    {"failCode": "00537", "resultCode": "A"},
                    {"failCode": "00537", "resultCode": "B"},
                ]
            },
            "02000007",
            "resultCodes[1].failCode 00537 is given twice",
        ),
        (
            {"resultCodes": [{"failCode": f"{i:05d}", "resultCode": "A"} for i in range(101)]},
            "02000011",
            "resultCodes may hold at most 100",
        ),
    ],
)
def test_refusals_name_the_field(
    client: Client, clock: VirtualClock, body: dict, code: str, desc: str
) -> None:
    response = client.request("PUT", "/rest/outdial/v1/1/resultcodes", body)
    assert response.status_code == 200
    assert response.code == code, response.body
    assert response.body["resultDesc"].startswith(desc), response.body


def test_a_refused_change_changes_nothing(client: Client, clock: VirtualClock) -> None:
    good, bad = {"failCode": "00548", "resultCode": "OFF"}, {"failCode": "00537", "resultCode": "A B"}
    refused = client.request("PUT", "/rest/outdial/v1/1/resultcodes", {"resultCodes": [good, bad]})
    assert refused.code == "02000007" and refused.body["resultDesc"].startswith("resultCodes[1].resultCode")
    assert not any(overridden for _, _, overridden in table(client, clock).values())


def test_a_running_campaign_uses_a_change_for_the_calls_that_end_after_it(
    ctx: AppContext, client: Client
) -> None:
    retry = {"policyType": 0, "retryDay": 1, "retryTimes": 3, "callInterval": 600, "noRetryPolicy": ["BUSY"]}
    cid = create_campaign(client, retryPolicy=retry, callPolicy=None, initStatus=1)
    load_and_resume(ctx, client, {cid: ["13800000001", "13800000002"]})
    runner = engine(ctx, mix=ALL_BUSY, refresh_ms=1000)
    runner.run_virtual(utc("2026-11-23 09:01:00"))  # both numbers busy once: OB00537, not listed, so retried
    first = attempts_of(ctx, cid)
    assert [a.result_code for a in first] == ["OB00537", "OB00537"]
    assert client.set_result_codes(1, {"00537": "BUSY"}).ok  # the campaign itself is not modified
    runner.run_virtual(utc("2026-11-23 12:00:00"))
    made = attempts_of(ctx, cid)
    assert [a.result_code for a in made] == ["OB00537", "OB00537", "BUSY", "BUSY"]  # the retries, 600 s later
    assert all(
        r.state == cd.FINISHED for r in records_of(ctx, cid)
    )  # BUSY is in noRetryPolicy: no third call


def test_cli_sets_and_lists(
    ctx: AppContext, client: Client, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("outdial.cli._context", lambda db: ctx)
    cli_groups()
    runner = CliRunner()
    done = runner.invoke(app, ["resultcodes", "set", "--vdn", "1", "00537=BUSY", "01040=NOANSWER"])
    assert done.exit_code == 0, done.output
    assert [json.loads(line)["failCode"] for line in done.stdout.splitlines()] == ["00537", "01040"]
    assert runner.invoke(app, ["resultcodes", "set", "--vdn", "1", "01040="]).exit_code == 0
    listed = [
        json.loads(line)
        for line in runner.invoke(app, ["resultcodes", "list", "--vdn", "1"]).stdout.splitlines()
    ]
    assert {e["failCode"]: e["resultCode"] for e in listed if e["overridden"]} == {"00537": "BUSY"}
    assert table(client, clock)["00537"] == ("BUSY", "OB00537", True)  # the same map the interface answers
    refused = runner.invoke(app, ["resultcodes", "set", "--vdn", "1", "537=X"])
    assert (
        refused.exit_code == 1 and "02000007: resultCodes[0].failCode must be five digits" in refused.stderr
    )
    assert runner.invoke(app, ["resultcodes", "set", "--vdn", "1", "00537"]).exit_code == 2
