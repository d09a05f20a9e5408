"""Call-result interfaces (seed 003 and the reference's statistics rows) and outdial's own callback
delivery listing. Rules are in service.py and callbacks.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from outdial.api.envelope import ok
from outdial.api.security import SignedRequest, context, signed_request
from outdial.context import AppContext
from outdial.db import after_commit
from outdial.results import callbacks, service

router = APIRouter()

V1 = "/rest/isales/v1/openapi/campaigns/{vdnId}"
V2 = "/rest/isales/v2/openapi/campaigns/{vdnId}"
OWN = "/rest/outdial/v1/{vdnId}/callbacks"


@router.post(V1 + "/callresult/{campaignId}")
def query_call_results(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object(required=False)
    with ctx.db.read() as conn:
        answer = service.query_results(conn, req.vdn_id, campaignId, body)
    return ok("Query Success!", **answer)


@router.get(V1 + "/callresultdetail/{callId}")
def call_result_detail(
    callId: str, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return ok("Query Success!", data=service.result_detail(conn, req.vdn_id, callId))


@router.get(V1 + "/failcategorystatistics")
def fail_category_statistics(
    request: Request, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    params = dict(request.query_params)
    with ctx.db.read() as conn:
        data = service.fail_statistics(conn, req.vdn_id, params, ctx.clock.now_ms())
    return ok("Query Success!", data=data)


@router.get(V2 + "/statistics")
def campaign_statistics(
    request: Request, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    params = dict(request.query_params)
    with ctx.db.read() as conn:
        details = service.statistics(conn, req.vdn_id, params, ctx.clock.now_ms())
    return ok("Query Success!", countDetail=details)


@router.get(OWN + "/deliveries")
def list_deliveries(
    request: Request, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    """Every push (batch POST) to a callback URL, newest first; failedOnly=1 for the failed ones."""
    with ctx.db.read() as conn:
        return ok(**callbacks.list_deliveries(conn, req.vdn_id, dict(request.query_params)))


@router.get(OWN + "/results")
def list_callback_results(
    request: Request, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    """Results in the callback outbox with their delivery state (pending, delivered, failed)."""
    with ctx.db.read() as conn:
        return ok(**callbacks.list_results(conn, req.vdn_id, dict(request.query_params)))


@router.post(OWN + "/redeliver")
def redeliver(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    """Queue a campaign's given-up results again (e.g. after fixing the receiver): {"campaignId": n}."""
    body = req.json_object()
    with ctx.db.write() as conn:
        count = callbacks.redeliver(conn, req.vdn_id, body, ctx.clock.now_ms())
        after_commit(conn, ctx.wakeup("callbacks").set)
    return ok(returnObject={"requeued": count})


@router.get(OWN + "/settings")
def tenant_callback_settings(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    """The tenant's callback URL (used when a campaign has none) and maximum pushes per result."""
    with ctx.db.read() as conn:
        return ok(returnObject=callbacks.tenant_settings(conn, req.vdn_id, ctx.settings.callback_max_pushes))


@router.put(OWN + "/settings")
def set_tenant_callback_settings(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        callbacks.set_tenant_settings(conn, req.vdn_id, body)
    return ok()
