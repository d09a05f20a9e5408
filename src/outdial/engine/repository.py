"""SQL of the dialing engine: leases, picking due records, attempts, and records' next state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from outdial.campaigns.status import COMPLETED, EXECUTING, PUBLISHED
from outdial.db import insert_ignore
from outdial.models import calldata as cd
from outdial.models.calldata import call_data
from outdial.models.engine import OPEN, attempts, campaign_leases, result_code_map
from outdial.models.foundation import campaign_callers, campaign_holidays, campaigns


def dialable_campaigns(conn: Connection, now_ms: int) -> Sequence[Row]:
    """Live campaigns whose period has begun and that are not paused or completed."""
    return conn.execute(
        sa.select(campaigns)
        .where(
            campaigns.c.deleted_at.is_(None),
            campaigns.c.status.in_((PUBLISHED, EXECUTING)),
            campaigns.c.begin_at <= now_ms,
        )
        .order_by(campaigns.c.priority.nulls_last(), campaigns.c.id)
    ).all()


def campaign_row(conn: Connection, campaign_id: int) -> Row | None:
    return conn.execute(sa.select(campaigns).where(campaigns.c.id == campaign_id)).first()


def set_campaign_status(conn: Connection, campaign_id: int, status: int, now_ms: int) -> None:
    values: dict[str, Any] = {"status": status, "updated_at": now_ms}
    if status == COMPLETED:
        values["completed_at"] = now_ms
    conn.execute(campaigns.update().where(campaigns.c.id == campaign_id).values(**values))


def callers(conn: Connection, campaign_id: int) -> list[tuple[str, int]]:
    rows = conn.execute(
        sa.select(campaign_callers.c.access_code, campaign_callers.c.priority)
        .where(campaign_callers.c.campaign_id == campaign_id)
        .order_by(campaign_callers.c.priority, campaign_callers.c.access_code)
    )
    return [(r.access_code, r.priority) for r in rows]


def holidays(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(campaign_holidays).where(campaign_holidays.c.campaign_id == campaign_id))
    return [dict(r._mapping) for r in rows]


def result_code_overrides(conn: Connection, vdn_id: int) -> dict[str, str]:
    rows = conn.execute(
        sa.select(result_code_map.c.fail_code, result_code_map.c.result_code).where(
            result_code_map.c.vdn_id == vdn_id
        )
    )
    return {r.fail_code: r.result_code for r in rows}


# --- leases -------------------------------------------------------------------------------------------


def claim_lease(conn: Connection, campaign_id: int, owner: str, now_ms: int, ttl_ms: int) -> bool:
    """Take or renew the campaign's lease. True when `owner` holds it until now + ttl."""
    expires = now_ms + ttl_ms
    if insert_ignore(
        conn, campaign_leases, {"campaign_id": campaign_id, "owner": owner, "expires_at": expires}
    ):
        return True
    result = conn.execute(
        campaign_leases.update()
        .where(
            campaign_leases.c.campaign_id == campaign_id,
            sa.or_(campaign_leases.c.owner == owner, campaign_leases.c.expires_at < now_ms),
        )
        .values(owner=owner, expires_at=expires)
    )
    return result.rowcount == 1


def release_lease(conn: Connection, campaign_id: int, owner: str) -> None:
    conn.execute(
        campaign_leases.delete().where(
            campaign_leases.c.campaign_id == campaign_id, campaign_leases.c.owner == owner
        )
    )


# --- records --------------------------------------------------------------------------------------------

_PICK_COLUMNS = (
    call_data.c.id,
    call_data.c.called,
    call_data.c.numbers,
    call_data.c.caller,
    call_data.c.session_id,
    call_data.c.custom_field,
    call_data.c.recycle_at,
    call_data.c.number_index,
    call_data.c.attempt_count,
    call_data.c.next_due_at,
)


def pick_due(conn: Connection, campaign_id: int, now_ms: int, limit: int) -> Sequence[Row]:
    """Waiting records due now, oldest due first (the lease makes this worker the only picker)."""
    if limit <= 0:
        return []
    return conn.execute(
        sa.select(*_PICK_COLUMNS)
        .where(
            call_data.c.campaign_id == campaign_id,
            call_data.c.state == cd.WAITING,
            call_data.c.next_due_at <= now_ms,
        )
        .order_by(call_data.c.next_due_at, call_data.c.id)
        .limit(limit)
    ).all()


def next_due_at(conn: Connection, campaign_id: int) -> int | None:
    return conn.execute(
        sa.select(sa.func.min(call_data.c.next_due_at)).where(
            call_data.c.campaign_id == campaign_id, call_data.c.state == cd.WAITING
        )
    ).scalar()


def unfinished_count(conn: Connection, campaign_id: int) -> int:
    return conn.execute(
        sa.select(sa.func.count()).where(
            call_data.c.campaign_id == campaign_id, call_data.c.state.in_(cd.UNFINISHED_STATES)
        )
    ).scalar_one()


def has_records(conn: Connection, campaign_id: int) -> bool:
    return (
        conn.execute(sa.select(call_data.c.id).where(call_data.c.campaign_id == campaign_id).limit(1)).first()
        is not None
    )


def start_attempts(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Write attempts OPEN (before their calls are placed) and mark their records in progress.
    Returns call_id -> attempt id. call_id is derived from (record, attempt number), so the same attempt
    can never be written twice: the unique index refuses it."""
    if not rows:
        return {}
    inserted = conn.execute(
        attempts.insert().returning(attempts.c.id, attempts.c.call_id, sort_by_parameter_order=True), rows
    ).all()
    data_ids = [r["data_id"] for r in rows]
    conn.execute(
        call_data.update()
        .where(call_data.c.id.in_(data_ids))
        .values(state=cd.IN_PROGRESS, attempt_count=call_data.c.attempt_count + 1)
    )
    return {r.call_id: r.id for r in inserted}


def retire_records(conn: Connection, data_ids: Iterable[int], state: int, now_ms: int) -> None:
    """Finish or recycle records without a call (recycle time passed, blacklisted, nothing left to call)."""
    ids = list(data_ids)
    if ids:
        conn.execute(
            call_data.update().where(call_data.c.id.in_(ids)).values(state=state, finished_at=now_ms)
        )


def end_attempts(conn: Connection, ended: list[dict[str, Any]]) -> None:
    """Close attempts with their outcome. Each dict has b_id plus the outcome columns."""
    if not ended:
        return
    stmt = (
        attempts.update()
        .where(attempts.c.id == sa.bindparam("b_id"))
        .values(
            state=sa.bindparam("state"),
            answer_at=sa.bindparam("answer_at"),
            end_at=sa.bindparam("end_at"),
            outcome=sa.bindparam("outcome"),
            result_type=sa.bindparam("result_type"),
            fail_code=sa.bindparam("fail_code"),
            result_code=sa.bindparam("result_code"),
            call_status=sa.bindparam("call_status"),
            agent_id=sa.bindparam("agent_id"),
            abandoned=sa.bindparam("abandoned"),
            record_path=sa.bindparam("record_path"),
        )
    )
    conn.execute(stmt, ended)


def update_records(conn: Connection, updates: list[dict[str, Any]]) -> None:
    """Set each record's next state. Each dict: b_id, state, next_due_at, number_index, finished_at,
    final_attempt_id."""
    if not updates:
        return
    stmt = (
        call_data.update()
        .where(call_data.c.id == sa.bindparam("b_id"))
        .values(
            state=sa.bindparam("state"),
            next_due_at=sa.bindparam("next_due_at"),
            number_index=sa.bindparam("number_index"),
            finished_at=sa.bindparam("finished_at"),
            final_attempt_id=sa.bindparam("final_attempt_id"),
        )
    )
    conn.execute(stmt, updates)


def attempt_history(conn: Connection, data_ids: Iterable[int]) -> dict[int, list[Row]]:
    """Every closed attempt of these records, oldest first."""
    ids = list(set(data_ids))
    history: dict[int, list[Row]] = {i: [] for i in ids}
    if not ids:
        return history
    rows = conn.execute(
        sa.select(
            attempts.c.data_id,
            attempts.c.number_index,
            attempts.c.created_at,
            attempts.c.local_day,
            attempts.c.result_type,
            attempts.c.fail_code,
            attempts.c.result_code,
            attempts.c.call_status,
        )
        .where(attempts.c.data_id.in_(ids), attempts.c.state != OPEN)
        .order_by(attempts.c.id)
    )
    for row in rows:
        history[row.data_id].append(row)
    return history


def open_attempts(conn: Connection, campaign_id: int) -> Sequence[Row]:
    return conn.execute(
        sa.select(attempts).where(attempts.c.campaign_id == campaign_id, attempts.c.state == OPEN)
    ).all()


def record_rows(conn: Connection, data_ids: Iterable[int]) -> dict[int, Row]:
    ids = list(set(data_ids))
    if not ids:
        return {}
    rows = conn.execute(sa.select(*_PICK_COLUMNS).where(call_data.c.id.in_(ids)))
    return {r.id: r for r in rows}


