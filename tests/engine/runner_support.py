"""Helpers of the runner tests: a simulated outside world, records loaded into a campaign, attempts read back.

Campaigns are created through the signed Client (tests/campaigns/factories.py). Records with one number go
through the add-numbers API; records with several numbers (type, delayTime) can only come from a file import,
so `insert_records` writes them with SQL, as the importer's bulk path stores them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from outdial.clock import from_datetime
from outdial.context import AppContext
from outdial.engine.runner import Engine
from outdial.engine.telephony import OutcomeMix, Simulator, SimulatorConfig
from outdial.models.calldata import call_data
from outdial.models.engine import attempts
from outdial.models.foundation import campaigns

SKILL = 2  # the example campaign's skill queue

ALL_BUSY = OutcomeMix(person=0, machine=0, no_answer=0, busy=1.0, vacant=0)
ALL_PERSON = OutcomeMix(person=1.0, machine=0, no_answer=0, busy=0, vacant=0)


def utc(text: str) -> int:
    return from_datetime(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("UTC")))


def local(text: str, zone: str) -> int:
    return from_datetime(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)))


def engine(
    ctx: AppContext,
    *,
    mix: OutcomeMix = ALL_BUSY,
    agents: int = 5,
    owner: str = "w1",
    refresh_ms: int = 600_000,
    **cfg: Any,
) -> Engine:
    """An engine on a simulated world. Answers come after exactly 5 s, and who answered is known at once,
    unless told otherwise. One engine per test: campaigns are refreshed every 10 minutes (changes made here
    wake it at once)."""
    cfg = {"seed": 1, "answer_mean_s": 5.0, "answer_sd_s": 0.0, "detect_delay_s": 0.0, **cfg}
    config = SimulatorConfig(mix=mix, queues={SKILL: agents}, **cfg)
    return Engine(ctx, Simulator(config, ctx.clock), owner=owner, refresh_ms=refresh_ms)


def insert_records(
    ctx: AppContext, campaign_id: int, records: Iterable[Sequence[tuple[str, str | None, int]]], **extra: Any
) -> list[int]:
    """One record per item: its numbers as (calledNo, type, delayTime seconds)."""
    now = ctx.clock.now_ms()
    ids = []
    with ctx.db.write() as conn:
        vdn_id = conn.execute(sa.select(campaigns.c.vdn_id).where(campaigns.c.id == campaign_id)).scalar_one()
        for numbers in records:
            values = {
                "campaign_id": campaign_id,
                "vdn_id": vdn_id,
                "called": numbers[0][0],
                "numbers": json.dumps([list(n) for n in numbers]),
                "state": 0,
                "next_due_at": now,
                "number_index": 0,
                "attempt_count": 0,
                "created_at": now,
                **extra,
            }
            ids.append(
                conn.execute(call_data.insert().values(**values).returning(call_data.c.id)).scalar_one()
            )
    return ids


def load_and_resume(
    ctx: AppContext, client: Any, batches: dict[int, Sequence[str | dict[str, Any]]], *, vdn_id: int = 1
) -> int:
    """Add records to paused campaigns (created with initStatus 1) through the signed add-numbers API, 20 per
    request and one request per campaign per second as the document allows, then resume them all.
    Returns the instant they were resumed: dialing may start there."""
    chunks = {
        cid: [list(items[i : i + 20]) for i in range(0, len(items), 20)] for cid, items in batches.items()
    }
    for k in range(max(len(c) for c in chunks.values())):
        if k:
            ctx.clock.advance(1)  # type: ignore[attr-defined]
        for cid, parts in chunks.items():
            if k < len(parts):
                records = [{"called": r} if isinstance(r, str) else r for r in parts[k]]
                added = client.add_call_data(vdn_id, cid, records)
                assert added.ok, added.body
    for cid in batches:
        resumed = client.resume_campaign(vdn_id, cid)
        assert resumed.ok, resumed.body
    return ctx.clock.now_ms()


def attempts_of(ctx: AppContext, campaign_id: int) -> list[Any]:
    with ctx.db.read() as conn:
        return conn.execute(
            sa.select(attempts).where(attempts.c.campaign_id == campaign_id).order_by(attempts.c.id)
        ).all()


def records_of(ctx: AppContext, campaign_id: int) -> list[Any]:
    with ctx.db.read() as conn:
        return conn.execute(
            sa.select(call_data).where(call_data.c.campaign_id == campaign_id).order_by(call_data.c.id)
        ).all()


def stored_status(ctx: AppContext, campaign_id: int) -> int:
    with ctx.db.read() as conn:
        return conn.execute(sa.select(campaigns.c.status).where(campaigns.c.id == campaign_id)).scalar_one()
