"""Call data: one record per customer, the blacklist, and database-held rate limits."""

from __future__ import annotations

import sqlalchemy as sa

from outdial.models.base import BigId, Instant, metadata

# Record states
WAITING, IN_PROGRESS, FINISHED, RECYCLED, DELETED = 0, 1, 2, 3, 4
UNFINISHED_STATES = (WAITING, IN_PROGRESS)

call_data = sa.Table(
    "call_data",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),  # the API's dataId
    # No foreign key to campaigns, on purpose: its per-row check cost the bulk import ~3 s of PostgreSQL
    # time per 500,000 rows. Campaigns are soft-deleted, the add and import paths lock and check the
    # campaign row in their transaction, and purge_campaign deletes a campaign's records explicitly.
    sa.Column("campaign_id", sa.Integer, nullable=False),
    sa.Column("vdn_id", sa.Integer, nullable=False),
    sa.Column("session_id", sa.String(32)),
    sa.Column("called", sa.String(24), nullable=False),  # the first called number: dedup and lookups
    # All called numbers as JSON [[calledNo, type, delaySeconds], ...]; NULL when the record has only
    # `called` with no type and no delay (the add API's case), which keeps bulk rows small.
    sa.Column("numbers", sa.Text),
    sa.Column("caller", sa.String(24)),
    sa.Column("call_data", sa.Text),
    sa.Column("custom_field", sa.String(200)),
    sa.Column("recycle_at", Instant),
    sa.Column("state", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("next_due_at", Instant, nullable=False, server_default="0"),
    sa.Column("number_index", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("attempt_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("import_task_id", sa.String(32)),
    sa.Column("created_at", Instant, nullable=False),
    sa.Column("finished_at", Instant),
    sa.Column("final_attempt_id", sa.BigInteger),
    # The engine picks due records of one campaign: WHERE campaign_id=? AND state=0 AND next_due_at<=?
    sa.Index("ix_call_data_pick", "campaign_id", "state", "next_due_at"),
    sa.Index("ix_call_data_called", "campaign_id", "called"),
    # No index on session_id: only deleting WAITING numbers by sessionId filters on it, and
    # ix_call_data_pick narrows that to the campaign's waiting rows (tens of ms for 200,000); the index
    # cost every bulk import its upkeep (docs/calldata.md#storage).
    # (results read final calls from attempts.final and ix_attempts_final, not from final_attempt_id)
    sqlite_autoincrement=True,  # ids are handed out: never reuse one (see base.py)
)

blacklist = sa.Table(
    "blacklist",
    metadata,
    sa.Column("vdn_id", sa.Integer, primary_key=True),
    sa.Column("number", sa.String(24), primary_key=True),
    sa.Column("expires_at", Instant),  # NULL: never expires
    sa.Column("restrict_times", sa.SmallInteger),
    sa.Column("restrict_period", sa.String(1)),  # "0" per hour, "1" per day
    sa.Column("created_at", Instant, nullable=False),
)

# Minimum spacing between calls of an interface (e.g. one add-numbers call per campaign per second).
# Held in the database so the rule holds across server processes.
rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("last_at", Instant, nullable=False),
)
