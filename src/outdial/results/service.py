"""Call-result query rules (seed 003): filters, paging limits, the date range and its codes.

Decisions: pageSize defaults to 100 with showDetail 1 and 500 with showDetail 0 (the maxima); pageNum
starts at 1; beginTime/endTime are days read in the campaign's zone, and endTime's day is included
(beginTime 2026-11-01, endTime 2026-11-30 covers [11-01 00:00, 12-01 00:00) local); begin must be strictly
before end and at most 30 days apart. Calls are matched on their local_day (the campaign's local date).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from outdial import errors, validation
from outdial.errors import ApiError
from outdial.results import repository
from outdial.results.outbox import result_item


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
    if not isinstance(text, str) or len(text) != 10:
        raise ApiError(errors.BAD_TIME_FORMAT_RESULT, f"{path} must be YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ApiError(errors.BAD_TIME_FORMAT_RESULT, f"{path} must be YYYY-MM-DD") from exc


def parse_query(body: dict[str, Any]) -> ResultQuery:
    """Pure: validate the request body into a ResultQuery (raises ApiError with the seed's codes)."""
    show_detail = validation.optional_int(body, "showDetail", lo=0, hi=1)
    show_detail = 0 if show_detail is None else show_detail
    limit = 100 if show_detail == 1 else 500
    page_size = validation.optional_int(body, "pageSize", lo=1, hi=limit) or limit
    page_num = validation.optional_int(body, "pageNum", lo=1) or 1
    session_id = validation.optional_str(body, "sessionId", max_len=32)
    custom_field = validation.optional_str(body, "customField", max_len=200)
    begin, end = body.get("beginTime"), body.get("endTime")
    if validation.is_blank(begin) != validation.is_blank(end):
        raise ApiError(errors.BOTH_OR_NEITHER, "beginTime and endTime must be given together")
    first_day = last_day = None
    if not validation.is_blank(begin):
        first, last = _day(begin, "beginTime"), _day(end, "endTime")
        if first >= last:
            raise ApiError(errors.BEGIN_NOT_BEFORE_END, "beginTime must be before endTime")
        if (last - first).days > 30:
            raise ApiError(errors.RANGE_TOO_LONG, "beginTime and endTime are more than 30 days apart")
        first_day, last_day = first.isoformat(), last.isoformat()
    return ResultQuery(show_detail, page_size, page_num, session_id, custom_field, first_day, last_day)


def query_results(conn: Connection, vdn_id: int, campaign_id: int, body: dict[str, Any]) -> dict[str, Any]:
    query = parse_query(body)
    zone = repository.campaign_zone(conn, vdn_id, campaign_id)
    if zone is None:
        raise ApiError(errors.NOT_FOUND, f"campaignId {campaign_id} does not exist")
    total, rows = repository.find_results(conn, campaign_id, query)
    data = [result_item(row._mapping, campaign_id=campaign_id, vdn_id=vdn_id, zone=zone) for row in rows]
    return {"totalCount": total, "data": data}
