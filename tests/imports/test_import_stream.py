"""A .csv is read while it downloads (pipeline._PipedFetch): the import's outcome is the one of
fetching first, whole-file checks that now come during the pass still store nothing, and a failed
download is the reason even when the reader stumbled over the cut file first."""

from __future__ import annotations

from typing import Any

import asyncssh
import pytest

from campaigns.factories import create_campaign
from imports.helpers import add_server, csv_bytes, dumps, run_worker, start_import, task
from imports.test_import_api import stored
from outdial.client import Client
from outdial.clock import VirtualClock
from outdial.context import AppContext
from outdial.imports import pipeline
from sftp_servers import SftpTestServer

ROWS = [[f"s{i}", dumps([{"calledNo": str(13800000000 + i % 900)}])] for i in range(1000)]


@pytest.fixture(params=[True, False], ids=["read-while-fetched", "fetched-first"])
def stream(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(pipeline, "STREAM_CSV", request.param)
    return bool(request.param)


@pytest.fixture
def campaign(client: Client) -> int:
    return create_campaign(client, initStatus=1)


def run(
    server: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, campaign: int, data: bytes
) -> dict[str, Any]:
    folder = f"stream/{campaign}"
    server.put(f"{folder}/f.csv", data)
    task_id = start_import(client, campaign, add_server(client, server), "f.csv", file_path=folder)
    assert run_worker(ctx) == 1
    return task(client, clock, campaign, task_id)


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "one-process"])
def test_a_csv_imports_the_same_either_way(
    asyncssh_sftp: SftpTestServer,
    client: Client,
    ctx: AppContext,
    clock: VirtualClock,
    campaign: int,
    stream: bool,
    fork: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline, "FORK", fork)
    result = run(asyncssh_sftp, client, ctx, clock, campaign, csv_bytes(ROWS) + b"s,12a\n")
    assert (result["status"], result["succNum"], result["repeatNum"], result["failNum"]) == ("2", 900, 100, 1)
    assert [row.session_id for row in stored(ctx, campaign)] == [f"s{i}" for i in range(900)]


def test_a_file_over_the_size_limit_fails_with_the_fetchs_reason(
    asyncssh_sftp: SftpTestServer,
    client: Client,
    ctx: AppContext,
    clock: VirtualClock,
    campaign: int,
    stream: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reader sees an empty file (the fetch refused it from its size): the fetch's reason wins."""
    monkeypatch.setattr(pipeline, "MAX_FILE_BYTES", 1000)
    result = run(asyncssh_sftp, client, ctx, clock, campaign, csv_bytes(ROWS))
    assert result["status"] == "3"
    assert "f.csv on 127.0.0.1:" in result["errMsg"] and "the limit is 1000 bytes" in result["errMsg"]
    assert stored(ctx, campaign) == []


def test_a_download_cut_short_stores_nothing(
    asyncssh_sftp: SftpTestServer,
    client: Client,
    ctx: AppContext,
    clock: VirtualClock,
    campaign: int,
    stream: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fetch fails after the reader got (and the worker inserted) rows: all of them roll back."""
    calls = {"reads": 0}
    real_read = asyncssh.SFTPClientFile.read

    async def fail_after(self: asyncssh.SFTPClientFile, *args: Any, **kwargs: Any) -> Any:
        calls["reads"] += 1
        if calls["reads"] > 1:
            raise asyncssh.SFTPFailure("connection lost")
        return await real_read(self, 8000)  # a first piece of the file, then the failure

    monkeypatch.setattr(asyncssh.SFTPClientFile, "read", fail_after)
    result = run(asyncssh_sftp, client, ctx, clock, campaign, csv_bytes(ROWS))
    assert result["status"] == "3"
    assert "SFTP error on 127.0.0.1:" in result["errMsg"] and "connection lost" in result["errMsg"]
    assert stored(ctx, campaign) == []


def test_too_many_records_found_during_the_pass_store_nothing(
    asyncssh_sftp: SftpTestServer,
    client: Client,
    ctx: AppContext,
    clock: VirtualClock,
    campaign: int,
    stream: bool,
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"max_records_per_file": 999})
    result = run(asyncssh_sftp, client, ctx, clock, campaign, csv_bytes(ROWS))
    assert result["status"] == "3"
    assert "the file holds 1000 records; at most 999" in result["errMsg"]
    assert stored(ctx, campaign) == []
