"""All SQL of agent logins, and the engine's side of it: `logins` for AgentPool.sync and
`store_engine_not_ready` for AgentPool.drain_changes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outdial.engine.telephony.agentpool import AgentLogin
from outdial.models.agents import agent_skills, agents
from outdial.models.foundation import skill_queues

REQUESTED = "requested"  # not ready because the agent asked


@dataclass(frozen=True)
class StoredLogin:
    agent_id: str
    vdn_id: int
    skill_ids: tuple[int, ...]
    uri: str
    ready: bool
    not_ready_reason: str | None
    ready_changed_at: int
    wrapup_done_at: int | None
    logged_in_at: int


def _skills_by_agent(conn: Connection, vdn_id: int | None) -> dict[str, list[int]]:
    """Each agent's skill queues that still exist (a deleted queue drops out of its agents' logins)."""
    query = (
        sa.select(agent_skills.c.agent_id, agent_skills.c.skill_id)
        .join(
            skill_queues,
            sa.and_(
                skill_queues.c.vdn_id == agent_skills.c.vdn_id,
                skill_queues.c.skill_id == agent_skills.c.skill_id,
            ),
        )
        .order_by(agent_skills.c.agent_id, agent_skills.c.skill_id)
    )
    if vdn_id is not None:
        query = query.where(agent_skills.c.vdn_id == vdn_id)
    skills: dict[str, list[int]] = {}
    for row in conn.execute(query):
        skills.setdefault(row.agent_id, []).append(row.skill_id)
    return skills


def stored_logins(conn: Connection, vdn_id: int | None = None) -> list[StoredLogin]:
    """The logged-in agents of a VDN (of every VDN when None), by agent id."""
    query = sa.select(agents).order_by(agents.c.agent_id)
    if vdn_id is not None:
        query = query.where(agents.c.vdn_id == vdn_id)
    skills = _skills_by_agent(conn, vdn_id)
    return [
        StoredLogin(
            agent_id=row.agent_id,
            vdn_id=row.vdn_id,
            skill_ids=tuple(skills.get(row.agent_id, ())),
            uri=row.uri,
            ready=bool(row.ready),
            not_ready_reason=row.not_ready_reason,
            ready_changed_at=row.ready_changed_at,
            wrapup_done_at=row.wrapup_done_at,
            logged_in_at=row.logged_in_at,
        )
        for row in conn.execute(query)
    ]


def logins(conn: Connection) -> list[AgentLogin]:
    """Every logged-in agent of every VDN, as AgentPool.sync takes them (the engine's once-a-second read)."""
    return [
        AgentLogin(s.agent_id, s.skill_ids, s.uri, s.ready, s.wrapup_done_at, s.ready_changed_at)
        for s in stored_logins(conn)
    ]


def skill_ids_of_other_vdns(conn: Connection, vdn_id: int, skill_ids: Iterable[int]) -> set[int]:
    """Which of these skill queue ids also exist in another VDN."""
    rows = conn.execute(
        sa.select(skill_queues.c.skill_id).where(
            skill_queues.c.vdn_id != vdn_id, skill_queues.c.skill_id.in_(list(skill_ids))
        )
    )
    return {row.skill_id for row in rows}


def login_vdn(conn: Connection, agent_id: str) -> int | None:
    """The VDN the agent is logged in to; None when it is not logged in."""
    return conn.execute(sa.select(agents.c.vdn_id).where(agents.c.agent_id == agent_id)).scalar_one_or_none()


def save_login(
    conn: Connection,
    vdn_id: int,
    agent_id: str,
    skill_ids: Iterable[int],
    uri: str,
    ready: bool,
    now_ms: int,
    *,
    existing: bool,
) -> None:
    """Insert the login, or (`existing`) replace its skill queues, URI and readiness."""
    values = {
        "uri": uri,
        "ready": ready,
        "not_ready_reason": None if ready else REQUESTED,
        "ready_changed_at": now_ms,
        "updated_at": now_ms,
    }
    if existing:
        conn.execute(agents.update().where(agents.c.agent_id == agent_id).values(**values))
        conn.execute(agent_skills.delete().where(agent_skills.c.agent_id == agent_id))
    else:
        conn.execute(agents.insert().values(agent_id=agent_id, vdn_id=vdn_id, logged_in_at=now_ms, **values))
    conn.execute(
        agent_skills.insert(), [{"agent_id": agent_id, "skill_id": s, "vdn_id": vdn_id} for s in skill_ids]
    )


def set_ready(
    conn: Connection, vdn_id: int, agent_id: str, ready: bool, reason: str | None, now_ms: int
) -> bool:
    """False when the agent is not logged in to the VDN."""
    result = conn.execute(
        agents.update()
        .where(agents.c.agent_id == agent_id, agents.c.vdn_id == vdn_id)
        .values(ready=ready, not_ready_reason=reason, ready_changed_at=now_ms, updated_at=now_ms)
    )
    return result.rowcount == 1


def set_wrapup_done(conn: Connection, vdn_id: int, agent_id: str, now_ms: int) -> bool:
    result = conn.execute(
        agents.update()
        .where(agents.c.agent_id == agent_id, agents.c.vdn_id == vdn_id)
        .values(wrapup_done_at=now_ms, updated_at=now_ms)
    )
    return result.rowcount == 1


def delete_login(conn: Connection, vdn_id: int, agent_id: str) -> bool:
    conn.execute(
        agent_skills.delete().where(agent_skills.c.agent_id == agent_id, agent_skills.c.vdn_id == vdn_id)
    )
    result = conn.execute(agents.delete().where(agents.c.agent_id == agent_id, agents.c.vdn_id == vdn_id))
    return result.rowcount == 1


def store_engine_not_ready(conn: Connection, changes: Iterable[tuple[str, str]], now_ms: int) -> int:
    """Persist AgentPool.drain_changes(): each (agent_id, reason) set not ready with its reason, if still
    logged in and ready (an agent that logged out or went not ready meanwhile keeps what it did). Returns
    how many rows changed."""
    changed = 0
    for agent_id, reason in changes:
        result = conn.execute(
            agents.update()
            .where(agents.c.agent_id == agent_id, agents.c.ready == sa.true())
            .values(ready=False, not_ready_reason=reason, ready_changed_at=now_ms, updated_at=now_ms)
        )
        changed += result.rowcount
    return changed
