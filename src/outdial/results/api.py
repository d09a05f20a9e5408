"""Call-result interfaces (seed 003). Rules are in service.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from outdial.api.envelope import ok
from outdial.api.security import SignedRequest, context, signed_request
from outdial.context import AppContext
from outdial.results import service

router = APIRouter()

V1 = "/rest/isales/v1/openapi/campaigns/{vdnId}"


@router.post(V1 + "/callresult/{campaignId}")
def query_call_results(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object(required=False)
    with ctx.db.read() as conn:
        answer = service.query_results(conn, req.vdn_id, campaignId, body)
    return ok("Query Success!", **answer)
