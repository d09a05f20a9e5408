"""One import, end to end: fetch over SFTP, read, validate every row with the shared call-record
validator, count duplicates and failures, and store the rest in bulk.

Nothing lost, nothing doubled: the rows, the failed-row list and the task's final status are written in
ONE transaction, so a process killed mid-import leaves no row behind; the restarted service finds the
task's claim expired and ends it as failed with a reason (repository.fail_abandoned_tasks).
"""

from __future__ import annotations

import gc
import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Row

from outdial.calldata import repository as calldata_repo
from outdial.calldata.records import CallRecord, validate_file_row
from outdial.context import AppContext
from outdial.imports import repository as repo
from outdial.imports.failures import ImportFailure
from outdial.imports.paths import resolve_remote_path
from outdial.imports.readers import read_rows
from outdial.imports.sftp import FileServer, fetch_file
from outdial.models import imports as im

log = logging.getLogger("outdial.imports")

MAX_FILE_BYTES = 512 * 1024 * 1024
FETCH_TIMEOUT_S = 120.0


@dataclass
class Sorted:
    """A file's rows, sorted into what is stored and what is counted."""

    records: list[CallRecord] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    repeat: int = 0
    failures: list[tuple[int, str, str]] = field(default_factory=list)  # (line, kind, reason)

    @property
    def fail(self) -> int:
        return sum(1 for _, kind, _ in self.failures if kind != "duplicate")


def sort_rows(
    rows: Iterable[list[str | None]],
    *,
    existing_numbers: set[str],
    refuse_number: dict[str, str],
    first_line: int = 2,
) -> Sorted:
    """Pure: validate each row, then blacklist, then duplicates (by first called number, within the file
    and against the campaign's unfinished records). `refuse_number` maps a blacklisted number to the
    reason it may not be called now."""
    out = Sorted()
    seen = set(existing_numbers)
    failures = out.failures
    records = out.records
    for line, cells in enumerate(rows, start=first_line):
        result = validate_file_row(cells)
        if isinstance(result, str):
            failures.append((line, "invalid", result))
            continue
        refused = None
        for number in result.numbers:
            refused = refuse_number.get(number.called)
            if refused:
                break
        if refused:
            failures.append((line, "blacklist", refused))
            continue
        first = result.numbers[0].called
        if first in seen:
            out.repeat += 1
            failures.append((line, "duplicate", f"called: {first} is already in the campaign or the file"))
            continue
        seen.add(first)
        records.append(result)
        out.lines.append(line)
    return out


def run_import(ctx: AppContext, task: Row, owner: str) -> None:
    """Import one claimed task; always ends it (imported, or failed with a reason)."""
    try:
        with tempfile.TemporaryDirectory(prefix="outdial-import-") as tmp:
            local = Path(tmp) / "file"
            with ctx.db.read() as conn:
                server_row = repo.get_server(conn, task.vdn_id, task.server_id)
            if server_row is None:
                raise ImportFailure(f"file server {task.server_id} no longer exists")
            remote = resolve_remote_path(server_row.default_path, task.file_path, task.file_name)
            fetch_file(
                _file_server(ctx, server_row),
                remote,
                local,
                max_bytes=MAX_FILE_BYTES,
                timeout_s=FETCH_TIMEOUT_S,
            )
            _store(ctx, task, owner, local, remote)
    except ImportFailure as failure:
        _fail(ctx, task, owner, failure.reason)
    except Exception as exc:  # a bug must still end the task, with a reason the user can report
        log.exception("import %s failed unexpectedly", task.id)
        _fail(ctx, task, owner, f"internal error while importing: {type(exc).__name__}: {exc}")


def _file_server(ctx: AppContext, row: Row) -> FileServer:
    return FileServer(
        host=row.host,
        port=row.port,
        username=row.username,
        password=ctx.box.decrypt(row.password_encrypted) if row.password_encrypted else None,
        private_key=ctx.box.decrypt(row.private_key_encrypted) if row.private_key_encrypted else None,
        default_path=row.default_path,
        host_key=row.host_key,
    )


def _store(ctx: AppContext, task: Row, owner: str, local: Path, remote: str) -> None:
    gc_was_enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of small objects: the collector would only rescan them
    try:
        header, rows = read_rows(local)
        with ctx.db.write() as conn:
            campaign = calldata_repo.lock_campaign(conn, task.campaign_id)
            if campaign is None or campaign.deleted_at is not None:
                raise ImportFailure(f"campaign {task.campaign_id} no longer exists")
            now = ctx.clock.now_ms()
            sorted_rows = sort_rows(
                rows,
                existing_numbers=calldata_repo.unfinished_called_numbers(conn, task.campaign_id),
                refuse_number=calldata_repo.blacklist_refusals_map(conn, task.vdn_id, campaign.timezone, now),
            )
            room = ctx.settings.max_unfinished_per_campaign - calldata_repo.count_unfinished(
                conn, task.campaign_id
            )
            if len(sorted_rows.records) > room:
                _over_limit(sorted_rows, max(room, 0), ctx.settings.max_unfinished_per_campaign)
            calldata_repo.bulk_insert_records(
                conn, campaign, sorted_rows.records, import_task_id=task.id, now_ms=now
            )
            repo.insert_failures(conn, task.id, sorted_rows.failures)
            done = repo.finish_task(
                conn,
                task.id,
                owner,
                status=im.IMPORTED,
                now_ms=ctx.clock.now_ms(),
                succ=len(sorted_rows.records),
                repeat=sorted_rows.repeat,
                fail=sorted_rows.fail,
            )
            if not done:
                raise ImportFailure("the import's claim expired before it finished; nothing was stored")
    finally:
        if gc_was_enabled:
            gc.enable()
    log.info(
        "import %s of %s: %d stored, %d duplicates, %d failed",
        task.id,
        remote,
        len(sorted_rows.records),
        sorted_rows.repeat,
        sorted_rows.fail,
    )


def _over_limit(sorted_rows: Sorted, room: int, limit: int) -> None:
    """Rows past the campaign's limit of unfinished numbers fail; the first `room` are stored."""
    reason = f"campaign already holds the maximum of {limit} unfinished numbers"
    sorted_rows.failures.extend((line, "invalid", reason) for line in sorted_rows.lines[room:])
    del sorted_rows.records[room:]
    del sorted_rows.lines[room:]


def _fail(ctx: AppContext, task: Row, owner: str, reason: str) -> None:
    with ctx.db.write() as conn:
        repo.finish_task(conn, task.id, owner, status=im.FAILED, now_ms=ctx.clock.now_ms(), err_msg=reason)
