"""`outdial fileserver ...` and `outdial imports failures` on the test database."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaigns.factories import create_campaign
from imports.helpers import csv_bytes, dumps, run_worker, start_import, task
from imports.test_import_crash import TEST_SECRET_KEY
from outdial.cli import app, cli_groups
from outdial.client import Client
from outdial.clock import VirtualClock
from outdial.config import get_settings
from outdial.context import AppContext
from sftp_servers import SftpTestServer


@pytest.fixture
def cli(ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The CLI on the test database, with the tests' secret key (so the API can use what it stores)."""
    monkeypatch.setenv("OUTDIAL_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("OUTDIAL_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("OUTDIAL_DATABASE_URL", ctx.db.url)
    monkeypatch.setenv("OUTDIAL_FILESERVER_ALLOWED_NETWORKS", ctx.settings.fileserver_allowed_networks)
    get_settings.cache_clear()
    cli_groups()
    yield CliRunner()
    get_settings.cache_clear()


def test_fileserver_add_with_password_then_import(
    cli: CliRunner,
    asyncssh_sftp: SftpTestServer,
    client: Client,
    ctx: AppContext,
    clock: VirtualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SFTP_PW", asyncssh_sftp.password or "")
    args = ["fileserver", "add", "--vdn", "1", "--host", "127.0.0.1", "--port", str(asyncssh_sftp.port)]
    result = cli.invoke(app, [*args, "--user", "isales", "--password-env", "SFTP_PW", "--path", "/"])
    assert result.exit_code == 0, result.output
    server_id = json.loads(result.stdout)["serverId"]
    assert len(server_id) == 30 and asyncssh_sftp.password not in result.output
    listed = cli.invoke(app, ["fileserver", "list", "--vdn", "1"])
    assert json.loads(listed.stdout)["serverId"] == server_id
    assert (asyncssh_sftp.password or "?") not in listed.stdout

    campaign = create_campaign(client, initStatus=1)
    rows = [[None, dumps([{"calledNo": "1"}])], [None, dumps([{"calledNo": "x"}])], [None, dumps([{"calledNo": "1"}])]]
    asyncssh_sftp.put(f"cli/{campaign}/f.csv", csv_bytes(rows))
    task_id = start_import(client, campaign, server_id, "f.csv", file_path=f"cli/{campaign}")
    run_worker(ctx)
    assert task(client, clock, campaign, task_id)["succNum"] == 1

    out = cli.invoke(app, ["imports", "failures", task_id, "--vdn", "1"])
    assert out.exit_code == 0, out.output
    assert list(csv.reader(io.StringIO(out.stdout))) == [
        ["line", "kind", "reason"],
        ["3", "invalid", "called: calledNo 'x' may contain only digits, * and #"],
        ["4", "duplicate", "called: 1 is already in the campaign or the file"],
    ]
    assert cli.invoke(app, ["imports", "failures", task_id, "--vdn", "2"]).exit_code == 1


def test_fileserver_add_with_key_and_pinned_host_key(
    cli: CliRunner, sftp_server: SftpTestServer, client: Client, ctx: AppContext, clock: VirtualClock, tmp_path: Path
) -> None:
    key_file = tmp_path / "id_ed25519"
    key_file.write_text(sftp_server.client_private_key)
    host_key_file = tmp_path / "host.pub"
    host_key_file.write_text(sftp_server.host_key + " comment\n")
    args = ["fileserver", "add", "--vdn", "1", "--host", "127.0.0.1", "--port", str(sftp_server.port)]
    args += ["--user", sftp_server.key_user, "--key-file", str(key_file), "--host-key-file", str(host_key_file)]
    result = cli.invoke(app, [*args, "--path", sftp_server.default_path])
    assert result.exit_code == 0, result.output
    server_id = json.loads(result.stdout)["serverId"]
    campaign = create_campaign(client, initStatus=1)
    sftp_server.put(f"clikey/{campaign}/f.csv", csv_bytes([[None, dumps([{"calledNo": "5"}])]]))
    task_id = start_import(client, campaign, server_id, "f.csv", file_path=f"clikey/{campaign}")
    run_worker(ctx)
    assert task(client, clock, campaign, task_id)["status"] == "2"


def test_fileserver_add_needs_exactly_one_secret(cli: CliRunner, tmp_path: Path) -> None:
    base = ["fileserver", "add", "--vdn", "1", "--host", "h", "--user", "u"]
    neither = cli.invoke(app, base)
    assert neither.exit_code == 2 and "exactly one of --password-env" in neither.output
    key = tmp_path / "k"
    key.write_text("x")
    both = cli.invoke(app, [*base, "--password-env", "X", "--key-file", str(key)])
    assert both.exit_code == 2
    unset = cli.invoke(app, [*base, "--password-env", "NO_SUCH_VARIABLE_SET"])
    assert unset.exit_code == 2 and "NO_SUCH_VARIABLE_SET is not set" in unset.output
    bad_key = cli.invoke(app, [*base, "--key-file", str(key)])
    assert bad_key.exit_code == 1 and "02000007: privateKey must be an unencrypted" in bad_key.output
