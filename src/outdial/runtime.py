"""Builds the running service's context from settings: database (migrated), clock, secrets."""

from __future__ import annotations

from outdial.clock import Clock, RealClock
from outdial.config import Settings, get_settings
from outdial.context import AppContext
from outdial.db import Database
from outdial.migrate import upgrade
from outdial.secretbox import SecretBox, check_opens


def build_context(
    settings: Settings | None = None, *, clock: Clock | None = None, migrate: bool = True
) -> AppContext:
    settings = settings or get_settings()
    db = Database(settings.resolved_database_url(), wal_limit_mb=settings.sqlite_wal_limit_mb)
    if migrate:
        upgrade(db)
    url = settings.resolved_database_url()
    box = SecretBox.for_database(settings.secret_key, url, settings.data_dir)
    if migrate:  # a database not migrated yet may lack the tables that hold secrets
        with db.read() as conn:
            check_opens(conn, box)  # SecretKeyMismatch: the caller says so in one line and stops
    return AppContext(settings=settings, db=db, clock=clock or RealClock(), box=box)
