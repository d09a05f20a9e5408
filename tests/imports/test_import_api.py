"""uploadFileServer and queryDataImportTask end to end: signed requests, a real SFTP server (asyncssh
in-process, and OpenSSH's sshd where installed), the real import worker run deterministically, counts a
person counts by hand."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from campaigns.factories import create_campaign
from conftest import START
from imports.helpers import (
    add_server,
    csv_bytes,
    dumps,
    failures,
    run_worker,
    start_import,
    task,
    xlsx_bytes,
)
from outdial.client import Client
from outdial.clock import VirtualClock
from outdial.context import AppContext
from outdial.imports import pipeline
from outdial.models.calldata import call_data
from sftp_servers import SftpTestServer

HOUR = 3600 * 1000
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$")


@pytest.fixture
def campaign(client: Client) -> int:
    """A paused campaign of VDN 1 (numbers may be added to it)."""
    return create_campaign(client, initStatus=1)


def stored(ctx: AppContext, campaign_id: int) -> list[Any]:
    with ctx.db.read() as conn:
        return list(
            conn.execute(
                sa.select(call_data).where(call_data.c.campaign_id == campaign_id).order_by(call_data.c.id)
            )
        )


# The hand-made file: 11 records and one blank line. Counted by hand:
#   stored 4 (lines 2, 3, 10, 12); repeats 2 (line 4 repeats line 2, line 7 is already in the campaign);
#   failed 5 (line 5 letters in calledNo, line 6 blacklisted, line 9 caller of 25 characters,
#   line 11 delayTime 7201, line 13 customField with '#'); line 8 is blank and is no record.
HAND_MADE: list[list[Any]] = [
    ["s1", dumps([{"calledNo": "13800000001"}]), None, None, "batch1", None],  # 2 stored
    [None, "[{'calledNo':13800000002}]", None, None, None, None],  # 3 stored (the document's style)
    ["s3", dumps([{"calledNo": "13800000001"}]), None, None, None, None],  # 4 repeat of line 2
    ["s4", dumps([{"calledNo": "1380000000a"}]), None, None, None, None],  # 5 invalid number
    ["s5", dumps([{"calledNo": "13900000000"}]), None, None, None, None],  # 6 blacklisted
    ["s6", dumps([{"calledNo": "13700000000"}]), None, None, None, None],  # 7 already in the campaign
    [None, None, None, None, None, None],  # 8 blank line
    ["s8", dumps([{"calledNo": "13800000008"}]), "1" * 25, None, None, None],  # 9 caller too long
    [42.0, dumps([{"calledNo": "13800000010"}]), 4008001000.0, '{"k":"v"}', None, None],  # 10 stored
    ["s10", dumps([{"calledNo": "13800000011", "delayTime": "7201"}]), None, None, None, None],  # 11
    # 12 stored: two numbers, a delay and a type; recycleTime as an Excel date cell
    [
        "s11",
        dumps([{"calledNo": "13800000012", "type": "SI"}, {"calledNo": "013800000012", "delayTime": 60}]),
        None,
        None,
        None,
        datetime(2026, 11, 30, 18, 0, 0),
    ],
    ["s12", dumps([{"calledNo": "13800000013"}]), None, None, "bad#field", None],  # 13 invalid customField
]
HAND_MADE_FAILURES = [
    (4, "duplicate"),
    (5, "invalid"),
    (6, "blacklist"),
    (7, "duplicate"),
    (9, "invalid"),
    (11, "invalid"),
    (13, "invalid"),
]


def prepare_campaign(client: Client, campaign: int) -> None:
    """13700000000 is already a number of the campaign; 13900000000 is blacklisted."""
    assert client.add_call_data(1, campaign, [{"called": "13700000000"}]).ok
    assert client.add_blocklist(1, ["13900000000"]).ok


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "one-process"])
@pytest.mark.parametrize("file_name", ["handmade.xlsx", "handmade.csv"])
def test_hand_made_file_counts_on_each_server(
    sftp_server: SftpTestServer,
    client: Client,
    ctx: AppContext,
    clock: VirtualClock,
    campaign: int,
    file_name: str,
    fork: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline, "FORK", fork)  # the pass in a forked child, or all in this process
    folder = f"{sftp_server.kind}/{campaign}"
    data = xlsx_bytes(HAND_MADE) if file_name.endswith(".xlsx") else csv_bytes(HAND_MADE)
    sftp_server.put(f"{folder}/{file_name}", data)
    prepare_campaign(client, campaign)
    server_id = add_server(client, sftp_server)
    task_id = start_import(client, campaign, server_id, file_name, file_path="/" + folder)

    assert task(client, clock, campaign, task_id)["status"] == "0"  # preparing until the worker runs
    assert run_worker(ctx) == 1
    result = task(client, clock, campaign, task_id)
    assert (result["status"], result["errMsg"]) == ("2", "")
    assert (result["succNum"], result["repeatNum"], result["failNum"]) == (4, 2, 5)
    assert ISO.match(result["beginTime"]) and ISO.match(result["endTime"])
    assert failures(client, clock, task_id) == HAND_MADE_FAILURES

    rows = {row.called: row for row in stored(ctx, campaign)}
    assert sorted(rows) == ["13700000000", "13800000001", "13800000002", "13800000010", "13800000012"]
    assert rows["13800000001"].session_id == "s1" and rows["13800000001"].custom_field == "batch1"
    # Excel's floats come back as the digits typed
    assert (rows["13800000010"].session_id, rows["13800000010"].caller) == ("42", "4008001000")
    assert rows["13800000012"].recycle_at is not None
    assert {row.import_task_id for called, row in rows.items() if called != "13700000000"} == {task_id}
    assert run_worker(ctx) == 0  # nothing runs twice


def test_document_template_and_password_login(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, campaign: int
) -> None:
    """The document's Table 1 as a workbook: one record, called [{'calledNo':1234566}]."""
    asyncssh_sftp.put("isales/20220310/demo.xlsx", xlsx_bytes([[None, "[{'calledNo':1234566}]"]]))
    server_id = add_server(client, asyncssh_sftp, auth="password")
    task_id = start_import(client, campaign, server_id, "demo.xlsx", file_path="/isales/20220310")
    run_worker(ctx)
    result = task(client, clock, campaign, task_id)
    assert (result["status"], result["succNum"], result["repeatNum"], result["failNum"]) == ("2", 1, 0, 0)
    assert [row.called for row in stored(ctx, campaign)] == ["1234566"]
    # A second import of the same file: its one number is now a repeat, nothing is stored twice.
    clock.advance(1)
    again = start_import(client, campaign, server_id, "demo.xlsx", file_path="/isales/20220310")
    run_worker(ctx)
    result = task(client, clock, campaign, again)
    assert (result["status"], result["succNum"], result["repeatNum"], result["failNum"]) == ("2", 0, 1, 0)
    assert len(stored(ctx, campaign)) == 1


def test_scheduled_import_runs_at_the_next_hour_minute(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, campaign: int
) -> None:
    asyncssh_sftp.put("sched/later.csv", csv_bytes([[None, dumps([{"calledNo": "555"}])]]))
    server_id = add_server(client, asyncssh_sftp)
    # 09:00 now (UTC campaign): 09:30 today
    task_id = start_import(client, campaign, server_id, "later.csv", file_path="sched", hour="9", minute="30")
    clock.set(START + HOUR // 2 - 1)
    assert run_worker(ctx) == 0
    clock.set(START + HOUR // 2)
    assert run_worker(ctx) == 1
    assert task(client, clock, campaign, task_id)["status"] == "2"
    # 08:00 is already past today: tomorrow 08:00
    asyncssh_sftp.put("sched/tomorrow.csv", csv_bytes([[None, dumps([{"calledNo": "556"}])]]))
    tomorrow = start_import(client, campaign, server_id, "tomorrow.csv", file_path="sched", hour=8, minute="00")
    clock.set(START + 23 * HOUR - 1)  # 07:59:59.999 the next day
    assert run_worker(ctx) == 0
    clock.set(START + 23 * HOUR)
    assert run_worker(ctx) == 1
    assert task(client, clock, campaign, tomorrow)["succNum"] == 1


def test_campaign_limit_fails_the_whole_file(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, campaign: int
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"max_unfinished_per_campaign": 3})
    assert client.add_call_data(1, campaign, [{"called": "100"}]).ok
    rows = [[None, dumps([{"calledNo": str(200 + i)}])] for i in range(3)]
    asyncssh_sftp.put("limit/three.xlsx", xlsx_bytes(rows))
    server_id = add_server(client, asyncssh_sftp)
    task_id = start_import(client, campaign, server_id, "three.xlsx", file_path="limit")
    run_worker(ctx)
    result = task(client, clock, campaign, task_id)
    assert result["status"] == "3"
    assert "1 unfinished numbers" in result["errMsg"] and "limit of 3" in result["errMsg"]
    assert [row.called for row in stored(ctx, campaign)] == ["100"]


def test_file_record_limit(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, campaign: int
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"max_records_per_file": 5})
    rows = [[None, dumps([{"calledNo": str(300 + i)}])] for i in range(6)]
    asyncssh_sftp.put("limit/six.csv", csv_bytes(rows))
    server_id = add_server(client, asyncssh_sftp)
    task_id = start_import(client, campaign, server_id, "six.csv", file_path="limit")
    run_worker(ctx)
    result = task(client, clock, campaign, task_id)
    assert result["status"] == "3"
    assert "holds 6 records; at most 5" in result["errMsg"]
    assert stored(ctx, campaign) == []


def test_executing_campaign_is_refused(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock
) -> None:
    running = create_campaign(client)  # published, inside its time window: executing
    server_id = add_server(client, asyncssh_sftp)
    response = client.import_file(1, running, server_id, "x.xlsx")
    assert response.code == "0200019" and f"campaignId {running} is executing" in response.body["resultDesc"]


@pytest.mark.parametrize("auth", ["password", "key"])
def test_secrets_are_encrypted_and_never_logged(
    asyncssh_sftp: SftpTestServer,
    client: Client,
    ctx: AppContext,
    clock: VirtualClock,
    campaign: int,
    caplog: pytest.LogCaptureFixture,
    auth: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = asyncssh_sftp.password if auth == "password" else asyncssh_sftp.client_private_key
    assert secret
    # Any piece of the secret gives it away: every line of a key's body is looked for on its own.
    pieces = [secret] if auth == "password" else [line for line in secret.splitlines() if "-----" not in line]
    assert pieces
    server_id = add_server(client, asyncssh_sftp, auth=auth)
    asyncssh_sftp.put(f"secret-{auth}/one.csv", csv_bytes([[None, dumps([{"calledNo": "777"}])]]))
    task_id = start_import(client, campaign, server_id, "one.csv", file_path=f"secret-{auth}")
    run_worker(ctx)
    assert task(client, clock, campaign, task_id)["status"] == "2"  # the secret was used, so it was kept
    from outdial.models.imports import file_servers

    with ctx.db.read() as conn:
        row = conn.execute(sa.select(file_servers)).one()
    stored = row.password_encrypted if auth == "password" else row.private_key_encrypted
    assert ctx.box.decrypt(stored) == secret
    listed = client.query_file_servers(1)
    assert listed.ok and listed.body["total"] == 1
    for piece in pieces:
        assert piece not in str(tuple(row))
        assert piece not in str(listed.body)
        assert piece not in caplog.text
