"""The call-data interfaces' rules that need the database: adding numbers, reading and deleting them, and
the VDN's blacklist. Every function takes the request's Connection and never commits; a refusal raises
ApiError and the request's transaction rolls back, so nothing of a refused request is stored (the
one-second slot of the add included). Decisions are in docs/calldata.md."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from outdial import errors
from outdial.calldata import repository as repo
from outdial.calldata.blacklist_rules import (
    BlacklistEntry,
    next_allowed_at,
    parse_blocklist_add,
    parse_blocklist_delete,
    parse_blocklist_query,
    period_bounds,
)
from outdial.calldata.records import (
    CallRecord,
    called_problem,
    custom_field_problem,
    recycle_time_problem,
    session_id_problem,
)
from outdial.campaigns.repository import get_campaign
from outdial.campaigns.status import COMPLETED, EXECUTING, effective_status
from outdial.engine import callpolicy
from outdial.errors import ApiError
from outdial.models import calldata as cd
from outdial.models.calldata import call_data
from outdial.validation import as_object, fail, optional_int, optional_str

log = logging.getLogger("outdial.calldata")

# "the interface invoking time cannot be less than 1 second" (per campaign)
ADD_INTERVAL_MS = 1000
NEVER = -1  # blacklist_refusals: the number may never be called

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _not_found(campaign_id: int) -> ApiError:
    # The same answer whether the id never existed, was deleted or belongs to another VDN.
    return ApiError(errors.NOT_FOUND, f"campaign {campaign_id} does not exist")


def _locked_campaign(conn: Connection, vdn_id: int, campaign_id: int) -> repo.LockedCampaign:
    campaign = repo.lock_campaign(conn, campaign_id)
    if campaign is None or campaign.vdn_id != vdn_id or campaign.deleted_at is not None:
        raise _not_found(campaign_id)
    return campaign


def _status(campaign: repo.LockedCampaign | Row, now_ms: int) -> int:
    return effective_status(campaign.status, campaign.begin_at, campaign.end_at, now_ms)


def _format_local(at_ms: int, tz: str) -> str:
    zone = ZoneInfo(tz)
    try:
        return (_EPOCH + timedelta(milliseconds=at_ms)).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    except OverflowError:
        # A wall time of 9999-12-31 west of UTC is an instant in year 10000, past datetime's range: shift
        # by the zone's offset at the last day it can represent, then format the (representable) wall time.
        offset = datetime(9999, 12, 30, tzinfo=UTC).astimezone(zone).utcoffset() or timedelta()
        return (datetime(1970, 1, 1) + (timedelta(milliseconds=at_ms) + offset)).strftime("%Y-%m-%d %H:%M:%S")


# --- the blacklist rule (blacklist_rules.may_call) with the VDN's entries and calls ---------------------


def blacklist_refusals(
    conn: Connection, vdn_id: int, tz: str, numbers: Iterable[str], now_ms: int
) -> dict[str, int]:
    """The numbers among `numbers` that may not be called at `now_ms` (blacklist_rules.may_call, with
    the VDN's calls of each number from the attempts table), each with the first instant it may be
    called (blacklist_rules.next_allowed_at), or NEVER (-1). Numbers that may be called are absent."""
    entries = repo.blacklist_entries(conn, vdn_id, numbers)
    active = {n: e for n, e in entries.items() if e.expires_at is None or e.expires_at > now_ms}
    if not active:
        return {}
    restricted = {n: e for n, e in active.items() if e.restrict_period is not None}
    times: dict[str, list[int]] = {}
    if restricted:
        since = min(period_bounds(now_ms, e.restrict_period or "", tz)[0] for e in restricted.values())
        times = repo.call_times(conn, vdn_id, restricted, since)
    refusals: dict[str, int] = {}
    for number, entry in active.items():
        allowed = next_allowed_at(entry, times.get(number, ()), now_ms, tz)
        if allowed is None:
            refusals[number] = NEVER
        elif allowed > now_ms:
            refusals[number] = allowed
    return refusals


def _blacklist_reason(entry: BlacklistEntry | None, allowed: int, tz: str) -> str:
    if allowed == NEVER:
        return "is in the blacklist"
    if entry is not None and entry.restrict_times is not None and (entry.expires_at or 0) != allowed:
        period = "hour" if entry.restrict_period == "0" else "day"
        return (
            f"is in the blacklist and its {entry.restrict_times} call(s) per {period} are used up "
            f"until {_format_local(allowed, tz)}"
        )
    return f"is in the blacklist until {_format_local(allowed, tz)}"


# --- POST …/calldata/{campaignId} ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Added:
    total_size: int  # the campaign's unfinished numbers (waiting or being called) after the add
    not_called: int = 0  # of the records added, those the campaign's call policy never calls
    not_called_reason: str | None = None  # why, for the first of them

    def answer(self) -> dict[str, Any]:
        """The add's returnObject: totalSize, and the extension fields when some records are not called."""
        if not self.not_called:
            return {"totalSize": self.total_size}
        return {
            "totalSize": self.total_size,
            "notCalledCount": self.not_called,
            "notCalledReason": self.not_called_reason,
        }


def not_called_by_policy(
    numbers_of_records: Iterable[Sequence[callpolicy.HasType]], call_policy: dict[str, Any] | None
) -> tuple[int, str | None]:
    """How many of the records the call policy never calls, and why for the first of them."""
    if not callpolicy.is_round(call_policy):
        return 0, None  # by sequence every number is called
    count = 0
    first: str | None = None
    for numbers in numbers_of_records:
        reason = callpolicy.not_called_reason(numbers, call_policy)
        if reason is not None:
            count += 1
            if first is None:
                first = reason
    return count, first


def count_not_called(conn: Connection, campaign_id: int) -> int:
    """The campaign's records that its call policy never calls (the statistics' extension counter).
    Scans the records only for a by-round policy: by sequence every record is called."""
    policy = repo.call_policy_of(conn, campaign_id)
    if not callpolicy.is_round(policy):
        return 0
    stored = repo.stored_numbers_of(conn, campaign_id)
    return not_called_by_policy((callpolicy.stored_types(n) for _, n in stored), policy)[0]


def not_called_by_import_task(conn: Connection, campaign_id: int, task_ids: Sequence[str]) -> dict[str, int]:
    """Of each import task's records, how many the campaign's call policy never calls (tasks with none are
    left out)."""
    policy = repo.call_policy_of(conn, campaign_id)
    if not task_ids or not callpolicy.is_round(policy):
        return {}
    counts: dict[str, int] = {}
    for task_id, stored in repo.stored_numbers_of(conn, campaign_id, task_ids):
        if task_id is not None and callpolicy.not_called_reason(callpolicy.stored_types(stored), policy):
            counts[task_id] = counts.get(task_id, 0) + 1
    return counts


def add_call_data(
    conn: Connection,
    vdn_id: int,
    campaign_id: int,
    records: Sequence[CallRecord],
    *,
    now_ms: int,
    max_unfinished: int,
) -> Added:
    """Add the records of a body that parse_add_request accepted (its field and count rules come first:
    02000001.., 0200029, 0200018 within the request, 0200030) to a campaign, all or nothing. Returns
    totalSize (the campaign's unfinished numbers, waiting or being called, after the add) and how many of
    the records its call policy will never call (logged as a warning). The rules that
    need the database, in the order they are checked: campaign of this VDN (0200007), not executing or
    completed (0200019), one add per campaign per second (0200022), not already an unfinished number of
    the campaign (0200018), blacklist (0200024), at most `max_unfinished` unfinished numbers (0200020)."""
    campaign = _locked_campaign(conn, vdn_id, campaign_id)
    status = _status(campaign, now_ms)
    if status in (EXECUTING, COMPLETED):
        state = "executing" if status == EXECUTING else "completed"
        raise ApiError(
            errors.WRONG_STATE_FOR_NUMBERS,
            f"campaign {campaign_id} is {state}: numbers can be added only before it starts or while paused",
        )
    if not repo.claim_slot(conn, f"calldata.add:{campaign_id}", now_ms, ADD_INTERVAL_MS):
        raise ApiError(
            errors.TOO_FREQUENT,
            f"numbers were added to campaign {campaign_id} less than {ADD_INTERVAL_MS // 1000} second ago; "
            "wait at least 1 second between two adds to one campaign",
        )
    numbers = [record.numbers[0].called for record in records]
    waiting = repo.unfinished_among(conn, campaign_id, numbers)
    for index, number in enumerate(numbers):
        if number in waiting:
            raise ApiError(
                errors.DUPLICATE_NUMBERS,
                f"callDataList[{index}].called {number} is already a number of campaign {campaign_id} "
                "that has not been called yet",
            )
    refusals = blacklist_refusals(conn, vdn_id, campaign.timezone, numbers, now_ms)
    if refusals:
        entries = repo.blacklist_entries(conn, vdn_id, refusals)
        for index, number in enumerate(numbers):
            if number in refusals:
                reason = _blacklist_reason(entries.get(number), refusals[number], campaign.timezone)
                raise ApiError(errors.BLACKLISTED, f"callDataList[{index}].called {number} {reason}")
    unfinished = repo.count_unfinished(conn, campaign_id)
    if unfinished + len(records) > max_unfinished:
        raise ApiError(
            errors.TOO_MANY_UNFINISHED,
            f"callDataList: campaign {campaign_id} has {unfinished} numbers not yet finished; adding "
            f"{len(records)} would pass the limit of {max_unfinished}",
        )
    # No engine wake-up: numbers go only to campaigns that are not being dialed, and the engine finds a
    # campaign whose period begins (or that is resumed) by itself.
    repo.bulk_insert_records(conn, campaign, records, import_task_id=None, now_ms=now_ms)
    policy = repo.call_policy_of(conn, campaign_id)
    not_called, why = not_called_by_policy((r.numbers for r in records), policy)
    if not_called:
        log.warning(
            "campaign %s: %d of %d numbers added will never be called: %s",
            campaign_id,
            not_called,
            len(records),
            why,
        )
    return Added(unfinished + len(records), not_called, why)


# --- GET …/calldata/{campaignId}/{dataId} ---------------------------------------------------------------

STATE_NAMES = {
    cd.WAITING: "waiting",
    cd.IN_PROGRESS: "calling",
    cd.FINISHED: "finished",
    cd.RECYCLED: "recycled",
    cd.DELETED: "deleted",
}

_PROPERTIES = (
    ("sessionId", "session ID", "session_id"),
    ("caller", "calling number", "caller"),
    ("customField", "custom field", "custom_field"),
    ("callData", "call-associated data", "call_data"),
)


def get_call_data(conn: Connection, vdn_id: int, campaign_id: int, data_id: int) -> dict[str, Any]:
    """One number of a campaign as the reference's `data` {dataId, properties, calledNos}, plus outdial's
    own `status` and `attemptCount`."""
    campaign = _campaign(conn, vdn_id, campaign_id)
    row = repo.get_record(conn, campaign_id, data_id)
    if row is None:
        raise ApiError(
            errors.DATA_NOT_FOUND, f"dataId: number {data_id} does not exist in campaign {campaign_id}"
        )
    properties = [
        {"propCode": code, "propName": name, "propValue": getattr(row, column)}
        for code, name, column in _PROPERTIES
        if getattr(row, column) is not None
    ]
    if row.recycle_at is not None:
        properties.append(
            {
                "propCode": "recycleTime",
                "propName": "recycling time",
                "propValue": _format_local(row.recycle_at, campaign.timezone),
            }
        )
    if row.numbers:
        called = [{"calledNo": str(n[0]), "type": n[1]} for n in json.loads(row.numbers)]
    else:
        called = [{"calledNo": row.called, "type": None}]
    view = {
        "dataId": row.id,
        "properties": properties,
        "calledNos": called,
        "status": STATE_NAMES.get(row.state, str(row.state)),
        "attemptCount": row.attempt_count,
    }
    reason = callpolicy.not_called_reason(
        callpolicy.stored_types(row.numbers), campaign.spec.get("callPolicy")
    )
    if reason is not None:
        view["notCalledReason"] = reason  # extension: this record will never be called, and why
    return view


def _campaign(conn: Connection, vdn_id: int, campaign_id: int) -> Row:
    campaign = get_campaign(conn, vdn_id, campaign_id)
    if campaign is None:
        raise _not_found(campaign_id)
    return campaign


# --- POST …/calldata/{campaignId}/delete ----------------------------------------------------------------

RECYCLE_UP_TO_DAY, RECYCLE_DAY, RECYCLE_EXACT = "1", "2", "3"


@dataclass(frozen=True, slots=True)
class DeleteFilter:
    session_id: str | None
    called: str | None
    custom_field: str | None
    recycle_time: str | None
    recycle_type: str | None
    archive: bool


def _checked(body: dict[str, Any], key: str, rule: Callable[[str], Any]) -> str | None:
    text = optional_str(body, key)
    if text is not None and (problem := rule(text)):
        raise fail(problem[0], key, problem[1])
    return text


def parse_delete_body(body: object) -> DeleteFilter:
    """Any of sessionId, called, customField, recycleTime with recycleType (all given must match), and
    archiveHistory 0/1. At least one filter: a body that would delete every number is refused."""
    data = as_object(body, "request body")
    session_id = _checked(data, "sessionId", session_id_problem)
    called = _checked(data, "called", called_problem)
    custom_field = _checked(data, "customField", custom_field_problem)
    recycle_time = optional_str(data, "recycleTime")
    recycle_type = optional_str(data, "recycleType")
    if recycle_type is not None and recycle_type not in (RECYCLE_UP_TO_DAY, RECYCLE_DAY, RECYCLE_EXACT):
        raise fail(
            errors.WRONG_VALUE,
            "recycleType",
            'must be "1" (that day and earlier), "2" (that day) or "3" (exact)',
        )
    if (recycle_time is None) != (recycle_type is None):
        raise fail(errors.BAD_COMBINATION, "recycleTime", "and recycleType must be given together")
    if recycle_time is not None:
        if recycle_type != RECYCLE_EXACT and len(recycle_time) == 10:
            recycle_time += " 00:00:00"  # a date alone is enough to name a day
        if problem := recycle_time_problem(recycle_time):
            raise fail(problem[0], "recycleTime", problem[1])
    archive = optional_int(data, "archiveHistory", lo=0, hi=1)
    if session_id is None and called is None and custom_field is None and recycle_time is None:
        raise fail(
            errors.EMPTY,
            "request body",
            "must name the numbers to delete: sessionId, called, customField or recycleTime",
        )
    return DeleteFilter(session_id, called, custom_field, recycle_time, recycle_type, archive == 1)


def _local_ms(text: str, zone: ZoneInfo) -> int:
    return (datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone) - _EPOCH) // _MS


def _conditions(where: DeleteFilter, tz: str) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if where.session_id is not None:
        conditions.append(call_data.c.session_id == where.session_id)
    if where.called is not None:
        conditions.append(call_data.c.called == where.called)
    if where.custom_field is not None:
        conditions.append(call_data.c.custom_field == where.custom_field)
    if where.recycle_time is not None:
        zone = ZoneInfo(tz)
        if where.recycle_type == RECYCLE_EXACT:
            conditions.append(call_data.c.recycle_at == _local_ms(where.recycle_time, zone))
        else:
            day = where.recycle_time[:10]
            start = _local_ms(f"{day} 00:00:00", zone)
            # recycle times are whole seconds: "up to the day's last second" needs no next day, which
            # 9999-12-31 does not have
            last = _local_ms(f"{day} 23:59:59", zone)
            conditions.append(call_data.c.recycle_at <= last)
            if where.recycle_type == RECYCLE_DAY:
                conditions.append(call_data.c.recycle_at >= start)
    return conditions


def delete_call_data(conn: Connection, vdn_id: int, campaign_id: int, body: object, *, now_ms: int) -> int:
    """Delete the campaign's numbers that match and have not been called yet (WAITING); numbers being
    called or finished stay. Refused while the campaign executes (0200019). Returns how many."""
    where = parse_delete_body(body)
    campaign = _locked_campaign(conn, vdn_id, campaign_id)
    if _status(campaign, now_ms) == EXECUTING:
        raise ApiError(
            errors.WRONG_STATE_FOR_NUMBERS,
            f"campaign {campaign_id} is executing: pause it before deleting its numbers",
        )
    return repo.delete_waiting(
        conn, campaign_id, _conditions(where, campaign.timezone), archive=where.archive, now_ms=now_ms
    )


# --- blacklist ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlocklistAdded:
    added: int
    skipped: int


def add_blocklist(conn: Connection, vdn_id: int, body: object, *, now_ms: int, tz: str) -> BlocklistAdded:
    """Blacklist up to 20 numbers. A number already blacklisted: without isCoverDupNo the whole request is
    refused (0200007, the original edition); isCoverDupNo 0 skips it, 1 overwrites it (newer edition)."""
    parsed = parse_blocklist_add(body, now_ms=now_ms, tz=tz)
    cover_given = isinstance(body, dict) and body.get("isCoverDupNo") not in (None, "")
    repo.purge_expired_blacklist(conn, vdn_id, now_ms)
    existing = repo.active_blacklist_numbers(conn, vdn_id, parsed.numbers, now_ms)
    if existing and not cover_given:
        index, number = next((i, n) for i, n in enumerate(parsed.numbers) if n in existing)
        raise ApiError(errors.NOT_FOUND, f"blocklist[{index}] {number} is already in the blacklist")
    entries = [
        {
            "number": number,
            "expires_at": parsed.expires_at,
            "restrict_times": parsed.restrict_times,
            "restrict_period": parsed.restrict_period,
            "created_at": now_ms,
        }
        for number in parsed.numbers
        if parsed.cover_existing or number not in existing
    ]
    repo.upsert_blacklist(conn, vdn_id, entries, overwrite=parsed.cover_existing)
    return BlocklistAdded(added=len(entries), skipped=len(parsed.numbers) - len(entries))


def delete_blocklist_number(conn: Connection, vdn_id: int, body: object, *, now_ms: int) -> None:
    number = parse_blocklist_delete(body)
    repo.purge_expired_blacklist(conn, vdn_id, now_ms)
    if repo.delete_blacklist_number(conn, vdn_id, number) == 0:
        raise ApiError(errors.NOT_FOUND, f"blocklistNo {number} is not in the blacklist")


def delete_blocklist(conn: Connection, vdn_id: int) -> int:
    return repo.delete_blacklist(conn, vdn_id)


def _item(number: str, row: Row | None, tz: str) -> dict[str, Any]:
    return {
        "blockNum": number,
        "validityExpirationTime": (
            _format_local(row.expires_at, tz) if row is not None and row.expires_at is not None else None
        ),
        "restrictTimes": row.restrict_times if row is not None else None,
        "restrictPeriod": row.restrict_period if row is not None else None,
    }


def query_blocklist(conn: Connection, vdn_id: int, body: object, *, now_ms: int, tz: str) -> dict[str, Any]:
    """`blocklist` given: one item per number asked (repeats answered once) with `flag`; else a page
    (offset, limit) of the active entries in number order. totalCount: items answered for a `blocklist`
    query, all active entries for a page."""
    query = parse_blocklist_query(body)
    if query.numbers is not None:
        rows = repo.active_blacklist_rows(conn, vdn_id, query.numbers, now_ms)
        data = [{**_item(n, rows.get(n), tz), "flag": n in rows} for n in query.numbers]
        return {"totalCount": len(data), "data": data}
    total, page = repo.blacklist_page(conn, vdn_id, now_ms, query.offset, query.limit)
    return {"totalCount": total, "data": [_item(row.number, row, tz) for row in page]}
