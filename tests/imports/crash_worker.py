"""Run by test_import_crash.py as a separate process: the real import worker on the test's database, with
one change: at the point CRASH_AT names it says so on stdout and waits to be killed. "insert": right after
the bulk insert, inside the import's open transaction (STORED and the row count); "open": once the
reading process has opened the file, before the transaction (OPENED and the reading process's id). Not a
test module."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from outdial.calldata import repository as calldata_repo
from outdial.clock import VirtualClock
from outdial.config import Settings
from outdial.context import AppContext
from outdial.db import Database
from outdial.imports import pipeline, worker
from outdial.imports.forked import ForkedStream
from outdial.secretbox import SecretBox


def install(stage: str) -> None:
    """Make this process's imports stop at `stage` ("insert" or "open"), saying so on stdout. The kill
    matrix (tests/foundation/test_kill_matrix.py) installs it in `outdial serve`."""
    real_insert = calldata_repo.bulk_insert_blocks

    def insert_then_hang(conn: Any, blocks: Any, **kwargs: Any) -> None:
        blocks = list(blocks)  # every block from the reading process, which has ended by now
        real_insert(conn, blocks, **kwargs)
        if conn.dialect.name == "sqlite":  # flat lists of values, one row per len(_ROW_COLUMNS)
            count = sum(len(b) for b in blocks) // len(calldata_repo._ROW_COLUMNS)
        else:
            count = sum(b.count(b"\n") for b in blocks)
        print("STORED", count, flush=True)
        time.sleep(600)  # the test kills the process here, the transaction still open

    class OpenThenHang(ForkedStream[Any]):
        def prepared(self) -> Any:
            summary = super().prepared()
            print("OPENED", self._pid, flush=True)
            time.sleep(600)  # the test kills the process here; the reading process waits for its start
            return summary

    if stage == "open":
        pipeline.ForkedStream = OpenThenHang  # type: ignore[misc]
    else:
        pipeline.calldata_repo = type(sys)("hanging_repo")
        pipeline.calldata_repo.__dict__.update(calldata_repo.__dict__)
        pipeline.calldata_repo.bulk_insert_blocks = insert_then_hang  # type: ignore[attr-defined]


def main() -> None:
    install(os.environ.get("CRASH_AT", "insert"))
    ctx = AppContext(
        settings=Settings(
            timezone="UTC",
            database_url="unused",
            data_dir=os.environ["CRASH_DATA_DIR"],
            fileserver_allowed_networks=os.environ["CRASH_ALLOWED_NETWORKS"],
        ),
        db=Database(os.environ["CRASH_DB_URL"]),
        clock=VirtualClock(int(os.environ["CRASH_NOW_MS"])),
        box=SecretBox(os.environ["CRASH_SECRET"]),
    )
    print("STARTED", flush=True)
    worker.run_due(ctx, "doomed-worker")
    print("FINISHED", flush=True)  # never reached


if __name__ == "__main__":
    main()
