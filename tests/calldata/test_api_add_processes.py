"""The one-second rule between two real server processes: the test's app and an `outdial serve` subprocess
on the same database. Deterministic without sleeping: the test's (virtual) clock is placed relative to
the instant the other process stamped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from calldata.conftest import stored
from campaigns.factories import create_campaign
from conftest import TEST_SECRET
from outdial.client import Client
from outdial.clock import RealClock
from outdial.models.calldata import rate_limits
from outdial.secretbox import SecretBox

OUTDIAL = str(Path(sys.executable).with_name("outdial"))
TEST_SECRET_KEY = "k0BJ1Xv8_5lD3aPqYJcJm5q3i3d7xXo2c9mR6cQp1yA="  # the key of conftest.TEST_SECRET


def test_the_other_process_gets_the_tests_secret_key() -> None:
    assert SecretBox(TEST_SECRET_KEY).decrypt(TEST_SECRET.encrypt("sk")) == "sk"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def other_server(database, tmp_path):
    """`outdial serve` on the test's database, with the test's secret key (it reads the same AKs)."""
    port = _free_port()
    env = {
        **os.environ,
        "OUTDIAL_DATABASE_URL": database.url.replace("postgresql+psycopg://", "postgresql://"),
        "OUTDIAL_SECRET_KEY": TEST_SECRET_KEY,
        "OUTDIAL_DATA_DIR": str(tmp_path / "other"),
        "OUTDIAL_TIMEZONE": "UTC",
    }
    log = tmp_path / "other-serve.log"  # a file, not a pipe: a full pipe would stall the server
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [OUTDIAL, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=log_file
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"outdial serve did not start: {log.read_text()}")
            try:
                if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield base_url
    finally:
        server.terminate()
        server.wait(10)


def test_an_add_in_one_process_holds_the_second_in_the_other(client, ctx, clock, keys, other_server) -> None:
    real_now = RealClock().now_ms()
    clock.set(real_now)
    begin = datetime.fromtimestamp(real_now / 1000, UTC) + timedelta(days=1)
    campaign_id = create_campaign(
        client,
        strBeginTime=begin.strftime("%Y-%m-%d 08:00:00"),
        strEndTime=(begin + timedelta(days=1)).strftime("%Y-%m-%d 20:00:00"),
    )
    other = Client(other_server, keys["vdn1"].ak, keys["vdn1"].sk)  # signs with the real clock
    try:
        assert other.add_call_data(1, campaign_id, [{"called": "1"}]).ok
        with ctx.db.read() as conn:
            stamped = conn.execute(sa.select(rate_limits.c.last_at)).scalar_one()
        assert abs(stamped - RealClock().now_ms()) < 60_000  # the other process's real clock
        clock.set(stamped + 999)
        assert client.add_call_data(1, campaign_id, [{"called": "2"}]).code == "0200022"
        clock.set(stamped + 1000)  # exactly one second later
        assert client.add_call_data(1, campaign_id, [{"called": "3"}]).ok
        clock.set(stamped + 60_000)
        assert client.add_call_data(1, campaign_id, [{"called": "5"}]).ok
        # the other way round: this process stamped a minute ahead of the other's real clock
        response = other.add_call_data(1, campaign_id, [{"called": "4"}])
        assert response.code == "0200022", response.body
    finally:
        other.close()
    assert [r.called for r in stored(ctx, campaign_id)] == ["1", "3", "5"]
