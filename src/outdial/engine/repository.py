"""SQL of the dialing engine: leases, picking due records, attempts, and records' next state."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from outdial.campaigns.status import COMPLETED, EXECUTING, PUBLISHED
from outdial.db import insert_ignore
from outdial.models import calldata as cd
from outdial.models.calldata import blacklist, call_data
from outdial.models.engine import OPEN, attempts, business_results, campaign_leases, result_code_map
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


def undeleted_campaign_ids(conn: Connection, campaign_ids: set[int]) -> set[int]:
    """Those of the campaigns that still exist and are not deleted (archived)."""
    rows = conn.execute(
        sa.select(campaigns.c.id).where(campaigns.c.id.in_(campaign_ids), campaigns.c.deleted_at.is_(None))
    )
    return {r.id for r in rows}


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
    return result_code_overrides_of(conn, [vdn_id]).get(vdn_id, {})


def result_code_overrides_of(conn: Connection, vdn_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """Each VDN's failCode -> resultCode overrides (VDNs without any are left out)."""
    rows = conn.execute(
        sa.select(result_code_map).where(result_code_map.c.vdn_id.in_(sorted(set(vdn_ids))))
    )
    maps: dict[int, dict[str, str]] = {}
    for r in rows:
        maps.setdefault(r.vdn_id, {})[r.fail_code] = r.result_code
    return maps


def set_result_codes(conn: Connection, vdn_id: int, changes: dict[str, str | None]) -> None:
    """Override (a resultCode) or go back to the default (None) for each failCode of `changes`."""
    if not changes:
        return
    conn.execute(
        result_code_map.delete().where(
            result_code_map.c.vdn_id == vdn_id, result_code_map.c.fail_code.in_(list(changes))
        )
    )
    rows = [{"vdn_id": vdn_id, "fail_code": f, "result_code": r} for f, r in changes.items() if r is not None]
    if rows:
        conn.execute(result_code_map.insert(), rows)


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


_HOLD_LEASE = (
    campaign_leases.update()
    .where(
        campaign_leases.c.campaign_id == sa.bindparam("cid"),
        campaign_leases.c.owner == sa.bindparam("b_owner"),
        sa.select(campaigns.c.id)
        .where(
            campaigns.c.id == sa.bindparam("cid"),
            campaigns.c.deleted_at.is_(None),
            campaigns.c.status.in_((PUBLISHED, EXECUTING)),
        )
        .exists(),
    )
    .values(expires_at=sa.bindparam("expires"))
)


def hold_lease(conn: Connection, campaign_id: int, owner: str, now_ms: int, ttl_ms: int) -> bool:
    """Renew the lease only if `owner` still holds it and the campaign may still dial (not paused, deleted or
    completed). Run in the transaction that picks records: a worker whose lease was taken over, or whose
    campaign was paused by any process, writes no further attempt."""
    result = conn.execute(_HOLD_LEASE, {"cid": campaign_id, "b_owner": owner, "expires": now_ms + ttl_ms})
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


# The pick also checks what hold_lease checks (this worker holds the lease, the campaign may still dial), so a
# step needs no separate lease statement while the lease is far from expiry, and tells whether the VDN has any
# blacklist entry at all (most have none: then no blacklist lookup per pick).
_MAY_DIAL = sa.and_(
    sa.select(campaign_leases.c.campaign_id)
    .where(
        campaign_leases.c.campaign_id == sa.bindparam("campaign_id"),
        campaign_leases.c.owner == sa.bindparam("owner"),
    )
    .exists(),
    sa.select(campaigns.c.id)
    .where(
        campaigns.c.id == sa.bindparam("campaign_id"),
        campaigns.c.deleted_at.is_(None),
        campaigns.c.status.in_((PUBLISHED, EXECUTING)),
    )
    .exists(),
)
_VDN_HAS_BLACKLIST = sa.select(blacklist.c.number).where(blacklist.c.vdn_id == sa.bindparam("vdn_id")).exists()

_PICK_DUE = (
    sa.select(*_PICK_COLUMNS, _VDN_HAS_BLACKLIST.label("vdn_has_blacklist"))
    .where(
        call_data.c.campaign_id == sa.bindparam("campaign_id"),
        call_data.c.state == cd.WAITING,
        call_data.c.next_due_at <= sa.bindparam("now_ms"),
        _MAY_DIAL,
    )
    .order_by(call_data.c.next_due_at, call_data.c.id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)


def pick_due(
    conn: Connection, campaign_id: int, vdn_id: int, owner: str, now_ms: int, limit: int
) -> tuple[Sequence[Row], bool]:
    """Waiting records due now, oldest due first, and whether the VDN has blacklist entries. None while
    `owner` does not hold the lease or the campaign may not dial (paused, deleted, completed): the lease makes
    this worker the only picker. No rows is therefore either "nothing due" or "may not dial": hold_lease
    tells which."""
    if limit <= 0:
        return [], False
    rows = conn.execute(
        _PICK_DUE,
        {"campaign_id": campaign_id, "vdn_id": vdn_id, "owner": owner, "now_ms": now_ms, "limit": limit},
    ).all()
    return rows, bool(rows) and bool(rows[0].vdn_has_blacklist)


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


_INSERT_ATTEMPTS = attempts.insert().returning(attempts.c.id, attempts.c.call_id, sort_by_parameter_order=True)
_MARK_IN_PROGRESS = (  # one row per record (executemany): no IN list to expand for every step
    call_data.update()
    .where(call_data.c.id == sa.bindparam("b_id"))
    .values(state=cd.IN_PROGRESS, attempt_count=call_data.c.attempt_count + 1)
)


def start_attempts(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Write attempts OPEN (before their calls are placed) and mark their records in progress.
    Returns call_id -> attempt id. call_id is derived from (record, attempt number), so the same attempt
    can never be written twice: the unique index refuses it."""
    if not rows:
        return {}
    inserted = conn.execute(_INSERT_ATTEMPTS, rows).all()
    conn.execute(_MARK_IN_PROGRESS, [{"b_id": r["data_id"]} for r in rows])
    return {r.call_id: r.id for r in inserted}


def retire_records(conn: Connection, data_ids: Iterable[int], state: int, now_ms: int) -> None:
    """Finish or recycle records without a call (recycle time passed, blacklisted, nothing left to call)."""
    ids = list(data_ids)
    if ids:
        conn.execute(
            call_data.update().where(call_data.c.id.in_(ids)).values(state=state, finished_at=now_ms)
        )


_END_ATTEMPTS = (
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
        final=sa.bindparam("final"),
    )
)


def end_attempts(conn: Connection, ended: list[dict[str, Any]]) -> None:
    """Close attempts with their outcome. Each dict has b_id plus the outcome columns, and `final`: the
    attempt is its record's final call (the record finished with it)."""
    if ended:
        conn.execute(_END_ATTEMPTS, ended)


_UPDATE_RECORDS = (
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


# attempts.final mirrors call_data.final_attempt_id (results read each record's final call from the partial
# index ix_attempts_final). It is written in the same transaction as final_attempt_id: by end_attempts when a
# record finishes with the attempt that just ended, and by set_record when a record is reopened or set.
_MARK_FINAL = attempts.update().where(attempts.c.id == sa.bindparam("final_attempt_id")).values(final=True)
_UNMARK_FINAL = attempts.update().where(attempts.c.data_id == sa.bindparam("b_id"), attempts.c.final).values(
    final=False
)


def update_records(conn: Connection, updates: list[dict[str, Any]]) -> None:
    """Set each record's next state. Each dict: b_id, state, next_due_at, number_index, finished_at,
    final_attempt_id. The attempt named as final is marked by end_attempts in the same transaction."""
    if updates:
        conn.execute(_UPDATE_RECORDS, updates)


_HISTORY = (
    sa.select(
        attempts.c.id,
        attempts.c.state,
        attempts.c.data_id,
        attempts.c.number_index,
        attempts.c.created_at,
        attempts.c.end_at,
        attempts.c.local_day,
        attempts.c.result_type,
        attempts.c.fail_code,
        attempts.c.result_code,
        attempts.c.call_status,
    )
    .where(attempts.c.data_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(attempts.c.id)
)


def attempts_of_records(conn: Connection, data_ids: Iterable[int]) -> tuple[dict[int, list[Row]], set[int]]:
    """Every closed attempt of these records, oldest first, and the ids of their attempts still open."""
    ids = list(set(data_ids))
    history: dict[int, list[Row]] = {i: [] for i in ids}
    still_open: set[int] = set()
    if not ids:
        return history, still_open
    for row in conn.execute(_HISTORY, {"ids": ids}):
        if row.state == OPEN:
            still_open.add(row.id)
        else:
            history[row.data_id].append(row)
    return history, still_open


@dataclass(frozen=True, slots=True)
class RecordNow:
    """A record as its call ends (what the retry decision reads)."""

    id: int
    called: str
    numbers: str | None
    caller: str | None
    session_id: str | None
    custom_field: str | None
    recycle_at: int | None
    number_index: int
    attempt_count: int
    next_due_at: int


_RECORD_NAMES = [c.name for c in _PICK_COLUMNS]
assert [f.name for f in fields(RecordNow)] == _RECORD_NAMES  # RecordNow(*the r_ columns) below


@functools.lru_cache(maxsize=256)
def _closing_statement(size: int) -> sa.Select[Any]:
    """One prebuilt statement per number of records: an "expanding" IN list would be rebuilt on every step
    (most steps close one or a few records)."""
    return (
        sa.select(*_HISTORY.selected_columns, *(c.label(f"r_{c.name}") for c in _PICK_COLUMNS))
        .select_from(attempts.outerjoin(call_data, call_data.c.id == attempts.c.data_id))
        .where(attempts.c.data_id.in_([sa.bindparam(f"id{i}") for i in range(size)]))
        .order_by(attempts.c.id)
    )


def closing_state(
    conn: Connection, data_ids: Iterable[int]
) -> tuple[dict[int, list[Row]], set[int], dict[int, RecordNow]]:
    """What closing calls of these records reads, in one statement: attempts_of_records (closed attempts
    oldest first, ids still open) and each record's current row (absent: deleted while its call ran)."""
    ids = list(set(data_ids))
    history: dict[int, list[Row]] = {i: [] for i in ids}
    still_open: set[int] = set()
    records: dict[int, RecordNow] = {}
    if not ids:
        return history, still_open, records
    statement = _closing_statement(len(ids))
    for row in conn.execute(statement, {f"id{i}": data_id for i, data_id in enumerate(ids)}):
        if row.state == OPEN:
            still_open.add(row.id)
        else:
            history[row.data_id].append(row)
        if row.r_id is not None and row.r_id not in records:
            records[row.r_id] = RecordNow(*row[-len(_RECORD_NAMES) :])
    return history, still_open, records


def attempt_history(conn: Connection, data_ids: Iterable[int]) -> dict[int, list[Row]]:
    """Every closed attempt of these records, oldest first."""
    return attempts_of_records(conn, data_ids)[0]


def open_attempts(conn: Connection, campaign_id: int) -> Sequence[Row]:
    return conn.execute(
        sa.select(attempts).where(attempts.c.campaign_id == campaign_id, attempts.c.state == OPEN)
    ).all()


_BLACKLIST = sa.select(blacklist).where(
    blacklist.c.vdn_id == sa.bindparam("vdn"), blacklist.c.number.in_(sa.bindparam("numbers", expanding=True))
)


def blacklist_entries(conn: Connection, vdn_id: int, numbers: set[str]) -> dict[str, Row]:
    if not numbers:
        return {}
    return {r.number: r for r in conn.execute(_BLACKLIST, {"vdn": vdn_id, "numbers": list(numbers)})}


def call_times(conn: Connection, vdn_id: int, since: dict[str, int]) -> dict[str, list[int]]:
    """Instants of the VDN's calls to each number from `since[number]` on (blacklist restrictions)."""
    out: dict[str, list[int]] = {}
    for number, start in since.items():
        rows = conn.execute(
            sa.select(attempts.c.created_at).where(
                attempts.c.vdn_id == vdn_id, attempts.c.called == number, attempts.c.created_at >= start
            )
        )
        out[number] = [r.created_at for r in rows]
    return out


def latest_business_results(conn: Connection, data_ids: Iterable[int], since_ms: int) -> dict[int, Row]:
    """The newest business result written for each record at or after `since_ms`."""
    ids = list(set(data_ids))
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(business_results)
        .where(business_results.c.data_id.in_(ids), business_results.c.created_at >= since_ms)
        .order_by(business_results.c.id)
    )
    return {r.data_id: r for r in rows}


def insert_business_result(conn: Connection, values: dict[str, Any]) -> int:
    return int(
        conn.execute(business_results.insert().values(**values).returning(business_results.c.id)).scalar_one()
    )


def record_of_vdn(conn: Connection, vdn_id: int, data_id: int) -> Row | None:
    return conn.execute(
        sa.select(*_PICK_COLUMNS, call_data.c.campaign_id, call_data.c.state).where(
            call_data.c.id == data_id, call_data.c.vdn_id == vdn_id
        )
    ).first()


def set_record(conn: Connection, data_id: int, values: dict[str, Any]) -> None:
    conn.execute(call_data.update().where(call_data.c.id == data_id).values(**values))
    if "final_attempt_id" in values:  # keep attempts.final in step (a reopened record has no final call)
        conn.execute(_UNMARK_FINAL, {"b_id": data_id})
        if values["final_attempt_id"] is not None:
            conn.execute(_MARK_FINAL, {"final_attempt_id": values["final_attempt_id"]})


def campaign_attempts(conn: Connection, campaign_id: int) -> Sequence[Row]:
    """Every attempt of a campaign in order (tests, simulate)."""
    return conn.execute(
        sa.select(attempts).where(attempts.c.campaign_id == campaign_id).order_by(attempts.c.id)
    ).all()
