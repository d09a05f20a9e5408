"""Callback delivery: per campaign, in outbox id order, POST batches (a bare JSON array) to the campaign's
callBackUrl, else the VDN's, else the system's. Success only on HTTP 200 with JSON retCode "0"; nothing is
marked delivered before that (at-least-once). A failed push is retried at once, then 10 minutes later, then
doubling (20, 40 ... minutes, capped at 2 hours); after max pushes the batch is given up (state 2) and the
campaign's later results continue, so ordering holds except across a give-up.

Limitation (not yet done): the batch is read, pushed, then written back in separate transactions; with
several processes on one PostgreSQL a claim (FOR UPDATE SKIP LOCKED or a lease) is still needed.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import sqlalchemy as sa

from outdial.context import AppContext
from outdial.models.foundation import campaigns, vdn_settings
from outdial.models.results import DELIVERED, GAVE_UP, PENDING, callback_deliveries, callback_outbox
from outdial.results import netguard

BATCH = 200
MINUTE_MS = 60_000


def retry_delay_ms(pushes_done: int) -> int:
    """Pure: wait after the `pushes_done`-th failed push (1 -> at once, 2 -> 10 min, then doubling, max 2 h)."""
    if pushes_done <= 1:
        return 0
    return min(10 * MINUTE_MS * 2 ** (pushes_done - 2), 120 * MINUTE_MS)


def _target(conn: sa.Connection, ctx: AppContext, campaign_id: int, vdn_id: int) -> tuple[str, int]:
    url = conn.execute(sa.select(campaigns.c.callback_url).where(campaigns.c.id == campaign_id)).scalar()
    vdn = conn.execute(sa.select(vdn_settings).where(vdn_settings.c.vdn_id == vdn_id)).first()
    url = url or (vdn.callback_url if vdn else None) or ctx.settings.callback_url
    max_pushes = (vdn.callback_max_pushes if vdn else None) or ctx.settings.callback_max_pushes
    return url or "", int(max_pushes)


def _push(
    ctx: AppContext, http_client: httpx.Client, url: str, payloads: list[Any]
) -> tuple[int | None, str | None]:
    """(http status, error or None on success)."""
    try:
        netguard.check_url(url, netguard.parse_networks(ctx.settings.callback_allowed_networks))
        answer = http_client.post(url, json=payloads)
    except netguard.RefusedTarget as exc:
        return None, str(exc)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if answer.status_code != 200:
        return answer.status_code, f"HTTP {answer.status_code}"
    try:
        ret_code = answer.json().get("retCode")
    except (ValueError, AttributeError):
        return 200, "answer is not a JSON object"
    return 200, None if str(ret_code) == "0" else f"retCode {ret_code!r}"


def deliver_due(ctx: AppContext, http_client: httpx.Client) -> int:
    """One pass: push each campaign's first due batch; returns how many results were delivered."""
    now = ctx.clock.now_ms()
    delivered = 0
    with ctx.db.read() as conn:
        heads = conn.execute(
            sa.select(callback_outbox.c.campaign_id, sa.func.min(callback_outbox.c.id))
            .where(callback_outbox.c.state == PENDING)
            .group_by(callback_outbox.c.campaign_id)
        ).all()
    for campaign_id, head_id in heads:
        with ctx.db.read() as conn:
            head = conn.execute(sa.select(callback_outbox).where(callback_outbox.c.id == head_id)).one()
            if head.next_push_at > now:
                continue  # the campaign's oldest result is waiting for its retry: keep order
            rows = conn.execute(
                sa.select(callback_outbox)
                .where(callback_outbox.c.campaign_id == campaign_id, callback_outbox.c.state == PENDING)
                .order_by(callback_outbox.c.id)
                .limit(BATCH)
            ).all()
            url, max_pushes = _target(conn, ctx, campaign_id, head.vdn_id)
        push_no = head.pushes + 1
        status, error = (
            _push(ctx, http_client, url, [json.loads(r.payload) for r in rows])
            if url
            else (None, "no callback URL configured")
        )
        ids = [r.id for r in rows]
        with ctx.db.write() as conn:
            conn.execute(
                sa.insert(callback_deliveries).values(
                    campaign_id=campaign_id,
                    url=url,
                    first_outbox_id=ids[0],
                    last_outbox_id=ids[-1],
                    result_count=len(ids),
                    push_no=push_no,
                    at=now,
                    http_status=status,
                    ok=error is None,
                    error=error,
                )
            )
            where = callback_outbox.c.id.in_(ids)
            if error is None:
                conn.execute(
                    sa.update(callback_outbox)
                    .where(where)
                    .values(state=DELIVERED, pushes=push_no, delivered_at=now, last_error=None)
                )
                delivered += len(ids)
            elif push_no >= max_pushes:
                conn.execute(
                    sa.update(callback_outbox)
                    .where(where)
                    .values(state=GAVE_UP, pushes=push_no, last_error=error)
                )
            else:
                conn.execute(
                    sa.update(callback_outbox)
                    .where(where)
                    .values(pushes=push_no, last_error=error, next_push_at=now + retry_delay_ms(push_no))
                )
    return delivered


def run(ctx: AppContext, stop: threading.Event) -> None:
    """The worker loop: deliver, then wait for new results or the next minute."""
    wake = ctx.wakeup("callbacks")
    with httpx.Client(timeout=10.0) as http_client:
        while not stop.is_set():
            if deliver_due(ctx, http_client) == 0:
                wake.wait(timeout=1.0)
                wake.clear()
