"""Builds the running service's context from settings: database (migrated), clock, secrets."""

from __future__ import annotations

from outdial.clock import Clock, RealClock
from outdial.config import Settings, get_settings
from outdial.context import AppContext
from outdial.db import Database
from outdial.migrate import upgrade
from outdial.secretbox import SecretBox


def build_context(
    settings: Settings | None = None, *, clock: Clock | None = None, migrate: bool = True
) -> AppContext:
    settings = settings or get_settings()
    db = Database(settings.resolved_database_url(), wal_limit_mb=settings.sqlite_wal_limit_mb)
    if migrate:
        upgrade(db)
    box = SecretBox.from_settings(settings.secret_key, settings.data_dir)
    return AppContext(settings=settings, db=db, clock=clock or RealClock(), box=box)
