"""Tenants' keys, replay protection, per-VDN settings, skill queues, campaigns and their parts."""

from __future__ import annotations

import sqlalchemy as sa

from outdial.models.base import Instant, metadata

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("ak", sa.String(64), primary_key=True),
    sa.Column("sk_encrypted", sa.Text, nullable=False),
    sa.Column("created_at", Instant, nullable=False),
    sa.Column("revoked_at", Instant),
)

api_key_vdns = sa.Table(
    "api_key_vdns",
    metadata,
    sa.Column("ak", sa.String(64), sa.ForeignKey("api_keys.ak", ondelete="CASCADE"), primary_key=True),
    sa.Column("vdn_id", sa.Integer, primary_key=True),
)

# Signatures seen inside the auth window: a second use is a replay. Shared by all processes.
used_signatures = sa.Table(
    "used_signatures",
    metadata,
    sa.Column("signature", sa.String(64), primary_key=True),
    sa.Column("expires_at", Instant, nullable=False, index=True),
)

# Small facts the server keeps about itself, one JSON value per key (e.g. "scaled_clock": the timeline of
# `serve --speed N`, so a restart continues it; see outdial/clock_store.py).
server_state = sa.Table(
    "server_state",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", Instant, nullable=False),
)

vdn_settings = sa.Table(
    "vdn_settings",
    metadata,
    sa.Column("vdn_id", sa.Integer, primary_key=True),
    sa.Column("callback_url", sa.Text),
    sa.Column("callback_max_pushes", sa.Integer),
)

skill_queues = sa.Table(
    "skill_queues",
    metadata,
    sa.Column("vdn_id", sa.Integer, primary_key=True),
    sa.Column("skill_id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("created_at", Instant, nullable=False),
)

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("vdn_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(32), nullable=False),
    # 1 published (waiting for its period), 2 executing, 3 paused, 4 completed; see docs/campaign-lifecycle.md
    sa.Column("status", sa.SmallInteger, nullable=False),
    sa.Column("device_type", sa.SmallInteger, nullable=False),
    sa.Column("priority", sa.SmallInteger),
    sa.Column("begin_at", Instant, nullable=False),
    sa.Column("end_at", Instant, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("skill_id", sa.Integer),
    sa.Column("callback_url", sa.Text),
    sa.Column("spec", sa.JSON, nullable=False),  # the validated V2 body, see campaigns/validation.py
    sa.Column("created_at", Instant, nullable=False),
    sa.Column("updated_at", Instant, nullable=False),
    sa.Column("completed_at", Instant),
    sa.Column("deleted_at", Instant),  # archiveHistory=1 keeps a deleted campaign as history
    sa.Index("ix_campaigns_vdn_status", "vdn_id", "status"),
    sa.Index(
        "uq_campaigns_vdn_name_live",
        "vdn_id",
        "name",
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    ),
    sqlite_autoincrement=True,  # ids are handed out: never reuse one (see base.py)
)

campaign_callers = sa.Table(
    "campaign_callers",
    metadata,
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("access_code", sa.String(32), primary_key=True),
    sa.Column("priority", sa.SmallInteger, nullable=False),
)

campaign_holidays = sa.Table(
    "campaign_holidays",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(30), nullable=False),
    sa.Column("type", sa.SmallInteger, nullable=False),  # 1 weekdays, 2 date range, 3 yearly MM-dd range
    sa.Column("week", sa.String(20)),
    sa.Column("begin_date", sa.String(10)),
    sa.Column("end_date", sa.String(10)),
    sa.UniqueConstraint("campaign_id", "name"),
    sqlite_autoincrement=True,  # ids are handed out: never reuse one (see base.py)
)
