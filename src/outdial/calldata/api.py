"""Call-data interfaces: add numbers to a campaign, read and delete them, and the VDN's blacklist. Rules
are in service.py; decisions in docs/calldata.md."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from outdial.api.envelope import ok
from outdial.api.security import (
    SignedRequest,
    context,
    signed_request,
    spend_and_write,
    unspent_signed_request,
)
from outdial.calldata import service
from outdial.calldata.records import parse_add_request
from outdial.context import AppContext

router = APIRouter()
V1 = "/rest/isales/v1/openapi/campaigns/{vdnId}"


@router.post(V1 + "/calldata/{campaignId}")
async def add_call_data(
    campaignId: int, req: SignedRequest = Depends(unspent_signed_request), ctx: AppContext = Depends(context)
) -> JSONResponse:
    # The hot path of bulk loading (docs/benchmarks.md): one transaction, which spends the signature too,
    # run on the event loop when the database allows (api/transactions.py).
    # Parsed before the transaction, which holds the writer lock meanwhile. A replay of a malformed body
    # gets the same refusal: the body is signed, so it cannot change.
    records = parse_add_request(req.json_object())
    added = await spend_and_write(
        ctx,
        req,
        service.add_call_data,
        req.vdn_id,
        campaignId,
        records,
        now_ms=ctx.clock.now_ms(),
        max_unfinished=ctx.settings.max_unfinished_per_campaign,
    )
    return JSONResponse(ok(returnObject=added.answer()))  # a Response: FastAPI need not encode it


@router.get(V1 + "/calldata/{campaignId}/{dataId}")
def get_call_data(
    campaignId: int,
    dataId: int,
    req: SignedRequest = Depends(signed_request),
    ctx: AppContext = Depends(context),
) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return ok(data=service.get_call_data(conn, req.vdn_id, campaignId, dataId))


@router.post(V1 + "/calldata/{campaignId}/delete")
def delete_call_data(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        deleted = service.delete_call_data(conn, req.vdn_id, campaignId, body, now_ms=ctx.clock.now_ms())
    return ok(returnObject={"deleteCount": deleted})


@router.post(V1 + "/blocklist/add")
def add_blocklist(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        added = service.add_blocklist(
            conn, req.vdn_id, body, now_ms=ctx.clock.now_ms(), tz=ctx.settings.timezone
        )
    return ok(returnObject={"addCount": added.added, "skipCount": added.skipped})


@router.post(V1 + "/blocklist/delete")
def delete_blocklist_number(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        service.delete_blocklist_number(conn, req.vdn_id, body, now_ms=ctx.clock.now_ms())
    return ok()


@router.delete(V1 + "/blocklist")
def delete_blocklist(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    with ctx.db.write() as conn:
        deleted = service.delete_blocklist(conn, req.vdn_id)
    return ok(returnObject={"deleteCount": deleted})


@router.post(V1 + "/blocklist/query")
def query_blocklist(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.read() as conn:
        return ok(
            **service.query_blocklist(
                conn, req.vdn_id, body, now_ms=ctx.clock.now_ms(), tz=ctx.settings.timezone
            )
        )
