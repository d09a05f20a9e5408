"""Rows the dialing engine would write, inserted directly for the results tests."""

from __future__ import annotations

import itertools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outdial.engine import repository as engine_repo
from outdial.models.calldata import call_data
from outdial.models.engine import attempts
from outdial.models.foundation import campaigns

_names = itertools.count(1)


def campaign(conn: Connection, vdn_id: int, *, timezone: str = "UTC", callback_url: str | None = None) -> int:
    values = dict(
        vdn_id=vdn_id,
        name=f"c{vdn_id}-{next(_names)}",
        status=2,
        device_type=2,
        begin_at=0,
        end_at=2**62,
        timezone=timezone,
        callback_url=callback_url,
        spec={},
        created_at=0,
        updated_at=0,
    )
    return int(conn.execute(sa.insert(campaigns).values(**values).returning(campaigns.c.id)).scalar_one())


def record(conn: Connection, campaign_id: int, vdn_id: int, **extra: Any) -> int:
    values = dict(campaign_id=campaign_id, vdn_id=vdn_id, called="60584", created_at=0) | extra
    return int(conn.execute(sa.insert(call_data).values(**values).returning(call_data.c.id)).scalar_one())


def attempt(
    conn: Connection,
    campaign_id: int,
    vdn_id: int,
    data_id: int,
    call_id: str,
    at: int,
    *,
    final: bool = False,
    **extra: Any,
) -> int:
    values = (
        dict(
            call_id=call_id,
            campaign_id=campaign_id,
            vdn_id=vdn_id,
            data_id=data_id,
            number_index=0,
            called="60584",
            state=1,
            created_at=at,
            answer_at=at,
            end_at=at + 60_000,
            local_day="2026-11-23",
            call_status=6,
            fail_code="0",
            result_code="OB99999",
        )
        | extra
    )
    if values["state"] == 0:  # an open call: the engine has not written its end or outcome yet
        values.update(answer_at=None, end_at=None, call_status=None, fail_code=None, result_code=None)
    attempt_id = int(conn.execute(sa.insert(attempts).values(**values).returning(attempts.c.id)).scalar_one())
    if final:
        # as the engine finishes a record: final_attempt_id and the attempt's final flag together
        engine_repo.set_record(
            conn, data_id, {"state": 2, "finished_at": at + 60_000, "final_attempt_id": attempt_id}
        )
    return attempt_id
