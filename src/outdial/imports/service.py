"""File servers and import tasks: the rules of the interfaces (the import itself is in pipeline.py)."""

from __future__ import annotations

import posixpath
import re
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncssh
from sqlalchemy.engine import Connection, Row

from outdial import errors
from outdial import validation as v
from outdial.calldata.service import not_called_by_import_task
from outdial.campaigns.repository import get_campaign
from outdial.campaigns.status import COMPLETED, EXECUTING, effective_status
from outdial.clock import from_datetime, to_datetime
from outdial.db import after_commit
from outdial.errors import ApiError
from outdial.imports import repository as repo
from outdial.imports.paths import resolve_remote_path
from outdial.imports.sftp import parse_host_keys
from outdial.models import imports as im
from outdial.secretbox import SecretBox

IMPORT_ACCEPTED = "Exporting data... View details in Import Result."


def new_id(now_ms: int) -> str:
    """30 digits like iSales' ids: the creation time in ms, then 17 random digits."""
    return f"{now_ms:013d}{secrets.randbelow(10**17):017d}"


# --- file servers ----------------------------------------------------------------------------------------


_HOST = re.compile(r"[A-Za-z0-9._:\[\]-]+")


def _server_values(body: dict[str, Any], box: SecretBox, *, password_required: bool) -> dict[str, Any]:
    """The columns of a file server from an addServer / updateServer body. `hostKey` is changed only when
    the body holds it (an empty one removes the pin), so an update in iSales' own shape keeps the pin."""
    username = v.require_str(body, "userName", max_len=30)
    info = v.require_object(body, "serverInfo")
    host = v.require_str(
        info, "ip", "serverInfo.ip", max_len=255, allowed=_HOST, allowed_desc="a host name or IP address"
    )
    port = v.optional_int(info, "port", "serverInfo.port", lo=1, hi=65535) or 22
    default_path = v.require_str(info, "filePath", "serverInfo.filePath", max_len=255)
    if not default_path.startswith("/") or any(ord(ch) < 32 for ch in default_path):
        raise v.fail(errors.WRONG_VALUE, "serverInfo.filePath", "must be an absolute path")
    password = v.optional_str(body, "serverPwd", min_len=8, max_len=80)
    private_key = v.optional_str(body, "privateKey", max_len=16384)  # outdial extension
    if password and private_key:
        raise v.fail(errors.BAD_COMBINATION, "serverPwd", "and privateKey cannot both be set")
    if password_required and not (password or private_key):
        raise v.fail(errors.EMPTY, "serverPwd", "is required (or privateKey)")
    if private_key:
        try:
            asyncssh.import_private_key(private_key)
        except (asyncssh.KeyImportError, ValueError):
            raise v.fail(
                errors.WRONG_VALUE, "privateKey", "must be an unencrypted OpenSSH or PEM private key"
            ) from None
    values: dict[str, Any] = {
        "host": host,
        "port": port,
        "username": username,
        "default_path": posixpath.normpath(default_path).replace("//", "/"),
    }
    if "hostKey" in body:  # outdial extension: pin the server's public key
        host_key = v.optional_str(body, "hostKey", max_len=16384)
        if host_key is not None:
            try:
                parse_host_keys(host_key)
            except ValueError:
                raise v.fail(
                    errors.WRONG_VALUE, "hostKey", "must be an OpenSSH public key line: 'ssh-ed25519 AAAA...'"
                ) from None
        values["host_key"] = host_key
    if password:
        values.update(password_encrypted=box.encrypt(password), private_key_encrypted=None)
    if private_key:
        values.update(private_key_encrypted=box.encrypt(private_key), password_encrypted=None)
    return values


def add_server(conn: Connection, box: SecretBox, vdn_id: int, body: dict[str, Any], now_ms: int) -> str:
    values = _server_values(body, box, password_required=True)
    existing = repo.find_server_by_address(conn, vdn_id, values["host"], values["port"], values["username"])
    if existing is not None:
        raise ApiError(
            errors.PARAMETER_ERROR, f"serverInfo.ip this server is already added as serverId {existing.id}"
        )
    server_id = new_id(now_ms)
    values.setdefault("host_key", None)
    repo.insert_server(
        conn, {"id": server_id, "vdn_id": vdn_id, "created_at": now_ms, "updated_at": now_ms, **values}
    )
    return server_id


def update_server(
    conn: Connection, box: SecretBox, vdn_id: int, server_id: str, body: dict[str, Any], now_ms: int
) -> None:
    current = _server_or_fail(conn, vdn_id, server_id)
    values = _server_values(body, box, password_required=False)
    if (
        values["host"] != current.host
        and "password_encrypted" not in values
        and "private_key_encrypted" not in values
    ):
        raise v.fail(errors.EMPTY, "serverPwd", "is required when serverInfo.ip changes")
    clash = repo.find_server_by_address(conn, vdn_id, values["host"], values["port"], values["username"])
    if clash is not None and clash.id != server_id:
        raise ApiError(
            errors.PARAMETER_ERROR, f"serverInfo.ip this server is already added as serverId {clash.id}"
        )
    repo.update_server(conn, server_id, {**values, "updated_at": now_ms})


def delete_server(conn: Connection, vdn_id: int, server_id: str) -> None:
    if not repo.delete_server(conn, vdn_id, server_id):
        raise v.fail(errors.WRONG_VALUE, "serverId", f"{server_id} does not exist")


def query_servers(conn: Connection, vdn_id: int, body: dict[str, Any]) -> dict[str, Any]:
    offset = v.optional_int(body, "offset", lo=0) or 0
    limit = v.optional_int(body, "limit", lo=1, hi=100) or 10
    total, rows = repo.list_servers(conn, vdn_id, offset, limit)
    return {"total": total, "data": [server_view(r) for r in rows]}


def server_view(row: Row) -> dict[str, Any]:
    """What queries show of a server: never a password or a private key."""
    return {
        "serverId": row.id,
        "userName": row.username,
        "serverInfo": {"ip": row.host, "port": str(row.port), "filePath": row.default_path},
        "authType": "privateKey" if row.private_key_encrypted else "password",
        "hostKey": row.host_key or "",  # the pinned public key (public by nature); "" when not pinned
    }


def _server_or_fail(conn: Connection, vdn_id: int, server_id: str) -> Row:
    row = repo.get_server(conn, vdn_id, server_id)
    if row is None:
        raise v.fail(errors.WRONG_VALUE, "serverId", f"{server_id} does not exist")
    return row


# --- import tasks ----------------------------------------------------------------------------------------


def next_run_at(now_ms: int, tz: str, hour: int | None, minute: int | None) -> int:
    """Now, or the next hour:minute (in the campaign's zone) after now."""
    if hour is None or minute is None:
        return now_ms
    zone = ZoneInfo(tz)
    local_now = to_datetime(now_ms).astimezone(zone)
    candidate = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local_now:
        candidate = datetime.combine(candidate.date() + timedelta(days=1), candidate.timetz())
    return from_datetime(candidate)


def create_import_task(
    conn: Connection, vdn_id: int, campaign_id: int, body: dict[str, Any], now_ms: int, wake: Any = None
) -> str:
    server_id = v.require_str(body, "serverId", max_len=32)
    file_name = v.require_str(body, "fileName", max_len=255)
    file_path = v.optional_str(body, "filePath", max_len=255)
    hour_set, minute_set = not v.is_blank(body.get("hour")), not v.is_blank(body.get("minute"))
    if hour_set != minute_set:
        missing = "minute" if hour_set else "hour"
        raise v.fail(
            errors.HOUR_MINUTE_PAIR,
            missing,
            "must be set together with " + ("hour" if missing == "minute" else "minute"),
        )
    hour = v.optional_int(body, "hour", lo=0, hi=23)
    minute = v.optional_int(body, "minute", lo=0, hi=59)
    campaign = get_campaign(conn, vdn_id, campaign_id)
    if campaign is None:
        raise ApiError(errors.NOT_FOUND, f"campaignId {campaign_id} does not exist")
    server = _server_or_fail(conn, vdn_id, server_id)
    resolve_remote_path(server.default_path, file_path, file_name)  # refuses escapes before anything runs
    run_at = next_run_at(now_ms, campaign.timezone, hour, minute)
    # The add interface's rule (0200019); a scheduled import checks it again when it runs.
    status = effective_status(campaign.status, campaign.begin_at, campaign.end_at, now_ms)
    if status == COMPLETED or (status == EXECUTING and run_at == now_ms):
        state = "executing" if status == EXECUTING else "completed"
        raise ApiError(
            errors.WRONG_STATE_FOR_NUMBERS,
            f"campaignId {campaign_id} is {state}: numbers can be imported only before it starts or while "
            "it is paused",
        )
    task_id = new_id(now_ms)
    repo.insert_task(
        conn,
        {
            "id": task_id,
            "vdn_id": vdn_id,
            "campaign_id": campaign_id,
            "server_id": server_id,
            "file_path": file_path,
            "file_name": file_name,
            "status": im.PREPARING,
            "run_at": run_at,
            "created_at": now_ms,
        },
    )
    if wake is not None:
        after_commit(conn, wake.set)
    return task_id


def iso_time(ms: int | None) -> str:
    """The document's form: 2022-03-11T07:27:09.000+00:00 (UTC)."""
    if ms is None:
        return ""
    return to_datetime(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+00:00"


def task_view(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "beginTime": iso_time(row.begin_at),
        "endTime": iso_time(row.end_at),
        "status": str(row.status),
        "succNum": row.succ_num,
        "repeatNum": row.repeat_num,
        "failNum": row.fail_num,
        "errMsg": row.err_msg or "",
    }


def query_tasks(conn: Connection, vdn_id: int, campaign_id: int, body: dict[str, Any]) -> dict[str, Any]:
    offset = v.require_int(body, "offset", lo=0)
    limit = v.require_int(body, "limit", lo=1, hi=100)
    task_ids: list[str] | None = None  # absent or empty: every task of the campaign
    if body.get("importTaskIds"):
        raw_ids = v.as_list(body["importTaskIds"], "importTaskIds")
        if len(raw_ids) > 100:
            raise v.fail(errors.TOO_MANY, "importTaskIds", "may hold at most 100 ids")
        task_ids = [v.str_value(item, f"importTaskIds[{i}]") for i, item in enumerate(raw_ids)]
    if get_campaign(conn, vdn_id, campaign_id) is None:
        raise ApiError(errors.NOT_FOUND, f"campaignId {campaign_id} does not exist")
    total, rows = repo.query_tasks(conn, campaign_id, task_ids, offset, limit)
    result = [task_view(r) for r in rows]
    not_called = not_called_by_import_task(conn, campaign_id, [r.id for r in rows])
    for view in result:  # extension: rows stored that the campaign's call policy will never call
        if not_called.get(view["id"]):
            view["notCalledCount"] = not_called[view["id"]]
    return {"result": result, "count": total}


def failures_of(conn: Connection, vdn_id: int, task_id: str, offset: int, limit: int) -> dict[str, Any]:
    if repo.find_task(conn, vdn_id, task_id) is None:
        raise v.fail(errors.WRONG_VALUE, "importTaskId", f"{task_id} does not exist")
    total, rows = repo.list_failures(conn, task_id, offset, limit)
    return {"total": total, "data": [{"line": r.line_no, "kind": r.kind, "reason": r.reason} for r in rows]}
