"""Schema creation and upgrades through Alembic (`outdial db upgrade`, also run when `serve` starts)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from outdial.db import Database


def alembic_config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", "outdial:migrations")
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    config = alembic_config(database)
    with database.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
