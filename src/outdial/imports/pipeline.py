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

import contextlib
import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from sqlalchemy.engine import Row

from outdial import netguard
from outdial.calldata import repository as calldata_repo
from outdial.calldata.records import CallRecord, validate_file_row
from outdial.campaigns.status import COMPLETED, EXECUTING, effective_status
from outdial.context import AppContext
from outdial.db import after_commit
from outdial.imports import fastrows, tempfiles
from outdial.imports import repository as repo
from outdial.imports.failures import ImportFailure
from outdial.imports.forked import CAN_FORK, PIPE_BYTES, ForkedStream
from outdial.imports.paths import resolve_remote_path
from outdial.imports.readers import SheetRows, read_csv_stream, read_rows
from outdial.imports.sftp import FileServer, fetch_file
from outdial.models import imports as im

log = logging.getLogger("outdial.imports")

MAX_FILE_BYTES = 512 * 1024 * 1024
FETCH_TIMEOUT_S = 120.0
FORK = CAN_FORK  # tests also run the pass in one process
STREAM_CSV = True  # a .csv is read while it arrives (_PipedFetch); tests also fetch it first

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


class RowSorter:
    """The rule that decides, row by row, stored / repeat / failed (see sorted_records); `seen` and
    `tally` are shared with imports/fastrows.py, which decides the common CSV rows itself."""

    def __init__(self, existing_numbers: set[str], refuse_number: dict[str, str], tally: Tally) -> None:
        self.seen = set(existing_numbers)
        self.refuse_number = refuse_number
        self.tally = tally

    def sort(self, line: int, cells: list[str | None]) -> CallRecord | None:
        """The record to store, or None (counted in the tally, or a blank line)."""
        if not any(cells):
            return None
        result = validate_file_row(cells)
        failures = self.tally.failures
        if isinstance(result, str):
            failures.append((line, "invalid", result))
            return None
        numbers = result.numbers
        if self.refuse_number:
            refuse = self.refuse_number
            refused = next((r for n in numbers if (r := refuse.get(n.called))), None)
            if refused:
                failures.append((line, "blacklist", refused))
                return None
        first = numbers[0].called
        if first in self.seen:
            self.tally.repeat += 1
            failures.append((line, "duplicate", self.duplicate_reason(first)))
            return None
        self.seen.add(first)
        self.tally.stored += 1
        return result

    @staticmethod
    def duplicate_reason(called: str) -> str:
        return f"called: {called} is already in the campaign or the file"


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
    sort = RowSorter(existing_numbers, refuse_number, tally).sort
    for line, cells in enumerate(rows, start=first_line):
        record = sort(line, cells)
        if record is not None:
            yield record


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
        with ctx.db.read() as conn:
            server_row = repo.get_server(conn, task.vdn_id, task.server_id)
        if server_row is None:
            raise ImportFailure(f"file server {task.server_id} no longer exists")
        remote = resolve_remote_path(server_row.default_path, task.file_path, task.file_name)
        server = _file_server(ctx, server_row)
        max_records = ctx.settings.max_records_per_file
        if STREAM_CSV and Path(task.file_name).suffix.lower() == ".csv":
            # Read while the file arrives: the fetch writes into a pipe the reader reads (see _PipedFetch).
            with _PipedFetch(server, remote) as fetch:
                _store(
                    ctx,
                    task,
                    owner,
                    remote,
                    lambda: read_csv_stream(fetch.fd, task.file_name, max_records=max_records),
                    fetch,
                )
            return
        with tempfiles.download_file(ctx.settings.data_dir, f"import-{task.id}") as local:
            started, cpu_started = time.perf_counter(), time.process_time()
            fetch_file(server, remote, local, max_bytes=MAX_FILE_BYTES, timeout_s=FETCH_TIMEOUT_S)
            fetched = (time.perf_counter() - started, time.process_time() - cpu_started)
            _store(
                ctx,
                task,
                owner,
                remote,
                lambda: read_rows(local, name=task.file_name, max_records=max_records),
                fetched,
            )
    except ImportFailure as failure:
        _fail(ctx, task, owner, failure.reason)
    except Exception as exc:  # a bug must still end the task, with a reason the user can report
        log.exception("import %s failed unexpectedly", task.id)
        _fail(ctx, task, owner, f"internal error while importing: {type(exc).__name__}: {exc}")


class _PipedFetch:
    """The fetch of a .csv in a thread, writing the file into a pipe that the import's reader reads
    while the file arrives (the ~0.5 s download of 500,000 rows is then no longer before the pass).

    The pipe is the bounded buffer: the fetch waits for the reader, so memory stays flat, and the size
    limit still stops the download as it passes. All or nothing holds: the checks that need the whole
    file (UTF-8, the record count) fail the pass as they are met, inside its transaction, and `finish`
    (before the commit) raises the fetch's own failure, so a download cut short stores nothing. When the
    pass fails, a failure the fetch met first (a cut connection truncates the file the reader sees) is
    the reason; one it met because the pass stopped reading is not."""

    def __init__(self, server: FileServer, remote: str) -> None:
        self.fd, self._write_fd = os.pipe()
        with contextlib.suppress(ImportError, AttributeError, OSError):
            import fcntl

            fcntl.fcntl(self._write_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self.error: BaseException | None = None
        self.seconds = (0.0, 0.0)  # wall, thread CPU
        self._thread = threading.Thread(
            target=self._run, args=(server, remote), name="outdial-import-fetch", daemon=True
        )

    @property
    def write_fd(self) -> int:
        return self._write_fd

    def __enter__(self) -> _PipedFetch:
        self._thread.start()
        return self

    def _run(self, server: FileServer, remote: str) -> None:
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            fetch_file(server, remote, self._write_fd, max_bytes=MAX_FILE_BYTES, timeout_s=FETCH_TIMEOUT_S)
        except BaseException as exc:  # handed to the importing thread
            self.error = exc
        finally:
            self.seconds = (time.perf_counter() - started, time.thread_time() - cpu_started)
            os.close(self._write_fd)  # after self.error is set: the reader sees the end only then

    def finish(self) -> None:
        """Wait for the end of the download; raise its failure."""
        self._thread.join()
        if self.error is not None:
            raise self.error

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        failed_first = self.error
        os.close(self.fd)  # a fetch still writing gets EPIPE and stops
        self._thread.join()
        if exc is not None and failed_first is not None and failed_first is not exc:
            raise failed_first from None


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
        allowed_networks=tuple(netguard.parse_networks(ctx.settings.fileserver_allowed_networks)),
        host_key=row.host_key,
    )


class _PassInput(NamedTuple):
    """What the pass's reading process needs of the campaign, read inside the write transaction."""

    dialect: str
    campaign: calldata_repo.LockedCampaign
    existing: set[str]  # the campaign's unfinished numbers
    refusals: dict[str, str]  # blacklisted number -> reason
    now: int


def _store(
    ctx: AppContext,
    task: Row,
    owner: str,
    remote: str,
    open_rows: Callable[[], SheetRows],
    fetched: tuple[float, float] | _PipedFetch,
) -> None:
    """Read, validate and insert in one pass inside the write transaction: the rows stream from the
    reader into the driver's bulk insert (COPY on PostgreSQL, whose server then works on the other core
    while Python validates), so no list of 500,000 records is ever held. Everything that parses the file
    runs in a forked child under a memory limit (see forked.py), so no file can take the service down.
    The file is opened first, before the transaction (calamine loads the sheet then), so the campaign
    lock is held only for the pass.
    `fetched`: the fetch's (wall, CPU) seconds, or the fetch still writing the file the rows come from."""
    piped = fetched if isinstance(fetched, _PipedFetch) else None
    gc_was_enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of small objects: the collector would only rescan them

    def prepare() -> tuple[SheetRows, tuple[float, float]]:
        # In the reading process: open the file; the parent gets the time it took.
        started, cpu_started = time.perf_counter(), time.process_time()
        sheet = open_rows()
        return sheet, (time.perf_counter() - started, time.process_time() - cpu_started)

    def produce(sheet: SheetRows, given: _PassInput) -> tuple[Iterator[Any], Callable[[], Tally]]:
        # In the reading process: read, validate, sort and format, in file order.
        counted = Tally()
        blocks: Iterator[Any]
        if sheet.raw_rows is not None and sheet.shape is not None:  # a CSV in the template's layout
            sorter = RowSorter(given.existing, given.refusals, counted)
            blocks = fastrows.sorted_blocks(
                given.dialect,
                given.campaign,
                sheet.raw_rows,
                sheet.shape,
                sorter,
                first_line=sheet.first_line,
                import_task_id=task.id,
                now_ms=given.now,
                plain_text=sheet.plain_text,
            )
        else:
            records = sorted_records(
                sheet.rows,
                existing_numbers=given.existing,
                refuse_number=given.refusals,
                tally=counted,
                first_line=sheet.first_line,
            )
            blocks = calldata_repo.bulk_blocks(
                given.dialect, given.campaign, records, import_task_id=task.id, now_ms=given.now
            )
        return blocks, lambda: counted

    try:
        limit = ctx.settings.max_unfinished_per_campaign
        tally = Tally()
        # The child reads and formats on one core while this process writes; the pipe between them is a
        # bounded queue, so memory stays flat.
        with ForkedStream(
            produce,
            prepare=prepare,
            fork=FORK,
            close_in_child=(piped.write_fd,) if piped is not None else (),
            memory_mb=ctx.settings.import_memory_mb,
        ) as stream:
            open_s, open_cpu = stream.prepared()
            started, cpu_started = time.perf_counter(), time.process_time()
            with ctx.db.write() as conn:
                campaign = calldata_repo.lock_campaign(conn, task.campaign_id)
                if campaign is None or campaign.deleted_at is not None:
                    raise ImportFailure(f"campaign {task.campaign_id} no longer exists")
                now = ctx.clock.now_ms()
                status = effective_status(campaign.status, campaign.begin_at, campaign.end_at, now)
                if status in (EXECUTING, COMPLETED):
                    state = "executing" if status == EXECUTING else "completed"
                    raise ImportFailure(
                        f"campaign {task.campaign_id} is {state}: numbers can be imported only before it "
                        "starts or while it is paused"
                    )
                unfinished = calldata_repo.count_unfinished(conn, task.campaign_id)
                stream.start(
                    _PassInput(
                        conn.dialect.name,
                        campaign,
                        calldata_repo.unfinished_called_numbers(conn, task.campaign_id),
                        calldata_repo.blacklist_refusals_map(conn, task.vdn_id, campaign.timezone, now),
                        now,
                    )
                )
                calldata_repo.bulk_insert_blocks(
                    conn, stream, campaign=campaign, import_task_id=task.id, now_ms=now, large=True
                )
                tally = stream.result
                if piped is not None:
                    piped.finish()  # the whole file arrived: else its failure rolls the rows back
                if unfinished + tally.stored > limit:  # raising rolls the rows back
                    raise ImportFailure(
                        f"the campaign holds {unfinished} unfinished numbers; the {tally.stored} new numbers "
                        f"of this file would pass the limit of {limit}; nothing was imported"
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
    store_s, store_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    # A piped fetch ran beside the open and the pass (its CPU is in theirs too). The open's CPU is the
    # reading process's.
    if isinstance(fetched, _PipedFetch):
        fetched = fetched.seconds
    seconds = {"fetch": fetched[0], "open": open_s, "store": store_s}
    cpu = {"fetch": fetched[1], "open": open_cpu, "store": store_cpu}
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
