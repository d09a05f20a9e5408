"""SFTP file servers and file import tasks."""

from __future__ import annotations

import sqlalchemy as sa

from outdial.models.base import Instant, metadata

# Import task status, as the query interface shows it
PREPARING, IMPORTING, IMPORTED, FAILED = 0, 1, 2, 3

file_servers = sa.Table(
    "file_servers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # the API's serverId
    sa.Column("vdn_id", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("username", sa.String(30), nullable=False),
    sa.Column("password_encrypted", sa.Text),
    sa.Column("private_key_encrypted", sa.Text),
    sa.Column("default_path", sa.String(255), nullable=False),
    sa.Column("host_key", sa.Text),  # pinned public key, OpenSSH form; NULL: not pinned
    sa.Column("created_at", Instant, nullable=False),
    sa.Column("updated_at", Instant, nullable=False),
    sa.UniqueConstraint("vdn_id", "host", "port", "username"),
)

import_tasks = sa.Table(
    "import_tasks",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # the API's importTaskId
    sa.Column("vdn_id", sa.Integer, nullable=False),
    sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    sa.Column("server_id", sa.String(32), nullable=False),
    sa.Column("file_path", sa.String(255)),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("status", sa.SmallInteger, nullable=False),
    sa.Column("run_at", Instant, nullable=False),  # now, or the next hour:minute asked for
    sa.Column("begin_at", Instant),
    sa.Column("end_at", Instant),
    sa.Column("succ_num", sa.Integer, nullable=False, server_default="0"),
    sa.Column("repeat_num", sa.Integer, nullable=False, server_default="0"),
    sa.Column("fail_num", sa.Integer, nullable=False, server_default="0"),
    sa.Column("err_msg", sa.Text),
    sa.Column("claimed_by", sa.String(64)),  # worker lease while importing
    sa.Column("claimed_until", Instant),
    sa.Column("created_at", Instant, nullable=False),
    sa.Index("ix_import_tasks_campaign", "campaign_id", "created_at"),
    sa.Index("ix_import_tasks_due", "status", "run_at"),
)

import_failures = sa.Table(
    "import_failures",
    metadata,
    # No foreign key to import_tasks: its per-row check cost PostgreSQL ~1.2 s per 500,000 failed rows.
    # Failed rows are written only with their task's end, and purge_campaign deletes them explicitly.
    sa.Column("task_id", sa.String(32), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),  # "invalid", "blacklist" or "duplicate"
    sa.Column("reason", sa.Text, nullable=False),
)
