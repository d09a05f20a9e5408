"""The same database always means the same secret key: `outdial keys create` in one directory and
`outdial serve` in another work together (real subprocesses, a real socket); a key that cannot open the
database's secrets stops start-up with one line; a secret no key opens answers a clear 401, never a 500."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from conftest import PG_URL, private_pg_schema
from foundation.serve_process import outdial_env, run_outdial, start_serve, stop
from outdial.app import create_app
from outdial.client import Client
from outdial.context import AppContext
from outdial.secretbox import SecretBox
from outdial.tenants import repository as tenants


def _dirs(tmp_path: Path) -> tuple[Path, Path]:
    one, another = tmp_path / "one-dir", tmp_path / "another-dir"
    one.mkdir()
    another.mkdir()
    return one, another


def test_a_key_created_in_one_directory_works_for_serve_in_another(tmp_path: Path) -> None:
    one, another = _dirs(tmp_path)
    database = tmp_path / "db" / "outdial.db"
    database.parent.mkdir()
    env = outdial_env(database_url=f"sqlite:///{database}")
    created = run_outdial(["keys", "create", "--vdn", "1"], one, env)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    server, base_url = start_serve(another, env, tmp_path / "serve.log")
    try:
        client = Client(base_url, key["ak"], key["sk"])
        answer = client.list_campaigns(1)
        client.close()
    finally:
        stop(server)
    assert answer.ok, answer.body
    # the key is the database's: beside its file, not in either working directory
    assert (database.parent / "secret.key").exists()
    assert not (one / "outdial-data").exists() and not (another / "outdial-data").exists()


def _new_key() -> str:
    return Fernet.generate_key().decode()


@contextlib.contextmanager
def _database_url(tmp_path: Path) -> Iterator[str]:
    """PostgreSQL when the tests have one (the issue's case: each directory's own key file), else SQLite."""
    if PG_URL:
        with private_pg_schema("sk") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'mismatch.db'}"


def test_a_key_that_does_not_open_the_database_stops_serve_with_one_line(tmp_path: Path) -> None:
    one, another = _dirs(tmp_path)
    with _database_url(tmp_path) as url:
        if url.startswith("sqlite"):  # one key file per SQLite database: two different keys by setting
            first, other = (outdial_env(database_url=url, secret_key=_new_key()) for _ in range(2))
        else:  # PostgreSQL without OUTDIAL_SECRET_KEY: each working directory's outdial-data/secret.key
            first = other = outdial_env(database_url=url)
        created = run_outdial(["keys", "create", "--vdn", "1"], one, first)
        assert created.returncode == 0, created.stderr
        refused = run_outdial(["serve", "--port", "1"], another, other)
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr
    said = [line for line in refused.stderr.splitlines() if " INFO " not in line]  # migrations' log lines
    assert len(said) == 1 and said[0].startswith("outdial: the secret key of "), refused.stderr
    assert "does not open the secrets stored in this database" in said[0]


def test_a_secret_no_key_opens_answers_a_clear_401_and_is_logged_once(
    ctx: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    sealed_elsewhere = SecretBox(_new_key())
    with ctx.db.write() as conn:
        key = tenants.create_key(conn, sealed_elsewhere, [1], ctx.clock.now_ms())
    with TestClient(create_app(ctx), base_url="http://testserver") as http:
        client = Client("http://testserver", key.ak, key.sk, http=http, clock=ctx.clock)
        with caplog.at_level(logging.ERROR, logger="outdial"):
            answers = []
            for _ in range(3):
                ctx.clock.advance(1)  # type: ignore[attr-defined]
                answers.append(client.list_campaigns(1))
    for answer in answers:
        assert answer.status_code == 401
        assert "cannot read this AK's secret" in answer.body["resultDesc"]
    logged = [r for r in caplog.records if key.ak in r.getMessage()]
    assert len(logged) == 1 and "another key" in logged[0].getMessage()
