"""The file-server interfaces (reference section 5/6) and queryDataImportTask (document 002) through the
signed client."""

from __future__ import annotations

from typing import Any

import pytest

from campaigns.factories import create_campaign
from imports.helpers import add_server, csv_bytes, dumps, run_worker, start_import
from outdial.calldata.records import validate_file_row
from outdial.client import Client
from outdial.clock import VirtualClock
from outdial.context import AppContext
from sftp_servers import SftpTestServer

SERVER_BODY: dict[str, Any] = {
    "userName": "isales",
    "serverPwd": "S3cret-pass!",
    "serverInfo": {"ip": "10.1.2.3", "port": "22", "filePath": "/home/sftp"},
}
TASK_KEYS = {"id", "beginTime", "endTime", "status", "succNum", "repeatNum", "failNum", "errMsg"}


def with_changes(**changes: Any) -> dict[str, Any]:
    body = {**SERVER_BODY, "serverInfo": dict(SERVER_BODY["serverInfo"])}
    for key, value in changes.items():
        target = body["serverInfo"] if key in ("ip", "port", "filePath") else body
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return body


def test_add_query_update_delete(client: Client, clock: VirtualClock) -> None:
    added = client.add_file_server(1, SERVER_BODY)
    assert added.ok and len(added.body["serverId"]) == 30
    sid = added.body["serverId"]
    listed = client.query_file_servers(1)
    assert listed.body["total"] == 1
    assert listed.body["data"] == [
        {
            "serverId": sid,
            "userName": "isales",
            "serverInfo": {"ip": "10.1.2.3", "port": "22", "filePath": "/home/sftp"},
            "authType": "password",
            "hostKey": "",
        }
    ]
    # the same server twice in one VDN is refused; another VDN may add it
    clock.advance(1)
    twice = client.add_file_server(1, SERVER_BODY)
    assert twice.code == "0200001" and sid in twice.body["resultDesc"]
    # update without serverPwd keeps the password; a new ip needs one
    assert client.update_file_server(1, sid, with_changes(serverPwd=None, filePath="/data/")).ok
    clock.advance(1)
    assert client.query_file_servers(1).body["data"][0]["serverInfo"]["filePath"] == "/data"
    moved = client.update_file_server(1, sid, with_changes(serverPwd=None, ip="10.9.9.9"))
    assert (
        moved.code == "02000001"
        and moved.body["resultDesc"] == "serverPwd is required when serverInfo.ip changes"
    )
    assert client.delete_file_server(1, sid).ok
    clock.advance(1)
    assert client.query_file_servers(1).body["total"] == 0
    clock.advance(1)
    gone = client.delete_file_server(1, sid)
    assert gone.code == "02000007" and gone.body["resultDesc"] == f"serverId {sid} does not exist"


def test_servers_are_per_vdn(client: Client, client_vdn2: Client) -> None:
    sid = client.add_file_server(1, SERVER_BODY).body["serverId"]
    assert client_vdn2.add_file_server(2, SERVER_BODY).ok  # the same address in another tenant
    assert client_vdn2.query_file_servers(2).body["total"] == 1
    assert client_vdn2.delete_file_server(2, sid).code == "02000007"
    assert client_vdn2.update_file_server(2, sid, SERVER_BODY).code == "02000007"


@pytest.mark.parametrize(
    "changes,code,desc",
    [
        ({"userName": None}, "02000001", "userName is required"),
        ({"userName": "u" * 31}, "02000003", "userName must be at most 30"),
        ({"serverPwd": None}, "02000001", "serverPwd is required"),
        ({"serverPwd": "short"}, "02000005", "serverPwd must be 8 to 80"),
        ({"serverPwd": "p" * 81}, "02000005", "serverPwd must be 8 to 80"),
        ({"serverInfo": None}, "02000001", "serverInfo is required"),
        ({"ip": None}, "02000001", "serverInfo.ip is required"),
        ({"ip": "host name"}, "02000002", "serverInfo.ip may contain only"),
        ({"port": "70000"}, "02000007", "serverInfo.port must be between 1 and 65535"),
        ({"port": "ssh"}, "02000006", "serverInfo.port must be an integer"),
        ({"filePath": None}, "02000001", "serverInfo.filePath is required"),
        ({"filePath": "relative/dir"}, "02000007", "serverInfo.filePath must be an absolute path"),
        ({"privateKey": "-----BEGIN nonsense"}, "02000009", "serverPwd and privateKey cannot both be set"),
        ({"serverPwd": None, "privateKey": "not a key"}, "02000007", "privateKey must be an unencrypted"),
        ({"hostKey": "ssh-ed25519 notbase64"}, "02000007", "hostKey must be an OpenSSH public key"),
    ],
)
def test_add_server_refusals(client: Client, changes: dict[str, Any], code: str, desc: str) -> None:
    response = client.add_file_server(1, with_changes(**changes))
    assert (response.code, response.body["resultDesc"][: len(desc)]) == (code, desc)
    assert client.query_file_servers(1).body["total"] == 0


def test_query_server_paging(client: Client, clock: VirtualClock) -> None:
    ids = []
    for i in range(3):  # listed in the order they were added
        clock.advance(1)
        ids.append(client.add_file_server(1, with_changes(userName=f"user{i}")).body["serverId"])
    page = client.query_file_servers(1, offset=1, limit=1)
    assert (page.body["total"], [s["serverId"] for s in page.body["data"]]) == (3, ids[1:2])
    assert client.query_file_servers(1, limit=101).code == "02000007"


# ---------------------------------------------------------------- queryDataImportTask


@pytest.fixture
def three_tasks(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock
) -> tuple[int, list[str]]:
    """Three tasks of one campaign: imported (2), failed (3), and scheduled (0), created in that order."""
    campaign = create_campaign(client, initStatus=1)
    asyncssh_sftp.put(f"q/{campaign}/ok.csv", csv_bytes([[None, dumps([{"calledNo": "1"}])]] * 2))
    sid = add_server(client, asyncssh_sftp)
    done = start_import(client, campaign, sid, "ok.csv", file_path=f"q/{campaign}")
    clock.advance(1)
    failed = start_import(client, campaign, sid, "missing.csv", file_path=f"q/{campaign}")
    run_worker(ctx)
    clock.advance(1)
    later = start_import(client, campaign, sid, "ok.csv", file_path=f"q/{campaign}", hour=23, minute=59)
    return campaign, [done, failed, later]


def test_query_shape_and_filters(
    three_tasks: tuple[int, list[str]], client: Client, clock: VirtualClock
) -> None:
    campaign, (done, failed, later) = three_tasks
    response = client.query_import_tasks(1, campaign, offset=0, limit=10)
    assert response.ok
    body = response.body
    assert (body["resultCode"], body["resultDesc"], body["returnCode"], body["returnDesc"]) == (
        "0200000",
        "success",
        "0200000",
        "success",
    )
    assert body["count"] == 3
    result = body["result"]
    assert [t["id"] for t in result] == [later, failed, done]  # newest first
    # the example campaign calls only numbers of type "SI": the imported file's untyped rows are counted
    assert [set(t) - TASK_KEYS for t in result] == [set(), set(), {"notCalledCount"}]
    assert result[2]["notCalledCount"] == 1
    by_id = {t["id"]: t for t in result}
    # the first file holds one number twice: 1 stored, 1 repeat
    assert {k: by_id[done][k] for k in ("status", "succNum", "repeatNum", "failNum", "errMsg")} == {
        "status": "2",
        "succNum": 1,
        "repeatNum": 1,
        "failNum": 0,
        "errMsg": "",
    }
    assert by_id[failed]["status"] == "3" and by_id[failed]["errMsg"].startswith("file not found")
    assert (by_id[later]["status"], by_id[later]["beginTime"], by_id[later]["endTime"]) == ("0", "", "")
    assert by_id[done]["beginTime"] == "2026-11-23T09:00:01.000+00:00"  # the worker ran at 09:00:01
    clock.advance(1)
    page = client.query_import_tasks(1, campaign, offset=1, limit=1)
    assert page.body["count"] == 3 and [t["id"] for t in page.body["result"]] == [failed]
    clock.advance(1)
    picked = client.query_import_tasks(1, campaign, import_task_ids=[done, "123"])
    assert picked.body["count"] == 1 and [t["id"] for t in picked.body["result"]] == [done]
    clock.advance(1)
    assert client.query_import_tasks(1, campaign, import_task_ids=[]).body["count"] == 3


@pytest.mark.parametrize(
    "body,code,desc",
    [
        ({"limit": 10}, "02000001", "offset is required"),
        ({"offset": 0}, "02000001", "limit is required"),
        ({"offset": 0, "limit": 0}, "02000007", "limit must be between 1 and 100"),
        ({"offset": 0, "limit": 101}, "02000007", "limit must be between 1 and 100"),
        ({"offset": -1, "limit": 10}, "02000007", "offset must be at least 0"),
        ({"offset": "a", "limit": 10}, "02000006", "offset must be an integer"),
        ({"offset": 0, "limit": 10, "importTaskIds": "1"}, "02000006", "importTaskIds must be a JSON array"),
        ({"offset": 0, "limit": 10, "importTaskIds": [{}]}, "02000006", "importTaskIds[0] must be a string"),
        (
            {"offset": 0, "limit": 10, "importTaskIds": [str(i) for i in range(101)]},
            "02000011",
            "importTaskIds may hold at most 100 ids",
        ),
    ],
)
def test_query_refusals(client: Client, body: dict[str, Any], code: str, desc: str) -> None:
    campaign = create_campaign(client, initStatus=1)
    response = client.request(
        "POST", f"/rest/isales/v1/openapi/campaigns/1/calldatafile/queryDataImportTask/{campaign}", body
    )
    assert (response.code, response.body["resultDesc"]) == (code, desc)


def test_query_unknown_or_foreign_campaign(client: Client, client_vdn2: Client) -> None:
    campaign = create_campaign(client, initStatus=1)
    assert client.query_import_tasks(1, 9999).code == "0200007"
    assert client_vdn2.query_import_tasks(2, campaign).code == "0200007"


def test_failures_of_another_vdn_are_hidden(
    three_tasks: tuple[int, list[str]], client: Client, client_vdn2: Client
) -> None:
    _, (done, _, _) = three_tasks
    mine = client.import_failures(1, done)
    assert mine.ok and mine.body["total"] == 1
    assert mine.body["data"] == [
        {"line": 3, "kind": "duplicate", "reason": "called: 1 is already in the campaign or the file"}
    ]
    assert client_vdn2.import_failures(2, done).code == "02000007"


def test_failed_rows_keep_their_reasons_exactly_and_come_in_pages(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext
) -> None:
    """Reasons quote the file's cells, with backslashes (COPY's escape character on PostgreSQL) and
    non-ASCII text: they come back exactly as the validator wrote them, in line order, page by page."""
    campaign = create_campaign(client, initStatus=1)
    odd = ["13\t80", "13\\80", "13\n80", "1380é", "13\\N"]
    cells = [[None, dumps([{"calledNo": number}])] for number in odd]
    rows = cells[:2] + [[None, dumps([{"calledNo": "1"}])]] + cells[2:] + [[None, dumps([{"calledNo": "1"}])]]
    asyncssh_sftp.put(f"f/{campaign}/odd.csv", csv_bytes(rows))
    task_id = start_import(
        client, campaign, add_server(client, asyncssh_sftp), "odd.csv", file_path=f"f/{campaign}"
    )
    run_worker(ctx)

    def reason(cells: list[Any]) -> str:
        result = validate_file_row([*cells, None, None, None, None])
        assert isinstance(result, str)
        return result

    expected = [
        {"line": 2, "kind": "invalid", "reason": reason(cells[0])},
        {"line": 3, "kind": "invalid", "reason": reason(cells[1])},
        *(
            {"line": line, "kind": "invalid", "reason": reason(c)}
            for line, c in zip((5, 6, 7), cells[2:], strict=True)
        ),
        {"line": 8, "kind": "duplicate", "reason": "called: 1 is already in the campaign or the file"},
    ]
    assert "\\" in expected[1]["reason"] and "é" in expected[3]["reason"]
    pages = [client.import_failures(1, task_id, offset=offset, limit=2) for offset in (0, 2, 4, 6)]
    assert all(page.ok and page.body["total"] == 6 for page in pages)
    assert [item for page in pages for item in page.body["data"]] == expected
