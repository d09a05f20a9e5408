"""Files and steps the import tests share: the document's template, hand-made workbooks, a file server
registered through the signed client, and one deterministic run of the import worker."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from outdial.client import Client, Response
from outdial.clock import VirtualClock
from outdial.context import AppContext
from outdial.imports import worker
from sftp_servers import SftpTestServer

TEMPLATE_HEADER = [
    "sessionId (Optional)",
    "called (Mandatory)",
    "caller (Optional)",
    "callData (Optional)",
    "customField (Optional)",
    "recycleTime (Optional)",
]


def xlsx_bytes(rows: list[list[Any]], header: list[str] = TEMPLATE_HEADER) -> bytes:
    """A workbook as Excel stores it: text in the shared strings table, numbers as numbers, dates with
    a date format."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    date_format = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, date_format)
            elif isinstance(value, str):
                sheet.write_string(r, c, value)
            else:
                sheet.write_number(r, c, value)
    book.close()
    return buffer.getvalue()


def csv_bytes(rows: list[list[Any]], header: list[str] = TEMPLATE_HEADER) -> bytes:
    text = io.StringIO()
    out = csv.writer(text)
    out.writerow(header)
    for row in rows:
        out.writerow(
            [
                ""
                if v is None
                else v.strftime("%Y-%m-%d %H:%M:%S")
                if isinstance(v, datetime)
                else str(int(v))
                if isinstance(v, float) and v.is_integer()
                else v
                for v in row
            ]
        )
    return text.getvalue().encode("utf-8-sig")


def far_cell_xlsx(row: int, column: int) -> bytes:
    """A few KB of workbook: one good record, and one cell at (row, column), 0-based. Calamine makes the
    sheet one dense grid from its first cell to its last, so the far cell alone costs
    (row + 1) x (column + 1) cells of memory."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, TEMPLATE_HEADER)
    sheet.write_string(1, 1, '[{"calledNo": "13800000001"}]')
    sheet.write_string(row, column, "x")
    book.close()
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """A 'workbook' whose one part inflates 64 MiB of zeros from ~64 KiB (ratio ~1000)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            zeros = b"\0" * (1024 * 1024)
            for _ in range(64):
                part.write(zeros)
    return buffer.getvalue()


def add_server(client: Client, server: SftpTestServer, *, auth: str = "key", **extra: Any) -> str:
    """Register the test server through the API (its host key pinned unless `extra` says otherwise)."""
    body: dict[str, Any] = {
        "serverInfo": {"ip": server.host, "port": str(server.port), "filePath": server.default_path},
        "hostKey": server.host_key,
    }
    if auth == "password":
        body.update(userName=server.password_user, serverPwd=server.password)
    else:
        body.update(userName=server.key_user, privateKey=server.client_private_key)
    body.update(extra)
    response = client.add_file_server(1, body)
    assert response.ok, response.body
    return str(response.body["serverId"])


def start_import(client: Client, campaign_id: int, server_id: str, file_name: str, **kw: Any) -> str:
    response = client.import_file(1, campaign_id, server_id, file_name, **kw)
    assert response.ok, response.body
    assert response.body["resultDesc"] == "Exporting data... View details in Import Result."
    return str(response.body["importTaskId"])


def run_worker(ctx: AppContext) -> int:
    """One pass of the import worker, as `serve` runs it, without sleeping."""
    return worker.run_due(ctx, "test-worker")


def task(client: Client, clock: VirtualClock, campaign_id: int, task_id: str) -> dict[str, Any]:
    """The task as the query interface shows it (the clock moves 1 s so no two queries are one
    signature: the same signed request twice would be a replay)."""
    clock.advance(1)
    response = client.query_import_tasks(1, campaign_id, import_task_ids=[task_id])
    assert response.ok, response.body
    assert response.body["count"] == 1
    return dict(response.body["result"][0])


def failures(client: Client, clock: VirtualClock, task_id: str) -> list[tuple[int, str]]:
    clock.advance(1)
    response: Response = client.import_failures(1, task_id)
    assert response.ok, response.body
    return [(item["line"], item["kind"]) for item in response.body["data"]]


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def process_gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for a reaper counts as exited)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
    except FileNotFoundError:
        return True
