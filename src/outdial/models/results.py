"""The durable callback outbox and its delivery log."""

from __future__ import annotations

import sqlalchemy as sa

from outdial.models.base import BigId, Instant, metadata

# Outbox states
PENDING, DELIVERED, GAVE_UP = 0, 1, 2

callback_outbox = sa.Table(
    "callback_outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),  # stable id receivers de-duplicate on
    sa.Column("campaign_id", sa.Integer, nullable=False),
    sa.Column("vdn_id", sa.Integer, nullable=False),
    sa.Column("attempt_id", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # the result as JSON, frozen when the call ended
    sa.Column("state", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("pushes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_push_at", Instant, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", Instant, nullable=False),
    sa.Column("delivered_at", Instant),
    sa.Index("ix_callback_outbox_pending", "state", "campaign_id", "id"),
    sqlite_autoincrement=True,  # ids are handed out: never reuse one (see base.py)
)

callback_deliveries = sa.Table(
    "callback_deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", sa.Integer, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("first_outbox_id", sa.BigInteger, nullable=False),
    sa.Column("last_outbox_id", sa.BigInteger, nullable=False),
    sa.Column("result_count", sa.Integer, nullable=False),
    sa.Column("push_no", sa.Integer, nullable=False),
    sa.Column("at", Instant, nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text),
    sa.Index("ix_callback_deliveries_campaign", "campaign_id", "id"),
    sqlite_autoincrement=True,  # ids are handed out: never reuse one (see base.py)
)
