"""Rules of outdial's own callback interfaces (/rest/outdial/v1/{vdnId}/callbacks/...): the pushes made
(deliveries), the results waiting or given up (the outbox), re-queueing given-up ones, and the tenant's
callback settings (its URL, used when a campaign has none, and its maximum pushes)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Connection

from outdial import errors, validation
from outdial.errors import ApiError
from outdial.models.results import DELIVERED, GAVE_UP, PENDING
from outdial.results import repository

STATES = {"pending": PENDING, "delivered": DELIVERED, "failed": GAVE_UP}
STATE_NAMES = {code: name for name, code in STATES.items()}
MAX_LIMIT = 500


def _paging(params: dict[str, Any]) -> tuple[int | None, int, int]:
    campaign_id = validation.optional_int(params, "campaignId", lo=1, hi=2**31 - 1)
    offset = validation.optional_int(params, "offset", lo=0, hi=2**31 - 1) or 0
    limit = validation.optional_int(params, "limit", lo=1, hi=MAX_LIMIT) or 100
    return campaign_id, offset, limit


def _check_campaign(conn: Connection, vdn_id: int, campaign_id: int | None) -> None:
    if campaign_id is not None and repository.campaign_zone(conn, vdn_id, campaign_id) is None:
        raise ApiError(errors.NOT_FOUND, f"campaignId: campaign {campaign_id} does not exist")


def list_deliveries(conn: Connection, vdn_id: int, params: dict[str, Any]) -> dict[str, Any]:
    campaign_id, offset, limit = _paging(params)
    failed_only = validation.optional_int(params, "failedOnly", lo=0, hi=1) == 1
    _check_campaign(conn, vdn_id, campaign_id)
    total, rows = repository.delivery_page(conn, vdn_id, campaign_id, failed_only, offset, limit)
    data = [
        {
            "id": row.id,
            "campaignId": row.campaign_id,
            "url": row.url,
            "firstResultId": str(row.first_outbox_id),
            "lastResultId": str(row.last_outbox_id),
            "resultCount": row.result_count,
            "pushNo": row.push_no,
            "at": row.at,
            "httpStatus": row.http_status,
            "ok": bool(row.ok),
            "error": row.error,
        }
        for row in rows
    ]
    return {"totalCount": total, "data": data}


def list_results(conn: Connection, vdn_id: int, params: dict[str, Any]) -> dict[str, Any]:
    campaign_id, offset, limit = _paging(params)
    state_name = validation.optional_str(params, "state")
    if state_name is not None and state_name not in STATES:
        raise ApiError(errors.WRONG_VALUE, "state must be one of pending, delivered, failed")
    _check_campaign(conn, vdn_id, campaign_id)
    state = STATES[state_name] if state_name is not None else None
    total, rows = repository.outbox_page(conn, vdn_id, campaign_id, state, offset, limit)
    data = [
        {
            "resultId": str(row.id),
            "campaignId": row.campaign_id,
            "callId": row.call_id or json.loads(row.payload).get("callId"),
            "state": STATE_NAMES.get(row.state, str(row.state)),
            "pushes": row.pushes,
            "nextPushAt": row.next_push_at if row.state == PENDING else None,
            "lastError": row.last_error,
            "createdAt": row.created_at,
            "deliveredAt": row.delivered_at,
        }
        for row in rows
    ]
    return {"totalCount": total, "data": data}


def redeliver(conn: Connection, vdn_id: int, body: dict[str, Any], now_ms: int) -> int:
    campaign_id = validation.require_int(body, "campaignId", lo=1, hi=2**31 - 1)
    _check_campaign(conn, vdn_id, campaign_id)
    return repository.requeue_given_up(conn, vdn_id, campaign_id, now_ms)


def tenant_settings(conn: Connection, vdn_id: int, max_pushes_default: int) -> dict[str, Any]:
    url, max_pushes = repository.tenant_callback(conn, vdn_id)
    return {
        "callBackUrl": url or "",
        "maxPushes": max_pushes,
        "effectiveMaxPushes": max_pushes or max_pushes_default,
    }


def set_tenant_settings(conn: Connection, vdn_id: int, body: dict[str, Any]) -> None:
    """{"callBackUrl": "" clears it | http(s) URL up to 1024, "maxPushes": null clears it | 1-6}; a key left
    out keeps its value."""
    values: dict[str, Any] = {}
    if "callBackUrl" in body:
        url = validation.optional_str(body, "callBackUrl", max_len=1024)
        if url is not None:
            if not url.startswith(("https://", "http://")):
                raise ApiError(errors.WRONG_VALUE, "callBackUrl must start with https:// or http://")
            try:
                if not urlsplit(url).hostname:
                    raise ValueError
            except ValueError:
                raise ApiError(errors.UNPARSABLE, "callBackUrl is not a valid URL") from None
        values["callback_url"] = url
    if "maxPushes" in body:
        values["callback_max_pushes"] = validation.optional_int(body, "maxPushes", lo=1, hi=6)
    if not values:
        raise ApiError(errors.EMPTY, "callBackUrl or maxPushes is required")
    repository.save_tenant_callback(conn, vdn_id, values)
