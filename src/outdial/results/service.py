"""Result query rules: callresult (seed 003), callresultdetail, failcategorystatistics and statistics.

Decisions (see docs/results-and-callbacks.md): pageSize defaults to its maximum (100 with showDetail 1, 500
with 0); pageNum starts at 1; beginTime/endTime are days of the campaign's zone and endTime's day is
included; a call is "finished" once the engine wrote its end (attempts.end_at); calls are matched on
their local_day (the campaign's local date when the call was placed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from outdial import errors, validation
from outdial.calldata.service import count_not_called
from outdial.errors import ApiError
from outdial.results import repository
from outdial.results.outbox import call_time_str, result_item

_DAY_SHAPE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MAX_RANGE_DAYS = 30
JAVA_INT_MAX = 2**31 - 1  # pageNum and friends are Java Integers in iSales; also keeps OFFSET in range


@dataclass(frozen=True)
class ResultQuery:
    show_detail: int
    page_size: int
    page_num: int
    session_id: str | None
    custom_field: str | None
    first_day: str | None
    last_day: str | None


def _day(text: Any, path: str) -> date:
    if not isinstance(text, str) or not _DAY_SHAPE.match(text):
        raise ApiError(errors.BAD_TIME_FORMAT_RESULT, f"{path} must be formatted YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(errors.BAD_TIME_FORMAT_RESULT, f"{path} {text!r} is not a real date") from None


def parse_day_range(
    params: dict[str, Any], begin_key: str, end_key: str, *, allow_same_day: bool
) -> tuple[date, date] | None:
    """Pure: both or neither (0200008), YYYY-MM-DD (0200009), begin before end (0200010; the same day
    too unless allow_same_day), at most 30 days apart (0200011)."""
    begin, end = params.get(begin_key), params.get(end_key)
    if validation.is_blank(begin) != validation.is_blank(end):
        raise ApiError(
            errors.BOTH_OR_NEITHER, f"{begin_key} and {end_key} must be given together or not at all"
        )
    if validation.is_blank(begin):
        return None
    first, last = _day(begin, begin_key), _day(end, end_key)
    if first > last or (first == last and not allow_same_day):
        raise ApiError(errors.BEGIN_NOT_BEFORE_END, f"{begin_key} must be earlier than {end_key}")
    if (last - first).days > MAX_RANGE_DAYS:
        raise ApiError(
            errors.RANGE_TOO_LONG, f"{begin_key} and {end_key} are more than {MAX_RANGE_DAYS} days apart"
        )
    return first, last


def parse_query(body: dict[str, Any]) -> ResultQuery:
    """Pure: validate the callresult request body into a ResultQuery (raises ApiError with the seed's codes)."""
    show_detail = validation.optional_int(body, "showDetail", lo=0, hi=1)
    show_detail = 0 if show_detail is None else show_detail
    limit = 100 if show_detail == 1 else 500
    page_size = validation.optional_int(body, "pageSize", lo=1, hi=limit) or limit
    page_num = validation.optional_int(body, "pageNum", lo=1, hi=JAVA_INT_MAX) or 1
    session_id = validation.optional_str(body, "sessionId", max_len=32)
    custom_field = validation.optional_str(body, "customField", max_len=200)
    days = parse_day_range(body, "beginTime", "endTime", allow_same_day=False)
    first_day, last_day = (days[0].isoformat(), days[1].isoformat()) if days else (None, None)
    return ResultQuery(show_detail, page_size, page_num, session_id, custom_field, first_day, last_day)


def _campaign_zone(conn: Connection, vdn_id: int, campaign_id: int) -> str:
    zone = repository.campaign_zone(conn, vdn_id, campaign_id)
    if zone is None:
        raise ApiError(errors.NOT_FOUND, f"campaignId: campaign {campaign_id} does not exist")
    return zone


def query_results(conn: Connection, vdn_id: int, campaign_id: int, body: dict[str, Any]) -> dict[str, Any]:
    query = parse_query(body)
    zone = _campaign_zone(conn, vdn_id, campaign_id)
    total, rows = repository.find_results(conn, campaign_id, query)
    data = [result_item(row._mapping, campaign_id=campaign_id, vdn_id=vdn_id, zone=zone) for row in rows]
    return {"totalCount": total, "data": data}


def result_detail(conn: Connection, vdn_id: int, call_id: str) -> dict[str, Any]:
    """One finished call of the VDN by callId; unknown, unfinished or another VDN's: 0200001."""
    validation.check_text(call_id, "callId", max_len=40)
    row = repository.finished_attempt(conn, vdn_id, call_id)
    if row is None:
        raise ApiError(errors.PARAMETER_ERROR, f"callId: no finished call {call_id!r} in this VDN")
    item = result_item(row._mapping, campaign_id=row.campaign_id, vdn_id=vdn_id, zone=row.timezone)
    return {
        "called": item["called"],
        "ackBeginTime": call_time_str(row.answer_at, row.timezone),
        "callBeginTime": item["callTimeStr"],
        "callEndTime": call_time_str(row.end_at, row.timezone),
        "callStatus": item["callStatus"],
        "failCode": item["failCode"],
        "resultCode": item["resultCode"],
        "vdnId": vdn_id,
        "callId": item["callId"],
        "recordPath": item["recordPath"],
    }


def _campaign_id_param(params: dict[str, Any]) -> int:
    return validation.require_int(params, "campaignId", lo=1, hi=JAVA_INT_MAX)


def _today(now_ms: int, zone: str) -> date:
    return datetime.fromtimestamp(now_ms / 1000, tz=UTC).astimezone(ZoneInfo(zone)).date()


def _day_bounds_ms(day: str, zone: str) -> tuple[int, int]:
    """[start, end) of a local day in epoch ms (23 or 25 hours long on a DST change)."""
    first = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=ZoneInfo(zone))
    after = datetime.combine(
        date.fromisoformat(day) + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo(zone)
    )
    return int(first.timestamp() * 1000), int(after.timestamp() * 1000)


def fail_statistics(
    conn: Connection, vdn_id: int, params: dict[str, Any], now_ms: int
) -> list[dict[str, Any]]:
    """Failed calls per local day and failCode. Without dates: the 30 days up to today (campaign's zone)."""
    campaign_id = _campaign_id_param(params)
    days = parse_day_range(params, "startDate", "endDate", allow_same_day=True)
    zone = _campaign_zone(conn, vdn_id, campaign_id)
    if days is None:
        today = _today(now_ms, zone)
        days = (today - timedelta(days=MAX_RANGE_DAYS), today)
    per_day: dict[str, dict[str, int]] = {}
    for day, fail_code, count in repository.fail_counts(
        conn, campaign_id, days[0].isoformat(), days[1].isoformat()
    ):
        per_day.setdefault(day, {})[fail_code or ""] = int(count)
    return [{"statDate": day, "failData": per_day[day]} for day in sorted(per_day)]


_ID_LIST = re.compile(r"^[0-9]{1,10}(,[0-9]{1,10})*$")
MAX_STAT_CAMPAIGNS = 100


def statistics(conn: Connection, vdn_id: int, params: dict[str, Any], now_ms: int) -> list[dict[str, Any]]:
    """Overall and today's counts of one or more campaigns (campaignId may be a comma-separated list);
    with batchId, batchDetail holds the same counts for the records whose customField equals it."""
    text = params.get("campaignId")
    if validation.is_blank(text):
        raise ApiError(errors.EMPTY, "campaignId is required")
    text = str(text).replace(" ", "")
    if not _ID_LIST.match(text):
        raise ApiError(
            errors.WRONG_TYPE, "campaignId must be an integer or a comma-separated list of integers"
        )
    ids = list(dict.fromkeys(int(part) for part in text.split(",")))
    if len(ids) > MAX_STAT_CAMPAIGNS:
        raise ApiError(errors.TOO_MANY, f"campaignId names more than {MAX_STAT_CAMPAIGNS} campaigns")
    batch_id = validation.optional_str(params, "batchId", max_len=200)
    details = []
    for campaign_id in ids:
        zone = _campaign_zone(conn, vdn_id, campaign_id)
        today = _today(now_ms, zone).isoformat()
        bounds = _day_bounds_ms(today, zone)
        counts = repository.campaign_counts(conn, campaign_id, today, bounds, None)
        detail: dict[str, Any] = {"campaignId": str(campaign_id), **counts, "batchDetail": []}
        detail["notCalledByPolicy"] = count_not_called(conn, campaign_id)  # extension: never to be called
        if batch_id is not None:
            batch = repository.campaign_counts(conn, campaign_id, today, bounds, batch_id)
            detail["batchDetail"] = [{"batchId": batch_id, **batch}]
        details.append(detail)
    return details
