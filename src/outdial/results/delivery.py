"""Callback delivery: per campaign, in outbox id order, POST batches (a bare JSON array, each item with its
stable "resultId") to the campaign's callBackUrl, else the tenant's (vdn_settings), else the system's
(OUTDIAL_CALLBACK_URL). A push succeeds only on HTTP 200 with JSON retCode "0"; nothing is marked delivered
before that (at-least-once). A failed push is retried at once, then every 10 minutes, until the result
had max pushes (tenant setting, else OUTDIAL_CALLBACK_MAX_PUSHES; 1 to 6, default 6); then it is given up
(state 2) and the campaign's later results continue, so ordering holds except across a give-up. A target
refused by the network policy (outdial.netguard) would be refused again: its results are given up at once,
with that reason, and a warning naming the campaign is logged.

A campaign's batch is claimed before the push (repository.claim_head), so several workers or processes
never push one campaign at once, and a worker that dies mid-push leaves a lease that runs out.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, NamedTuple

import httpx

from outdial import netguard
from outdial.context import AppContext
from outdial.results import repository

log = logging.getLogger("outdial.callbacks")

BATCH = 200
MINUTE_MS = 60_000
RETRY_AFTER_MS = 10 * MINUTE_MS
MAX_PUSHES_CAP = 6
LEASE_MS = 2 * MINUTE_MS  # longer than any push can take (the HTTP timeout is seconds)


def retry_delay_ms(pushes_done: int) -> int:
    """Pure: wait after the `pushes_done`-th failed push: the first is retried at once, later ones after
    10 minutes."""
    return 0 if pushes_done <= 1 else RETRY_AFTER_MS


def max_pushes(tenant: int | None, system: int) -> int:
    """Pure: the tenant's setting, else the system's, kept within 1..6."""
    chosen = tenant if tenant is not None else system
    return max(1, min(MAX_PUSHES_CAP, int(chosen)))


def target_url(campaign: str | None, tenant: str | None, system: str) -> str:
    """Pure: the first URL set of campaign, tenant, system ("" when none is)."""
    return (campaign or "").strip() or (tenant or "").strip() or system.strip()


class Push(NamedTuple):
    """What one push came to: the HTTP status (None without an answer), the error (None on success), and
    whether the network policy refused the target (then pushing again is pointless)."""

    status: int | None
    error: str | None
    refused: bool = False


def push(http_client: httpx.Client, url: str, payloads: list[Any], allowed: list[netguard.Network]) -> Push:
    """POST one batch."""
    if not url:
        return Push(None, "no callback URL configured (campaign, tenant or system)")
    try:
        netguard.check_url(url, allowed)
        answer = http_client.post(url, json=payloads)
    except netguard.PolicyRefusal as exc:  # also raised at connect time (GuardedBackend), after a rebinding
        return Push(None, str(exc), refused=True)
    except netguard.RefusedTarget as exc:
        return Push(None, str(exc))
    except httpx.HTTPError as exc:
        return Push(None, f"{type(exc).__name__}: {exc}")
    if answer.status_code != 200:
        return Push(answer.status_code, f"HTTP {answer.status_code}")
    try:
        ret_code = answer.json().get("retCode")
    except (ValueError, AttributeError):
        return Push(200, "answer is not a JSON object with retCode")
    return Push(200, None if str(ret_code) == "0" else f"retCode {ret_code!r}")


def deliver_campaign(
    ctx: AppContext, http_client: httpx.Client, campaign_id: int, head_id: int
) -> tuple[int, int]:
    """Claim, push and record the campaign's next batch; (results pushed, results delivered)."""
    now = ctx.clock.now_ms()
    with ctx.db.write() as conn:
        if not repository.claim_head(conn, head_id, now, LEASE_MS):
            return 0, 0  # another worker has it, or it was delivered meanwhile
        rows = repository.pending_batch(conn, campaign_id, BATCH)
        head_pushes = repository.pushes_of(conn, head_id)
        campaign_url, tenant_url, tenant_max = repository.callback_target(conn, campaign_id, rows[0].vdn_id)
    url = target_url(campaign_url, tenant_url, ctx.settings.callback_url)
    payloads = [json.loads(r.payload) | {"resultId": str(r.id)} for r in rows]
    allowed = netguard.parse_networks(ctx.settings.callback_allowed_networks)
    status, error, refused = push(http_client, url, payloads, allowed)
    ids = [int(r.id) for r in rows]
    done = ctx.clock.now_ms()
    push_no = head_pushes + 1
    # refused by the policy: this push was the last, the policy would refuse every retry
    limit = 1 if refused else max_pushes(tenant_max, ctx.settings.callback_max_pushes)
    with ctx.db.write() as conn:
        repository.record_push(
            conn,
            campaign_id=campaign_id,
            url=url,
            ids=ids,
            push_no=push_no,
            now_ms=done,
            http_status=status,
            error=error,
            max_pushes=limit,
            retry_at=done + retry_delay_ms(push_no),
        )
    if refused:
        log.warning(
            "campaign %s: gave up %d results at once: %s (change the callback URL or "
            "OUTDIAL_CALLBACK_ALLOWED_NETWORKS, then `outdial callbacks redeliver`)",
            campaign_id,
            len(ids),
            error,
        )
        return len(ids), 0
    if error is not None:
        log.info(
            "campaign %s: push %d of %d results to %s failed: %s", campaign_id, push_no, len(ids), url, error
        )
        return len(ids), 0
    return len(ids), len(ids)


def deliver_pass(ctx: AppContext, http_client: httpx.Client) -> tuple[int, int]:
    """One pass: push each campaign's first due batch; (results pushed, results delivered)."""
    with ctx.db.read() as conn:
        heads = repository.pending_heads(conn, ctx.clock.now_ms())
    pushed = delivered = 0
    for campaign_id, head_id in heads:
        batch, ok = deliver_campaign(ctx, http_client, campaign_id, head_id)
        pushed += batch
        delivered += ok
    return pushed, delivered


def deliver_due(ctx: AppContext, http_client: httpx.Client) -> int:
    """One pass; returns how many results were delivered."""
    return deliver_pass(ctx, http_client)[1]


PRUNE_EVERY_MS = 3_600_000
PRUNE_BATCH = 5_000  # rows per transaction, so a large backlog never holds the writer long


def prune(ctx: AppContext) -> int:
    """Delete what was delivered more than callback_retention_days ago (outbox rows and the delivery log),
    in short transactions. Returns how many rows went."""
    days = ctx.settings.callback_retention_days
    if days <= 0:
        return 0
    before = ctx.clock.now_ms() - days * 86_400_000
    removed = 0
    while True:
        with ctx.db.write() as conn:
            batch = repository.prune_delivered(conn, before, PRUNE_BATCH)
        removed += batch
        if batch < PRUNE_BATCH:
            return removed


def run(ctx: AppContext, stop: threading.Event) -> None:
    """The worker loop: push while there is due work (a failed first push is retried at once), else wait
    for new results or at most a second; once an hour, prune what was delivered long ago."""
    wake = ctx.wakeup("callbacks")
    logging.getLogger("httpx").setLevel(
        logging.WARNING
    )  # not one INFO line per push; outcomes are logged here
    allowed = netguard.parse_networks(ctx.settings.callback_allowed_networks)
    next_prune_at = ctx.clock.now_ms()
    with netguard.guarded_client(allowed, ctx.settings.callback_timeout_seconds) as http_client:
        while not stop.is_set():
            if ctx.clock.now_ms() >= next_prune_at:
                prune(ctx)
                next_prune_at = ctx.clock.now_ms() + PRUNE_EVERY_MS
            pushed, _ = deliver_pass(ctx, http_client)
            if pushed == 0:
                wake.wait(timeout=1.0)
                wake.clear()
