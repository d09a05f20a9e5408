"""Campaign interfaces: add and modify (V2), details, list, pause, resume, delete, holidays, calling numbers,
retry policy; and outdial's own skill-queue interface. Rules are in service.py.

`GET`/`DELETE …/{campaignId:digits}` match digits only, so they do not catch other domains' one-segment paths
(`GET …/failcategorystatistics`, `DELETE …/blocklist`); a non-numeric id there answers 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from outdial.api import paths  # noqa: F401  (registers {name:digits} before the routes below)
from outdial.api.envelope import ok
from outdial.api.security import SignedRequest, context, signed_request
from outdial.campaigns import parts, service
from outdial.context import AppContext
from outdial.tenants import repository as tenants

router = APIRouter()
V1 = "/rest/isales/v1/openapi/campaigns/{vdnId}"
V2 = "/rest/isales/v2/openapi/campaigns/{vdnId}"
OWN = "/rest/outdial/v1/{vdnId}"


def _wake(ctx: AppContext) -> service.Wake:
    return ctx.wakeup("engine").set


@router.post(V2)
def add_campaign(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        campaign_id = service.add_campaign(
            conn,
            req.vdn_id,
            body,
            now_ms=ctx.clock.now_ms(),
            default_tz=ctx.settings.timezone,
            wake=_wake(ctx),
        )
    return ok(returnObject={"id": campaign_id})


@router.put(V2 + "/{campaignId}")
def modify_campaign(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        service.modify_campaign(
            conn,
            req.vdn_id,
            campaignId,
            body,
            now_ms=ctx.clock.now_ms(),
            default_tz=ctx.settings.timezone,
            wake=_wake(ctx),
        )
    return ok()


@router.get(V1)
def list_campaigns(
    request: Request, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    query = parts.parse_list_query(dict(request.query_params), ctx.settings.timezone)
    with ctx.db.read() as conn:
        return ok(**service.list_campaigns(conn, req.vdn_id, query, ctx.clock.now_ms()))


@router.get(V1 + "/{campaignId:digits}")
def campaign_details(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return ok(returnObject=service.campaign_details(conn, req.vdn_id, campaignId, ctx.clock.now_ms()))


@router.put(V1 + "/{campaignId}/pause")
def pause_campaign(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    with ctx.db.write() as conn:
        service.pause_campaign(conn, req.vdn_id, campaignId, ctx.clock.now_ms(), _wake(ctx))
    return ok()


@router.put(V1 + "/{campaignId}/resume")
def resume_campaign(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    with ctx.db.write() as conn:
        service.resume_campaign(conn, req.vdn_id, campaignId, ctx.clock.now_ms(), _wake(ctx))
    return ok()


@router.delete(V1 + "/{campaignId:digits}")
def delete_campaign(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    archive = service.parse_archive_history(req.json_object(required=False))
    with ctx.db.write() as conn:
        service.delete_campaign(
            conn, req.vdn_id, campaignId, archive=archive, now_ms=ctx.clock.now_ms(), wake=_wake(ctx)
        )
    return ok()


# --- retry policy ---------------------------------------------------------------------------------------


@router.post(V1 + "/retryPolicy/{campaignId}")
def set_retry_policy(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        service.set_retry_policy(conn, req.vdn_id, campaignId, body, ctx.clock.now_ms(), _wake(ctx))
    return ok()


@router.get(V1 + "/retryPolicy/{campaignId}")
def get_retry_policy(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return ok(data=service.get_retry_policy(conn, req.vdn_id, campaignId))


# --- holidays -------------------------------------------------------------------------------------------


@router.get(V1 + "/holiday/{campaignId}")
def list_holidays(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return ok(data=service.list_holidays(conn, req.vdn_id, campaignId))


@router.post(V1 + "/holiday/{campaignId}")
def add_holiday(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        holiday_id = service.add_holiday(conn, req.vdn_id, campaignId, body, ctx.clock.now_ms(), _wake(ctx))
    return ok(returnObject={"id": holiday_id})


@router.put(V1 + "/holiday/{campaignId}")
def update_holiday(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        service.update_holiday(conn, req.vdn_id, campaignId, body, ctx.clock.now_ms(), _wake(ctx))
    return ok()


@router.delete(V1 + "/holiday/{campaignId}")
def delete_all_holidays(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    with ctx.db.write() as conn:
        service.delete_holidays(conn, req.vdn_id, campaignId, ctx.clock.now_ms(), wake=_wake(ctx))
    return ok()


@router.delete(V1 + "/holiday/{campaignId}/{holidayId}")
def delete_holiday(
    campaignId: int,
    holidayId: int,
    req: SignedRequest = Depends(signed_request),
    ctx: AppContext = Depends(context),
) -> dict[str, Any]:
    with ctx.db.write() as conn:
        service.delete_holidays(conn, req.vdn_id, campaignId, ctx.clock.now_ms(), holidayId, _wake(ctx))
    return ok()


# --- calling numbers ------------------------------------------------------------------------------------


@router.post(V1 + "/callerNo/{campaignId}")
def add_callers(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        service.add_callers(conn, req.vdn_id, campaignId, body, ctx.clock.now_ms(), _wake(ctx))
    return ok()


@router.delete(V1 + "/callerNo/{campaignId}")
def delete_callers(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        service.delete_callers(conn, req.vdn_id, campaignId, body, ctx.clock.now_ms(), _wake(ctx))
    return ok()


# --- skill queues: outdial's own, see docs/campaign-lifecycle.md ------------------------------------------


@router.get(OWN + "/skills")
def list_skill_queues(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return ok(data=tenants.list_skill_queues(conn, req.vdn_id))


@router.post(OWN + "/skills")
def add_skill_queue(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        skill_id = service.add_skill_queue(conn, req.vdn_id, body, ctx.clock.now_ms())
    return ok(returnObject={"skillId": skill_id})


@router.delete(OWN + "/skills/{skillId}")
def delete_skill_queue(
    skillId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    with ctx.db.write() as conn:
        service.delete_skill_queue(conn, req.vdn_id, skillId, ctx.clock.now_ms())
    return ok()
