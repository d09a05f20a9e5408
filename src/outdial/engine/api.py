"""Engine interfaces: writing a business result back for a record (iSales), and outdial's own: the agents
of a skill queue with their states, the telephony's health, and the VDN's failCode -> resultCode map. Rules are in service.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from outdial import errors
from outdial.api.envelope import ok
from outdial.api.security import SignedRequest, context, signed_request
from outdial.context import AppContext
from outdial.db import after_commit
from outdial.engine import service
from outdial.errors import ApiError
from outdial.tenants import repository as tenants

router = APIRouter()
V1 = "/rest/isales/v1/openapi/campaigns/{vdnId}"
OWN = "/rest/outdial/v1/{vdnId}"


@router.post(V1 + "/callBusiResult/{dataId}")
def call_business_result(
    dataId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        service.write_business_result(conn, req.vdn_id, dataId, body, ctx.clock.now_ms())
        after_commit(conn, ctx.wakeup("engine").set)
    return ok()


@router.get(OWN + "/skills/{skillId}/agents")
def list_agents(
    skillId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    """The agents of a skill queue as the telephony port of this process reports them."""
    with ctx.db.read() as conn:
        known = tenants.skill_queue_exists(conn, req.vdn_id, skillId)
    if not known:
        raise ApiError(errors.SKILL_NOT_FOUND, f"skillId: skill queue {skillId} does not exist")
    engine = ctx.extras.get("engine")
    if engine is None:
        raise ApiError(errors.PARAMETER_ERROR, "skillId: no dialing engine runs in this process")
    with engine.lock:  # type: ignore[attr-defined]
        views = engine.port.agents(skillId)  # type: ignore[attr-defined]
    agents = [
        {"agentId": v.agent_id, "skillId": v.skill_id, "state": v.state, "since": v.since_ms} for v in views
    ]
    counts: dict[str, int] = {}
    for view in views:
        counts[view.state] = counts.get(view.state, 0) + 1
    return ok(data={"skillId": skillId, "agents": agents, "counts": counts})


@router.get(OWN + "/telephony")
def telephony_status(
    vdnId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    """What this process dials through and, for a SIP trunk, its health (docs/telephony.md)."""
    engine = ctx.extras.get("engine")
    if engine is None:
        raise ApiError(errors.PARAMETER_ERROR, "vdnId: no dialing engine runs in this process")
    port = engine.port  # type: ignore[attr-defined]
    health = getattr(port, "health", None)
    if health is None:
        return ok(data={"telephony": "simulator"})
    with engine.lock:  # type: ignore[attr-defined]
        state = health()
    return ok(
        data={
            "telephony": "sip",
            "registered": state.registered,
            "up": state.up,
            "callsInProgress": state.calls_in_progress,
            "linesFree": state.lines_free,
            "reason": state.reason,
        }
    )


@router.get(OWN + "/resultcodes")
def list_result_codes(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    """What each failCode becomes in call results, callbacks and noRetryPolicy, for this VDN."""
    with ctx.db.read() as conn:
        return ok(data=service.result_codes(conn, req.vdn_id))


@router.put(OWN + "/resultcodes")
def set_result_codes(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        table = service.set_result_codes(conn, req.vdn_id, body)
    return ok(data=table)
