"""Fixtures: a real, migrated database per test (SQLite always; PostgreSQL too when
OUTDIAL_TEST_DATABASE_URL is set), the real app behind FastAPI's TestClient, and a signed outdial Client."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from outdial.app import create_app
from outdial.client import Client
from outdial.clock import VirtualClock, from_datetime
from outdial.config import Settings
from outdial.context import AppContext
from outdial.db import Database, normalize_url
from outdial.migrate import upgrade
from outdial.models import metadata
from outdial.secretbox import SecretBox
from outdial.tenants import repository as tenants

PG_URL = os.environ.get("OUTDIAL_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
# Tests start at Monday 2026-11-23 09:00:00 UTC unless they set the clock themselves.
START = from_datetime(datetime(2026, 11, 23, 9, 0, 0, tzinfo=ZoneInfo("UTC")))
TEST_SECRET = SecretBox(b"k0BJ1Xv8_5lD3aPqYJcJm5q3i3d7xXo2c9mR6cQp1yA=")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "outdial.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@contextlib.contextmanager
def private_pg_schema(prefix: str) -> Iterator[str]:
    """A new, empty schema of PG_URL's database (dropped afterwards): the URL that works in it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(PG_URL))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(scope="session")
def _pg_schema_url() -> Iterator[str]:
    """One private schema per test session, so parallel sessions on one PostgreSQL do not collide."""
    if not PG_URL:
        yield ""
        return
    with private_pg_schema("t") as url:
        db = Database(url)
        upgrade(db)
        db.dispose()
        yield url


@pytest.fixture(params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path, _pg_schema_url: str
) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "outdial.db"
        shutil.copy(_sqlite_template, path)
        db = Database(f"sqlite:///{path}")
    else:
        db = Database(_pg_schema_url)
        names = ", ".join(t.name for t in metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    yield db
    db.dispose()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", timezone="UTC", database_url="unused")


@pytest.fixture
def ctx(database: Database, clock: VirtualClock, settings: Settings) -> AppContext:
    return AppContext(settings=settings, db=database, clock=clock, box=TEST_SECRET)


@pytest.fixture
def http(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def keys(ctx: AppContext) -> dict[str, tenants.ApiKey]:
    """Two tenants: key "vdn1" for VDN 1 and key "vdn2" for VDN 2."""
    with ctx.db.write() as conn:
        return {
            "vdn1": tenants.create_key(conn, ctx.box, [1], ctx.clock.now_ms()),
            "vdn2": tenants.create_key(conn, ctx.box, [2], ctx.clock.now_ms()),
        }


@pytest.fixture
def client(http: TestClient, keys: dict[str, tenants.ApiKey], ctx: AppContext) -> Client:
    """A signed client for VDN 1."""
    return Client("http://testserver", keys["vdn1"].ak, keys["vdn1"].sk, http=http, clock=ctx.clock)


@pytest.fixture
def client_vdn2(http: TestClient, keys: dict[str, tenants.ApiKey], ctx: AppContext) -> Client:
    return Client("http://testserver", keys["vdn2"].ak, keys["vdn2"].sk, http=http, clock=ctx.clock)
