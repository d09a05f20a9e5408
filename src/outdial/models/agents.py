"""Agents logged in to skill queues with the SIP URI of their phone (real agents, issue 13).

A row exists while the agent is logged in; logging out deletes it. The table holds what the agent asked
for (ready or not, wrap-up ended early at); the live state (reserved, talking, wrap-up) is the telephony
port's. Agent ids are global, as on a switch: one agent is logged in to one VDN at a time.
"""

from __future__ import annotations

import sqlalchemy as sa

from outdial.models.base import Instant, metadata

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("agent_id", sa.String(32), primary_key=True),
    sa.Column("vdn_id", sa.Integer, nullable=False, index=True),
    sa.Column("uri", sa.String(255), nullable=False),
    sa.Column("ready", sa.Boolean, nullable=False),
    # why the agent is not ready: "requested" (the agent asked) or "noAnswer" (its phone did not answer a
    # connect, set by the engine); None when ready
    sa.Column("not_ready_reason", sa.String(16)),
    sa.Column("ready_changed_at", Instant, nullable=False),  # when `ready` was last set
    sa.Column("wrapup_done_at", Instant),  # the agent's last "wrap-up done"
    sa.Column("logged_in_at", Instant, nullable=False),
    sa.Column("updated_at", Instant, nullable=False),
)

agent_skills = sa.Table(
    "agent_skills",
    metadata,
    sa.Column(
        "agent_id", sa.String(32), sa.ForeignKey("agents.agent_id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("skill_id", sa.Integer, primary_key=True),
    sa.Column("vdn_id", sa.Integer, nullable=False),  # the agent's VDN, to join skill_queues
)
