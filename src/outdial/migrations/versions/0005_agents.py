"""agents logged in to skill queues with their phones' SIP URIs (issue 13)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("vdn_id", sa.Integer(), nullable=False),
        sa.Column("uri", sa.String(length=255), nullable=False),
        sa.Column("ready", sa.Boolean(), nullable=False),
        sa.Column("not_ready_reason", sa.String(length=16), nullable=True),
        sa.Column("ready_changed_at", sa.BigInteger(), nullable=False),
        sa.Column("wrapup_done_at", sa.BigInteger(), nullable=True),
        sa.Column("logged_in_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agents")),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agents_vdn_id"), ["vdn_id"], unique=False)
    op.create_table(
        "agent_skills",
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("skill_id", sa.Integer(), nullable=False),
        sa.Column("vdn_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.agent_id"],
            name=op.f("fk_agent_skills_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "skill_id", name=op.f("pk_agent_skills")),
    )


def downgrade() -> None:
    op.drop_table("agent_skills")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agents_vdn_id"))
    op.drop_table("agents")
