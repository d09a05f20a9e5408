from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

# BIGINT on PostgreSQL, but INTEGER on SQLite so that an integer primary key is the rowid (autoincrement).
# Every table whose id leaves the server (campaignId, dataId, holiday id, attempt and result ids) is declared
# with sqlite_autoincrement=True: without AUTOINCREMENT SQLite hands the highest freed rowid out again after
# a delete, and a receiver that drops repeated resultIds would drop real results. PostgreSQL's sequences
# never go back (migration 0003; tests/engine/test_deleted_campaigns.py, tests/test_migrations.py).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Instant = sa.BigInteger  # epoch milliseconds UTC
