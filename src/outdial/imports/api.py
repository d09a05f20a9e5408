"""File servers, file imports and their results."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from outdial.api.envelope import ok
from outdial.api.security import SignedRequest, context, signed_request
from outdial.context import AppContext
from outdial.imports import service

router = APIRouter()
V1 = "/rest/isales/v1/openapi/campaigns/{vdnId}"


@router.post(V1 + "/file/addServer")
def add_server(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        server_id = service.add_server(conn, ctx.box, req.vdn_id, body, ctx.clock.now_ms())
    return ok(serverId=server_id)


@router.post(V1 + "/file/{serverId}/updateServer")
def update_server(
    serverId: str, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        service.update_server(conn, ctx.box, req.vdn_id, serverId, body, ctx.clock.now_ms())
    return ok()


@router.post(V1 + "/file/{serverId}/deleteServer")
def delete_server(
    serverId: str, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    with ctx.db.write() as conn:
        service.delete_server(conn, req.vdn_id, serverId)
    return ok()


@router.post(V1 + "/file/queryServer")
def query_servers(
    req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object(required=False)
    with ctx.db.read() as conn:
        return ok(**service.query_servers(conn, req.vdn_id, body))


@router.post(V1 + "/calldatafile/uploadFileServer/{campaignId}")
def upload_file_server(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.write() as conn:
        task_id = service.create_import_task(conn, req.vdn_id, campaignId, body, ctx.clock.now_ms(), ctx.wakeup("imports"))
    return ok(service.IMPORT_ACCEPTED, importTaskId=task_id)


@router.post(V1 + "/calldatafile/queryDataImportTask/{campaignId}")
def query_import_tasks(
    campaignId: int, req: SignedRequest = Depends(signed_request), ctx: AppContext = Depends(context)
) -> dict[str, Any]:
    body = req.json_object()
    with ctx.db.read() as conn:
        return ok("success", **service.query_tasks(conn, req.vdn_id, campaignId, body))


@router.get("/rest/outdial/v1/{vdnId}/imports/{importTaskId}/failures")
def import_failures(
    importTaskId: str,
    offset: int = 0,
    limit: int = 1000,
    req: SignedRequest = Depends(signed_request),
    ctx: AppContext = Depends(context),
) -> dict[str, Any]:
    """outdial's own: each failed or duplicate row of an import, with its line number and reason."""
    with ctx.db.read() as conn:
        return ok(
            **service.failures_of(conn, req.vdn_id, importTaskId, max(offset, 0), min(max(limit, 1), 10000))
        )
