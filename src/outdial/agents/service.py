"""The rules of agent logins (docs/agents.md). Takes a Connection, never commits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from outdial import errors
from outdial import validation as v
from outdial.agents import repository as repo
from outdial.agents import validation as check
from outdial.engine.telephony.port import AgentView
from outdial.errors import ApiError
from outdial.tenants import repository as tenants


def _not_logged_in(agent_id: str) -> ApiError:
    return ApiError(errors.NOT_FOUND, f"agentId: agent {agent_id} is not logged in")


def login(conn: Connection, vdn_id: int, agent_id: str, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """Log in (or log in again: skill queues, URI and readiness are replaced) to skill queues of the VDN."""
    check.check_agent_id(agent_id)
    skill_ids = check.skill_ids(body)
    uri = check.check_sip_uri(v.require_str(body, "uri"))
    ready = check.optional_bool(body, "ready", True)
    for index, skill_id in enumerate(skill_ids):
        if not tenants.skill_queue_exists(conn, vdn_id, skill_id):
            raise ApiError(
                errors.SKILL_NOT_FOUND, f"skillIds[{index}]: skill queue {skill_id} does not exist"
            )
    shared = repo.skill_ids_of_other_vdns(conn, vdn_id, skill_ids)
    if shared:  # the port keys queues by id alone: an agent here would take the other VDN's calls too
        index = next(i for i, s in enumerate(skill_ids) if s in shared)
        raise v.fail(
            errors.WRONG_VALUE,
            f"skillIds[{index}]",
            f"skill queue {skill_ids[index]} also exists in another VDN: real agents need skill queue ids "
            "that no other VDN uses",
        )
    logged_in_to = repo.login_vdn(conn, agent_id)
    if logged_in_to is not None and logged_in_to != vdn_id:
        raise v.fail(errors.WRONG_VALUE, "agentId", f"{agent_id} is logged in to another VDN")
    try:
        repo.save_login(
            conn, vdn_id, agent_id, skill_ids, uri, ready, now_ms, existing=logged_in_to is not None
        )
    except IntegrityError:  # the same agent id logging in at the same instant elsewhere (PostgreSQL)
        raise v.fail(errors.WRONG_VALUE, "agentId", f"{agent_id} is logged in to another VDN") from None
    return login_fields(_stored(conn, vdn_id, agent_id), {})


def ready(conn: Connection, vdn_id: int, agent_id: str, now_ms: int) -> None:
    """Ready: an offline agent is idle again (whatever made it not ready)."""
    _set_ready(conn, vdn_id, agent_id, True, now_ms)


def not_ready(conn: Connection, vdn_id: int, agent_id: str, now_ms: int) -> None:
    """Not ready: no more calls (an agent in a call keeps it)."""
    _set_ready(conn, vdn_id, agent_id, False, now_ms)


def _set_ready(conn: Connection, vdn_id: int, agent_id: str, ready: bool, now_ms: int) -> None:
    check.check_agent_id(agent_id)
    if not repo.set_ready(conn, vdn_id, agent_id, ready, None if ready else repo.REQUESTED, now_ms):
        raise _not_logged_in(agent_id)


def wrapup_done(conn: Connection, vdn_id: int, agent_id: str, now_ms: int) -> None:
    """End the agent's current wrap-up now (outside a wrap-up it has no effect)."""
    check.check_agent_id(agent_id)
    if not repo.set_wrapup_done(conn, vdn_id, agent_id, now_ms):
        raise _not_logged_in(agent_id)


def logout(conn: Connection, vdn_id: int, agent_id: str, now_ms: int) -> None:
    """Log out (an agent in a call keeps it and leaves when it ends)."""
    check.check_agent_id(agent_id)
    if not repo.delete_login(conn, vdn_id, agent_id):
        raise _not_logged_in(agent_id)


Action = Callable[[Connection, int, str, int], None]
# The actions on a logged-in agent, by the name of their route and CLI command.
ACTIONS: dict[str, Action] = {
    "ready": ready,
    "notready": not_ready,
    "wrapupdone": wrapup_done,
    "logout": logout,
}


def _stored(conn: Connection, vdn_id: int, agent_id: str) -> repo.StoredLogin:
    (stored,) = [s for s in repo.stored_logins(conn, vdn_id) if s.agent_id == agent_id]
    return stored


def list_logins(conn: Connection, vdn_id: int) -> list[repo.StoredLogin]:
    return repo.stored_logins(conn, vdn_id)


def login_fields(stored: repo.StoredLogin, live: Mapping[str, AgentView]) -> dict[str, Any]:
    """A login as the interfaces answer it; `live` (agent id -> the port's view) gives its state."""
    view = live.get(stored.agent_id)
    return {
        "agentId": stored.agent_id,
        "skillIds": list(stored.skill_ids),
        "uri": stored.uri,
        "ready": stored.ready,
        "notReadyReason": stored.not_ready_reason,
        "readySince": stored.ready_changed_at,
        "wrapupDoneAt": stored.wrapup_done_at,
        "loggedInAt": stored.logged_in_at,
        "state": view.state if view is not None else None,
        "stateSince": view.since_ms if view is not None else None,
    }
