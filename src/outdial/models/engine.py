"""What the dialing engine writes: attempts (one per call placed), campaign leases, result-code maps and
business results written back."""

from __future__ import annotations

import sqlalchemy as sa

from outdial.models.base import BigId, Instant, metadata

# Attempt states: written OPEN before the call is placed, ENDED with its outcome, RECONCILED when a
# restart found it open and closed it (the call's fate is unknown: failCode 34608).
OPEN, ENDED, RECONCILED = 0, 1, 2

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("call_id", sa.String(40), nullable=False, unique=True),
    sa.Column("campaign_id", sa.Integer, nullable=False),
    sa.Column("vdn_id", sa.Integer, nullable=False),
    sa.Column("data_id", sa.BigInteger, nullable=False),
    sa.Column("number_index", sa.SmallInteger, nullable=False),
    sa.Column("called", sa.String(24), nullable=False),
    sa.Column("caller", sa.String(32)),
    sa.Column("session_id", sa.String(32)),
    sa.Column("custom_field", sa.String(200)),
    sa.Column("state", sa.SmallInteger, nullable=False),
    sa.Column("created_at", Instant, nullable=False),
    sa.Column("answer_at", Instant),
    sa.Column("end_at", Instant),
    sa.Column("local_day", sa.String(10), nullable=False),  # the campaign's local date of the call
    sa.Column("outcome", sa.String(20)),
    sa.Column("result_type", sa.SmallInteger),
    sa.Column("fail_code", sa.String(10)),
    sa.Column("result_code", sa.String(20)),
    sa.Column("call_status", sa.SmallInteger),  # 5 failed, 6 succeeded
    sa.Column("agent_id", sa.String(32)),
    sa.Column("abandoned", sa.Boolean, nullable=False, server_default=sa.text("false")),
    sa.Column("record_path", sa.String(255)),
    # the final call of its record (call_data.final_attempt_id), written in the same statements
    sa.Column("final", sa.Boolean, nullable=False, server_default=sa.text("false")),
    # results: the finished calls of a campaign in listing order (partial: open calls are not in it)
    sa.Index(
        "ix_attempts_finished",
        "campaign_id",
        "local_day",
        "id",
        sqlite_where=sa.text("end_at IS NOT NULL"),
        postgresql_where=sa.text("end_at IS NOT NULL"),
    ),
    sa.Index(  # results: the customField filter, over finished calls only (final: showDetail 0 index-only)
        "ix_attempts_campaign_custom",
        "campaign_id",
        "custom_field",
        "local_day",
        "id",
        "final",
        sqlite_where=sa.text("end_at IS NOT NULL"),
        postgresql_where=sa.text("end_at IS NOT NULL"),
    ),
    sa.Index(  # results (showDetail 0): each record's final call in listing order
        "ix_attempts_final",
        "campaign_id",
        "local_day",
        "id",
        sqlite_where=sa.text("final = 1"),
        postgresql_where=sa.text("final"),
    ),
    sa.Index("ix_attempts_campaign_session", "campaign_id", "session_id"),
    sa.Index("ix_attempts_data", "data_id"),
    sa.Index("ix_attempts_vdn_called", "vdn_id", "called", "created_at"),
    sa.Index("ix_attempts_state", "state"),
    sqlite_autoincrement=True,  # ids are handed out: never reuse one (see base.py)
)

# A running campaign is dialed by exactly one worker: the holder of its unexpired lease.
campaign_leases = sa.Table(
    "campaign_leases",
    metadata,
    sa.Column("campaign_id", sa.Integer, primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("expires_at", Instant, nullable=False),
)

# failCode -> external resultCode, per VDN (the default table is in engine/resultcodes.py)
result_code_map = sa.Table(
    "result_code_map",
    metadata,
    sa.Column("vdn_id", sa.Integer, primary_key=True),
    sa.Column("fail_code", sa.String(10), primary_key=True),
    sa.Column("result_code", sa.String(20), nullable=False),
)

business_results = sa.Table(
    "business_results",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("data_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("campaign_id", sa.Integer, nullable=False),
    sa.Column("busi_result", sa.String(50), nullable=False),
    sa.Column("sub_status", sa.String(50)),
    sa.Column("busi_result_desc", sa.Text),
    sa.Column("work_no", sa.String(32)),
    sa.Column("created_at", Instant, nullable=False),
    sqlite_autoincrement=True,  # ids are handed out: never reuse one (see base.py)
)
