"""Every way an import can fail as a whole ends the task with status 3 and a clear errMsg, stores
nothing, and leaves the service serving (the next import works). And the upload's refusals."""

from __future__ import annotations

import asyncssh
import pytest

from campaigns.factories import create_campaign
from imports.helpers import (
    add_server,
    csv_bytes,
    dumps,
    far_cell_xlsx,
    run_worker,
    start_import,
    task,
    xlsx_bytes,
    zip_bomb,
)
from imports.test_import_api import stored
from outdial.client import Client
from outdial.clock import VirtualClock
from outdial.context import AppContext
from sftp_servers import SftpTestServer

GOOD = xlsx_bytes([[None, dumps([{"calledNo": "13800000001"}])]])
WORKBOOK = xlsx_bytes([[None, dumps([{"calledNo": "1"}])]])
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
LATE_DAMAGE = b"called\n" + b"".join(b"%d\n" % (13800000000 + i) for i in range(12000)) + b"1" * 200_000 + b"\n"

# (file name, content or None for "not there", expected words in errMsg)
BAD_FILES = [
    ("missing.xlsx", None, "file not found on 127.0.0.1:"),
    ("empty.xlsx", b"", "is empty"),
    ("empty.csv", b"", "is empty"),
    ("picture.xlsx", PNG, "picture.xlsx is not an .xlsx workbook: it is a PNG image"),
    ("text.xlsx", b"called\n1\n", "text.xlsx is not an .xlsx workbook"),
    ("truncated.xlsx", WORKBOOK[: len(WORKBOOK) // 2], "truncated.xlsx is a damaged .xlsx archive"),
    ("bomb.xlsx", zip_bomb(), "refused as a zip bomb"),
    # A few KB each, but calamine's grid of the sheet would need 512 GiB (it aborts the process that
    # asks) and 4.6 GB: the reading process stops at its memory limit, the service goes on.
    ("farthest.xlsx", far_cell_xlsx(1_048_575, 16_383), "it needs more memory than an import may use"),
    ("wide.xlsx", far_cell_xlsx(499_000, 300), "it needs more memory than an import may use"),
    ("header.xlsx", xlsx_bytes([["1"]], header=["phone"]), "header: unknown column 'phone'"),
    ("header.csv", b"sessionId,caller\ns1,1\n", "header: the mandatory column 'called' is missing"),
    ("headeronly.csv", b"sessionId,called\n", "has a header but no records"),
    ("binary.csv", b"called\n\xff\xfe1\n", "binary.csv is not UTF-8 text"),
    # Found only in the pass, after two blocks of rows were written: the child's failure ends the task.
    ("late.csv", LATE_DAMAGE, "late.csv: line 12002 is not valid CSV (field larger than field limit"),
]


@pytest.fixture
def campaign(client: Client) -> int:
    return create_campaign(client, initStatus=1)


def import_then_check_service_still_serves(
    server: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, campaign: int, sid: str
) -> None:
    server.put(f"ok/{campaign}/good.xlsx", GOOD)
    clock.advance(1)
    good = start_import(client, campaign, sid, "good.xlsx", file_path=f"ok/{campaign}")
    run_worker(ctx)
    assert task(client, clock, campaign, good)["status"] == "2"


@pytest.mark.parametrize("name,content,reason", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_bad_file_fails_the_task(
    asyncssh_sftp: SftpTestServer,
    client: Client,
    ctx: AppContext,
    clock: VirtualClock,
    campaign: int,
    name: str,
    content: bytes | None,
    reason: str,
) -> None:
    folder = f"bad/{campaign}-{name}"
    if content is not None:
        asyncssh_sftp.put(f"{folder}/{name}", content)
    sid = add_server(client, asyncssh_sftp)
    task_id = start_import(client, campaign, sid, name, file_path=folder)
    assert run_worker(ctx) == 1
    result = task(client, clock, campaign, task_id)
    assert result["status"] == "3"
    assert reason in result["errMsg"]
    assert (result["succNum"], result["repeatNum"], result["failNum"]) == (0, 0, 0)
    assert result["endTime"] != ""
    assert stored(ctx, campaign) == []
    import_then_check_service_still_serves(asyncssh_sftp, client, ctx, clock, campaign, sid)


def test_server_down(client: Client, ctx: AppContext, clock: VirtualClock, campaign: int, closed_port: int) -> None:
    body = {"userName": "u", "serverPwd": "password1", "serverInfo": {"ip": "127.0.0.1", "port": str(closed_port), "filePath": "/"}}
    response = client.add_file_server(1, body)
    assert response.ok, response.body
    task_id = start_import(client, campaign, response.body["serverId"], "a.xlsx")
    run_worker(ctx)
    result = task(client, clock, campaign, task_id)
    assert result["status"] == "3"
    assert result["errMsg"] == (
        f"connection refused by 127.0.0.1:{closed_port} (is the SFTP server running on that port?)"
    )


def test_a_file_server_outside_the_network_policy_is_never_dialed(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, campaign: int, closed_port: int
) -> None:
    # the default policy (public addresses only): an open port and a closed one fail alike, before any
    # connection, so the task's error cannot serve as a port scanner
    ctx.settings.fileserver_allowed_networks = ""
    reasons = []
    for port in (asyncssh_sftp.port, closed_port):
        body = {"userName": "u", "serverPwd": "password1", "serverInfo": {"ip": "127.0.0.1", "port": str(port), "filePath": "/"}}
        response = client.add_file_server(1, body)
        assert response.ok, response.body  # stored: the policy is applied to the address dialed
        task_id = start_import(client, campaign, response.body["serverId"], "a.xlsx")
        run_worker(ctx)
        result = task(client, clock, campaign, task_id)
        assert result["status"] == "3"
        reasons.append(result["errMsg"])
    expected = "file server '127.0.0.1': its address is not allowed by the network policy (OUTDIAL_FILESERVER_ALLOWED_NETWORKS)"
    assert reasons == [expected, expected]


def test_login_refused(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, campaign: int
) -> None:
    sid = add_server(client, asyncssh_sftp, auth="password", serverPwd="not-the-password")
    task_id = start_import(client, campaign, sid, "a.xlsx")
    run_worker(ctx)
    result = task(client, clock, campaign, task_id)
    assert result["status"] == "3"
    assert result["errMsg"] == (
        f"login refused by 127.0.0.1:{asyncssh_sftp.port} for user 'isales' (wrong password or key)"
    )
    assert "not-the-password" not in str(result)


def test_wrong_host_key_then_fixed_by_update(
    sftp_server: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, campaign: int
) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519")
    other_text = " ".join(other.export_public_key("openssh").decode().split()[:2])
    sid = add_server(client, sftp_server, hostKey=other_text)
    sftp_server.put(f"hk/{campaign}/good.xlsx", GOOD)
    task_id = start_import(client, campaign, sid, "good.xlsx", file_path=f"hk/{campaign}")
    run_worker(ctx)
    result = task(client, clock, campaign, task_id)
    assert result["status"] == "3"
    assert result["errMsg"].startswith(f"host key mismatch: 127.0.0.1:{sftp_server.port} presented SHA256:")
    assert other.get_fingerprint("sha256") in result["errMsg"]
    assert stored(ctx, campaign) == []
    # Pinning the right key through updateServer (the key login is kept: no new secret is needed)
    body = {
        "userName": sftp_server.key_user,
        "serverInfo": {"ip": sftp_server.host, "port": str(sftp_server.port), "filePath": sftp_server.default_path},
        "hostKey": sftp_server.host_key,
    }
    assert client.update_file_server(1, sid, body).ok
    clock.advance(1)
    again = start_import(client, campaign, sid, "good.xlsx", file_path=f"hk/{campaign}")
    run_worker(ctx)
    assert task(client, clock, campaign, again)["status"] == "2"


def test_deleted_server_fails_the_waiting_task(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, campaign: int
) -> None:
    sid = add_server(client, asyncssh_sftp)
    task_id = start_import(client, campaign, sid, "a.csv", hour=23, minute=0)
    assert client.delete_file_server(1, sid).ok
    clock.advance(15 * 3600)
    run_worker(ctx)
    result = task(client, clock, campaign, task_id)
    assert (result["status"], result["errMsg"]) == ("3", f"file server {sid} no longer exists")


# ---------------------------------------------------------------- uploadFileServer refusals


@pytest.mark.parametrize(
    "change,code,desc",
    [
        ({"serverId": None}, "02000001", "serverId is required"),
        ({"fileName": None}, "02000001", "fileName is required"),
        ({"fileName": "data.xls"}, "02000007", "fileName must end in .xlsx or .csv"),
        ({"fileName": "a/b.xlsx"}, "02000002", "fileName must be a bare file name"),
        ({"filePath": "../etc"}, "02000007", "filePath must not contain '..' segments"),
        ({"filePath": "/isales/../../etc"}, "02000007", "filePath must not contain '..' segments"),
        ({"filePath": "a\\b"}, "02000002", "filePath contains an invalid character"),
        ({"hour": "9"}, "02000010", "minute must be set together with hour"),
        ({"minute": "30"}, "02000010", "hour must be set together with minute"),
        ({"hour": "24", "minute": "00"}, "02000007", "hour must be between 0 and 23"),
        ({"hour": "-1", "minute": "00"}, "02000007", "hour must be between 0 and 23"),
        ({"hour": "9", "minute": "60"}, "02000007", "minute must be between 0 and 59"),
        ({"hour": "nine", "minute": "00"}, "02000006", "hour must be an integer"),
        ({"serverId": "123"}, "02000007", "serverId 123 does not exist"),
        ({"serverId": "1" * 33}, "02000003", "serverId must be at most 32 characters"),
        ({"fileName": "a" * 251 + ".xlsx"}, "02000003", "fileName must be at most 255 characters"),
    ],
)
def test_upload_refusals(
    asyncssh_sftp: SftpTestServer,
    client: Client,
    ctx: AppContext,
    clock: VirtualClock,
    campaign: int,
    change: dict[str, object],
    code: str,
    desc: str,
) -> None:
    sid = add_server(client, asyncssh_sftp)
    body: dict[str, object] = {"serverId": sid, "fileName": "demo.xlsx"}
    for key, value in change.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    response = client.request(
        "POST", f"/rest/isales/v1/openapi/campaigns/1/calldatafile/uploadFileServer/{campaign}", body
    )
    assert response.status_code == 200
    assert response.code == code, response.body
    assert response.body["resultDesc"].startswith(desc), response.body
    clock.advance(1)
    listed = client.query_import_tasks(1, campaign)
    assert listed.body["count"] == 0  # nothing half-written


def test_upload_to_unknown_or_foreign_campaign(
    asyncssh_sftp: SftpTestServer, client: Client, client_vdn2: Client, campaign: int
) -> None:
    sid = add_server(client, asyncssh_sftp)
    assert client.import_file(1, 999, sid, "a.xlsx").code == "0200007"
    # VDN 2 sees neither VDN 1's campaign nor its server
    foreign = client_vdn2.import_file(2, campaign, sid, "a.xlsx")
    assert foreign.code == "0200007"
    assert client_vdn2.import_file(1, campaign, sid, "a.xlsx").status_code == 401


def test_csv_with_semicolons_and_reordered_columns(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, campaign: int
) -> None:
    """A .csv has the template's header; the columns may come in another order."""
    data = b"called;sessionId\n\"[{'calledNo':'801'}]\";a\n\"[{'calledNo':'802'}]\";b\n"
    asyncssh_sftp.put(f"csv/{campaign}/semi.csv", data)
    sid = add_server(client, asyncssh_sftp)
    task_id = start_import(client, campaign, sid, "semi.csv", file_path=f"csv/{campaign}")
    run_worker(ctx)
    result = task(client, clock, campaign, task_id)
    assert (result["status"], result["succNum"]) == ("2", 2)
    assert sorted((r.called, r.session_id) for r in stored(ctx, campaign)) == [("801", "a"), ("802", "b")]


def test_blank_csv_file_name_case(
    asyncssh_sftp: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, campaign: int
) -> None:
    """Upper-case extensions are the same formats."""
    asyncssh_sftp.put(f"case/{campaign}/UP.CSV", csv_bytes([[None, dumps([{"calledNo": "9"}])]]))
    sid = add_server(client, asyncssh_sftp)
    task_id = start_import(client, campaign, sid, "UP.CSV", file_path=f"case/{campaign}")
    run_worker(ctx)
    assert task(client, clock, campaign, task_id)["succNum"] == 1


def test_a_line_of_millions_of_cells_stops_at_the_memory_limit(
    asyncssh_sftp: SftpTestServer,
    client: Client,
    ctx: AppContext,
    clock: VirtualClock,
    campaign: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 24 MB of commas: the csv module makes one list of 24 million cells (~190 MiB of pointers) for it.
    monkeypatch.setattr(ctx.settings, "import_memory_mb", 128)
    folder = f"wide/{campaign}"
    asyncssh_sftp.put(f"{folder}/commas.csv", b"called\n13800000001" + b"," * 24_000_000 + b"\n")
    sid = add_server(client, asyncssh_sftp)
    task_id = start_import(client, campaign, sid, "commas.csv", file_path=folder)
    assert run_worker(ctx) == 1
    result = task(client, clock, campaign, task_id)
    assert result["status"] == "3"
    assert "it needs more memory than an import may use (128 MiB, OUTDIAL_IMPORT_MEMORY_MB)" in result["errMsg"]
    assert stored(ctx, campaign) == []
    import_then_check_service_still_serves(asyncssh_sftp, client, ctx, clock, campaign, sid)
