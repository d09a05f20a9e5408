"""The callback outbox: the engine writes one row per ended attempt in the same transaction that ends it,
so a result is never lost between "call ended" and "callback sent" (at-least-once delivery).

The payload is frozen at enqueue time: the seed 003 Table 5 fields plus customField when set. Delivery adds
"resultId" — the outbox row id, stable across retries — for receivers to de-duplicate on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outdial.models.results import PENDING, callback_outbox


def call_time_str(instant_ms: int | None, zone: str) -> str:
    """'yyyy-mm-dd hh:mm:ss' in the campaign's zone (empty when the instant is unknown)."""
    if instant_ms is None:
        return ""
    return datetime.fromtimestamp(instant_ms / 1000, tz=ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def result_item(
    attempt: Mapping[Any, Any], *, campaign_id: int, vdn_id: int, zone: str = "UTC"
) -> dict[str, Any]:
    """One result as the iSales interfaces show it (shared by the query interface and the callbacks)."""
    item: dict[str, Any] = {
        "campaignId": str(campaign_id),
        "sessionId": attempt.get("session_id") or "",
        "called": attempt.get("called") or "",
        "callTimeStr": call_time_str(attempt.get("created_at"), zone),
        "callStatus": int(attempt.get("call_status") or 5),
        "failCode": sent_fail_code(attempt.get("fail_code")),
        "resultCode": attempt.get("result_code") or "",
        "vdnId": int(vdn_id),
        "callId": attempt["call_id"],
        "recordPath": attempt.get("record_path") or "",
    }
    return item


def sent_fail_code(fail_code: str | None) -> str:
    """Success ("00000" inside outdial, or none) is sent as "0", as in the seed 003 example."""
    return "0" if fail_code in (None, "", "0", "00000") else str(fail_code)


def callback_item(
    attempt: Mapping[Any, Any], *, campaign_id: int, vdn_id: int, zone: str = "UTC"
) -> dict[str, Any]:
    """What a callback carries for one result: the Table 5 fields plus customField when set."""
    item = result_item(attempt, campaign_id=campaign_id, vdn_id=vdn_id, zone=zone)
    if attempt.get("custom_field"):
        item["customField"] = attempt["custom_field"]
    return item


def _outbox_row(
    attempt: Mapping[str, Any], *, campaign_id: int, vdn_id: int, now_ms: int, zone: str
) -> dict[str, Any]:
    payload = callback_item(attempt, campaign_id=campaign_id, vdn_id=vdn_id, zone=zone)
    return {
        "campaign_id": campaign_id,
        "vdn_id": vdn_id,
        "attempt_id": attempt["id"],
        "payload": json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
        "state": PENDING,
        "pushes": 0,
        "next_push_at": now_ms,
        "created_at": now_ms,
    }


def enqueue(
    conn: Connection,
    attempt: Mapping[str, Any],
    *,
    campaign_id: int,
    vdn_id: int,
    now_ms: int,
    zone: str = "UTC",
) -> int:
    """Write the frozen callback for an ended attempt; returns the outbox id (the payload's resultId).
    Call inside the transaction that ends the attempt."""
    row = _outbox_row(attempt, campaign_id=campaign_id, vdn_id=vdn_id, now_ms=now_ms, zone=zone)
    outbox_id = conn.execute(
        sa.insert(callback_outbox).values(**row).returning(callback_outbox.c.id)
    ).scalar_one()
    return int(outbox_id)


_INSERT_MANY = sa.insert(callback_outbox)


def enqueue_many(
    conn: Connection,
    attempts: Sequence[Mapping[str, Any]],
    *,
    campaign_id: int,
    vdn_id: int,
    now_ms: int,
    zone: str = "UTC",
) -> None:
    """`enqueue` for the attempts of one campaign that end in one transaction, as one executemany: the
    engine ends thousands a second. Outbox ids follow the list's order, so callbacks keep it."""
    if attempts:
        rows = [_outbox_row(a, campaign_id=campaign_id, vdn_id=vdn_id, now_ms=now_ms, zone=zone) for a in attempts]
        conn.execute(_INSERT_MANY, rows)
