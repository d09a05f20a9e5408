"""outdial's own agent interfaces: log in to skill queues with a phone's SIP URI, ready / not ready,
wrap-up done, log out, and the VDN's logged-in agents with their live state. Rules are in service.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends

from outdial.agents import service
from outdial.api.envelope import ok
from outdial.api.security import SignedRequest, context, signed_request
from outdial.context import AppContext
from outdial.engine.telephony.port import AgentView
from outdial.engine.telephony.simulator import Simulator

router = APIRouter()
AGENTS = "/rest/outdial/v1/{vdnId}/agents"
AGENT = AGENTS + "/{agentId}"


@router.post(AGENT + "/login")
def login(
    agentId: str, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        stored = service.login(conn, req.vdn_id, agentId, body, ctx.clock.now_ms())
    return ok(data=stored)


def _action_route(act: service.Action) -> Callable[..., dict[str, Any]]:
    def endpoint(
        agentId: str, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
    ) -> dict[str, Any]:
        with ctx.db.write() as conn:
            act(conn, req.vdn_id, agentId, ctx.clock.now_ms())
        return ok()

    endpoint.__doc__ = act.__doc__
    return endpoint


for _name, _act in service.ACTIONS.items():  # POST .../ready, .../notready, .../wrapupdone, .../logout
    router.add_api_route(AGENT + f"/{_name}", _action_route(_act), methods=["POST"], name=f"agent_{_name}")


@router.get(AGENTS)
def list_logins(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    """Stored logins with the live state of this process's telephony port (`state` None when no engine
    runs here, under the simulator, which simulates agents of its own, or when the port does not know
    the agent yet: it reads the logins about once a second)."""
    with ctx.db.read() as conn:
        stored = service.list_logins(conn, req.vdn_id)
    live: dict[str, AgentView] = {}
    engine = ctx.extras.get("engine")
    port = getattr(engine, "port", None)
    if engine is not None and port is not None and not isinstance(port, Simulator):
        with engine.lock:  # type: ignore[attr-defined]
            for skill_id in sorted({s for login_ in stored for s in login_.skill_ids}):
                live.update((view.agent_id, view) for view in port.agents(skill_id))
    return ok(data={"agents": [service.login_fields(login_, live) for login_ in stored]})
