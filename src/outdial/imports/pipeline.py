"""One import, end to end: fetch over SFTP, read, validate every row with the shared call-record
validator, count duplicates and failures, and store the rest in bulk.

Nothing lost, nothing doubled: the rows, the failed-row list and the task's final status are written in
ONE transaction, so a process killed mid-import leaves no row behind; the restarted service finds the
task's claim expired and ends it as failed with a reason (repository.fail_abandoned_tasks). A worker
whose claim was taken from it (it stalled past the lease) finds so when it closes the task and rolls
everything back.

Rows stream from the reader through the validator into the bulk insert; see _store.
"""

from __future__ import annotations

import gc
import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Row

from outdial.calldata import repository as calldata_repo
from outdial.calldata.records import CallRecord, validate_file_row
from outdial.campaigns.status import COMPLETED, EXECUTING, effective_status
from outdial.context import AppContext
from outdial.db import after_commit
from outdial.imports import repository as repo
from outdial.imports.failures import ImportFailure
from outdial.imports.forked import CAN_FORK, ForkedStream
from outdial.imports.paths import resolve_remote_path
from outdial.imports.readers import read_rows
from outdial.imports.sftp import FileServer, fetch_file
from outdial.models import imports as im

log = logging.getLogger("outdial.imports")

MAX_FILE_BYTES = 512 * 1024 * 1024
FETCH_TIMEOUT_S = 120.0
FORK = CAN_FORK  # tests also run the pass in one process

Failure = tuple[int, str, str]  # (line, kind, reason); kind is "invalid", "blacklist" or "duplicate"


@dataclass
class Tally:
    """What an import counted: rows stored, repeats, and every failed or repeated row (line, kind,
    reason) in line order."""

    stored: int = 0
    repeat: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def fail(self) -> int:
        return len(self.failures) - self.repeat


def sorted_records(
    rows: Iterable[list[str | None]],
    *,
    existing_numbers: set[str],
    refuse_number: dict[str, str],
    tally: Tally,
    first_line: int = 2,
) -> Iterator[CallRecord]:
    """Pure, streaming: the records to store, in file order; everything else is counted in `tally`.

    Each row is validated with calldata/records.py (the add interface's rules); a valid record fails if
    any of its numbers is blacklisted (`refuse_number` maps a number to the reason), and is a repeat when
    its first called number is already a number of the campaign (`existing_numbers`) or of an earlier
    row. A wholly blank line between records is no record: neither stored nor counted."""
    seen = set(existing_numbers)
    failures = tally.failures
    for line, cells in enumerate(rows, start=first_line):
        if not any(cells):
            continue
        result = validate_file_row(cells)
        if isinstance(result, str):
            failures.append((line, "invalid", result))
            continue
        numbers = result.numbers
        if refuse_number:
            refused = next((r for n in numbers if (r := refuse_number.get(n.called))), None)
            if refused:
                failures.append((line, "blacklist", refused))
                continue
        first = numbers[0].called
        if first in seen:
            tally.repeat += 1
            failures.append((line, "duplicate", f"called: {first} is already in the campaign or the file"))
            continue
        seen.add(first)
        tally.stored += 1
        yield result


def sort_rows(
    rows: Iterable[list[str | None]],
    *,
    existing_numbers: set[str],
    refuse_number: dict[str, str],
    first_line: int = 2,
) -> tuple[list[CallRecord], Tally]:
    """sorted_records, collected."""
    tally = Tally()
    records = list(
        sorted_records(
            rows,
            existing_numbers=existing_numbers,
            refuse_number=refuse_number,
            tally=tally,
            first_line=first_line,
        )
    )
    return records, tally


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
            started, cpu_started = time.perf_counter(), time.process_time()
            fetch_file(
                _file_server(ctx, server_row),
                remote,
                local,
                max_bytes=MAX_FILE_BYTES,
                timeout_s=FETCH_TIMEOUT_S,
            )
            fetched = (time.perf_counter() - started, time.process_time() - cpu_started)
            _store(ctx, task, owner, local, remote, fetched)
    except ImportFailure as failure:
        _fail(ctx, task, owner, failure.reason)
    except Exception as exc:  # a bug must still end the task, with a reason the user can report
        log.exception("import %s failed unexpectedly", task.id)
        _fail(ctx, task, owner, f"internal error while importing: {type(exc).__name__}: {exc}")


def _file_server(ctx: AppContext, row: Row) -> FileServer:
    try:
        password = ctx.box.decrypt(row.password_encrypted) if row.password_encrypted else None
        private_key = ctx.box.decrypt(row.private_key_encrypted) if row.private_key_encrypted else None
    except ValueError as exc:
        raise ImportFailure(f"the file server's credentials cannot be read: {exc}") from None
    return FileServer(
        host=row.host,
        port=row.port,
        username=row.username,
        password=password,
        private_key=private_key,
        default_path=row.default_path,
        host_key=row.host_key,
    )


def _store(
    ctx: AppContext, task: Row, owner: str, local: Path, remote: str, fetched: tuple[float, float]
) -> None:
    """Read, validate and insert in one pass inside the write transaction: the rows stream from the
    reader into the driver's bulk insert (COPY on PostgreSQL, whose server then works on the other core
    while Python validates), so no list of 500,000 records is ever held. The workbook is opened before
    the transaction (calamine loads the sheet then), so the campaign lock is held only for the pass."""
    gc_was_enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of small objects: the collector would only rescan them
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        sheet = read_rows(local, name=task.file_name, max_records=ctx.settings.max_records_per_file)
        open_s, open_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        started, cpu_started = time.perf_counter(), time.process_time()
        limit = ctx.settings.max_unfinished_per_campaign
        tally = Tally()
        with ctx.db.write() as conn:
            campaign = calldata_repo.lock_campaign(conn, task.campaign_id)
            if campaign is None or campaign.deleted_at is not None:
                raise ImportFailure(f"campaign {task.campaign_id} no longer exists")
            now = ctx.clock.now_ms()
            status = effective_status(campaign.status, campaign.begin_at, campaign.end_at, now)
            if status in (EXECUTING, COMPLETED):
                state = "executing" if status == EXECUTING else "completed"
                raise ImportFailure(
                    f"campaign {task.campaign_id} is {state}: numbers can be imported only before it starts "
                    "or while it is paused"
                )
            unfinished = calldata_repo.count_unfinished(conn, task.campaign_id)
            existing = calldata_repo.unfinished_called_numbers(conn, task.campaign_id)
            refusals = calldata_repo.blacklist_refusals_map(conn, task.vdn_id, campaign.timezone, now)
            dialect = conn.dialect.name

            def produce() -> tuple[Iterator[Any], Callable[[], Tally]]:
                # Runs in the forked child: read, validate, sort and format, in file order.
                counted = Tally()
                records = sorted_records(
                    sheet.rows,
                    existing_numbers=existing,
                    refuse_number=refusals,
                    tally=counted,
                    first_line=sheet.first_line,
                )
                blocks = calldata_repo.bulk_blocks(dialect, campaign, records, import_task_id=task.id, now_ms=now)
                return blocks, lambda: counted

            # The child reads and formats on one core while this process writes (see forked.py); the
            # pipe between them is a bounded queue, so memory stays flat.
            with ForkedStream(produce, fork=FORK) as stream:
                calldata_repo.bulk_insert_blocks(conn, stream)
            tally = stream.result
            if unfinished + tally.stored > limit:  # raising rolls the rows back
                raise ImportFailure(
                    f"the campaign holds {unfinished} unfinished numbers; the {tally.stored} new numbers of "
                    f"this file would pass the limit of {limit}; nothing was imported"
                )
            repo.insert_failures(conn, task.id, tally.failures)
            done = repo.finish_task(
                conn,
                task.id,
                owner,
                status=im.IMPORTED,
                now_ms=ctx.clock.now_ms(),
                succ=tally.stored,
                repeat=tally.repeat,
                fail=tally.fail,
            )
            if not done:
                raise ImportFailure("the import's claim expired before it finished; nothing was stored")
            if tally.stored:
                after_commit(conn, ctx.wakeup("engine").set)
    finally:
        if gc_was_enabled:
            gc.enable()
    seconds = {"fetch": fetched[0], "open": open_s, "store": time.perf_counter() - started}
    cpu = {"fetch": fetched[1], "open": open_cpu, "store": time.process_time() - cpu_started}
    log.info(
        "import %s of %s: %d stored, %d duplicates, %d failed; fetched in %.2f s, opened in %.2f s, "
        "read, validated and stored in %.2f s",
        task.id,
        remote,
        tally.stored,
        tally.repeat,
        tally.fail,
        *seconds.values(),
        extra={"stage_seconds": seconds, "stage_cpu_seconds": cpu},  # bench/import_file.py shows them
    )


def _fail(ctx: AppContext, task: Row, owner: str, reason: str) -> None:
    log.warning("import %s failed: %s", task.id, reason)
    with ctx.db.write() as conn:
        repo.finish_task(conn, task.id, owner, status=im.FAILED, now_ms=ctx.clock.now_ms(), err_msg=reason)
