"""`outdial agents ...` on the real database, with the interface's rules."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from outdial.cli import app, cli_groups
from outdial.tenants import repository as tenants


@pytest.fixture
def run(ctx, monkeypatch):
    monkeypatch.setattr("outdial.cli._context", lambda db: ctx)
    cli_groups()
    with ctx.db.write() as conn:
        tenants.add_skill_queue(conn, 1, 4, "sales", ctx.clock.now_ms())
        tenants.add_skill_queue(conn, 1, 5, "support", ctx.clock.now_ms())
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["agents", *args])


def _listed(run) -> list[dict]:
    result = run("list", "--vdn", "1")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_login_and_every_action(run, clock):
    done = run(
        "login", "--vdn", "1", "--agent", "a.1", "--skill", "4", "--skill", "5", "--uri", "sip:a1@127.0.0.1"
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["skillIds"] == [4, 5]
    assert run("notready", "--vdn", "1", "--agent", "a.1").exit_code == 0
    (row,) = _listed(run)
    assert (row["agentId"], row["ready"], row["notReadyReason"], row["state"]) == (
        "a.1",
        False,
        "requested",
        None,
    )
    clock.advance(1)
    assert run("ready", "--vdn", "1", "--agent", "a.1").exit_code == 0
    assert run("wrapupdone", "--vdn", "1", "--agent", "a.1").exit_code == 0
    (row,) = _listed(run)
    assert (row["ready"], row["wrapupDoneAt"]) == (True, clock.now_ms())
    assert run("logout", "--vdn", "1", "--agent", "a.1").exit_code == 0
    assert _listed(run) == []


def test_refusals_print_code_and_field(run):
    bad_uri = run("login", "--vdn", "1", "--agent", "a1", "--skill", "4", "--uri", "tel:123")
    assert bad_uri.exit_code == 1 and bad_uri.stderr.startswith("02000007: uri must be a sip: or sips: URI")
    unknown = run("login", "--vdn", "1", "--agent", "a1", "--skill", "9", "--uri", "sip:a@h")
    assert unknown.exit_code == 1 and "0200017: skillIds[0]: skill queue 9 does not exist" in unknown.stderr
    absent = run("logout", "--vdn", "1", "--agent", "a1")
    assert absent.exit_code == 1 and "0200007: agentId: agent a1 is not logged in" in absent.stderr
    not_ready = run("login", "--vdn", "1", "--agent", "a1", "--skill", "4", "--uri", "sip:a@h", "--not-ready")
    assert not_ready.exit_code == 0 and json.loads(not_ready.stdout)["ready"] is False
