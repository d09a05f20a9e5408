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
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Instant = sa.BigInteger  # epoch milliseconds UTC
