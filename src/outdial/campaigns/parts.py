"""Pure checks of the smaller campaign interfaces: holidays, calling numbers, the list query. Each raises
ApiError with the code of the failure's kind and a resultDesc that starts with the field path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from outdial import errors
from outdial import validation as v
from outdial.campaigns.repository import CampaignFilter
from outdial.campaigns.status import COMPLETED, EXECUTING, PAUSED, PUBLISHED
from outdial.clock import from_datetime

MAX_CALLERS = 100
MAX_HOLIDAYS = 20
DEVICE_TYPES = (1, 2, 3, 5, 6)
_DIGITS = re.compile(r"\d+")

# --- calling numbers ------------------------------------------------------------------------------------


def parse_callers(body: dict[str, Any], *, with_priority: bool) -> list[tuple[str, int]]:
    """{"callerNo": [{"accessCode", "priority"}]} as [(accessCode, priority)] in the order given; without
    priority (the DELETE form) each priority is 0."""
    items = body.get("callerNo")
    if items is None or items == []:
        raise v.fail(errors.EMPTY, "callerNo", "is required")
    items = v.as_list(items, "callerNo")
    if len(items) > MAX_CALLERS:
        raise v.fail(errors.TOO_MANY, "callerNo", f"may hold at most {MAX_CALLERS} numbers")
    parsed: list[tuple[str, int]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        path = f"callerNo[{i}]"
        obj = v.as_object(item, path)
        code = v.require_str(
            obj, "accessCode", f"{path}.accessCode", max_len=32, allowed=_DIGITS, allowed_desc="digits"
        )
        priority = v.require_int(obj, "priority", f"{path}.priority", lo=1, hi=5) if with_priority else 0
        if code in seen:
            raise v.fail(errors.BAD_COMBINATION, f"{path}.accessCode", f"{code} is given twice")
        seen.add(code)
        parsed.append((code, priority))
    return parsed


# --- holidays -------------------------------------------------------------------------------------------

WEEKDAY, DATE_RANGE, YEARLY_RANGE = 1, 2, 3


@dataclass(frozen=True, slots=True)
class Holiday:
    name: str
    type: int
    week: str | None  # type 1: "1".."7" (1 Monday), sorted, comma-separated
    begin_date: str | None  # type 2: yyyy-MM-dd; type 3: MM-dd
    end_date: str | None

    def columns(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "week": self.week,
            "begin_date": self.begin_date,
            "end_date": self.end_date,
        }


def _parse_date(text: str, path: str, yearly: bool) -> date:
    shape = r"\d{2}-\d{2}" if yearly else r"\d{4}-\d{2}-\d{2}"
    if not re.fullmatch(shape, text):
        raise v.fail(errors.BAD_TIME_FORMAT, path, f"must be formatted {'MM-dd' if yearly else 'yyyy-MM-dd'}")
    try:
        # 2000 is a leap year, so "02-29" is a valid yearly date.
        return date.fromisoformat(("2000-" + text) if yearly else text)
    except ValueError:
        raise v.fail(errors.BAD_TIME_FORMAT, path, f"{text} is not a date") from None


def parse_holiday(body: dict[str, Any]) -> Holiday:
    name = v.require_str(body, "name", max_len=30)
    kind = v.require_int(body, "type")
    if kind not in (WEEKDAY, DATE_RANGE, YEARLY_RANGE):
        raise v.fail(errors.WRONG_VALUE, "type", "must be 1 (weekdays), 2 (date range) or 3 (yearly dates)")
    if kind == WEEKDAY:
        text = v.require_str(body, "week", max_len=20)
        days: set[int] = set()
        for part in text.split(","):
            part = part.strip()
            if part not in ("1", "2", "3", "4", "5", "6", "7"):
                raise v.fail(errors.WRONG_VALUE, "week", 'must list weekdays 1 (Monday) to 7, e.g. "6,7"')
            days.add(int(part))
        return Holiday(name, kind, ",".join(str(d) for d in sorted(days)), None, None)
    yearly = kind == YEARLY_RANGE
    begin_text = v.require_str(body, "beginTime")
    end_text = v.require_str(body, "endTime")
    begin = _parse_date(begin_text, "beginTime", yearly)
    end = _parse_date(end_text, "endTime", yearly)
    # A yearly range may wrap the year end (12-24 to 01-02); a dated range may not run backwards.
    if not yearly and begin > end:
        raise v.fail(errors.BEGIN_NOT_BEFORE_END, "beginTime", "must not be after endTime")
    return Holiday(name, kind, None, begin_text, end_text)


def holiday_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "type": row.type,
        "week": row.week,
        "beginTime": row.begin_date,
        "endTime": row.end_date,
    }


# --- list query -----------------------------------------------------------------------------------------

DEFAULT_ROWS = 10
MAX_ROWS = 100
LIST_STATUSES = {0: None, PUBLISHED: PUBLISHED, EXECUTING: EXECUTING, PAUSED: PAUSED, COMPLETED: COMPLETED}


@dataclass(frozen=True, slots=True)
class ListQuery:
    where: CampaignFilter
    page: int
    rows: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.rows


def _query_int(query: dict[str, str], key: str) -> int | None:
    value = query.get(key)
    if value is None or value.strip() == "":
        return None
    return v.int_value(value, key)


def _query_time(query: dict[str, str], key: str, zone: ZoneInfo) -> int | None:
    text = query.get(key)
    if text is None or text.strip() == "":
        return None
    local = v.parse_local_datetime(text.strip(), key, errors.BAD_TIME_FORMAT)
    return from_datetime(local.replace(tzinfo=zone))


def parse_list_query(query: dict[str, str], server_zone: str) -> ListQuery:
    """The list's query parameters. beginTime/endTime are 'yyyy-MM-dd HH:mm:ss' in the server's zone."""
    status = _query_int(query, "status")
    if status is not None and status not in LIST_STATUSES:
        raise v.fail(errors.WRONG_VALUE, "status", "must be 0 (all), 1, 2, 3 or 4")
    device_type = _query_int(query, "deviceType")
    if device_type is not None and device_type != 0 and device_type not in DEVICE_TYPES:
        raise v.fail(errors.WRONG_VALUE, "deviceType", "must be 0 (all), 1, 2, 3, 5 or 6")
    zone = ZoneInfo(server_zone)
    begin_from = _query_time(query, "beginTime", zone)
    end_until = _query_time(query, "endTime", zone)
    page = _query_int(query, "curPage")
    rows = _query_int(query, "rowsPerPage")
    name = query.get("name") or None
    if name is not None:
        v.check_text(name, "name", max_len=32)
    return ListQuery(
        CampaignFilter(
            name=name,
            status=LIST_STATUSES[status] if status is not None else None,
            device_type=device_type or None,
            begin_from=begin_from,
            end_until=end_until,
        ),
        page=max(page or 1, 1),
        rows=DEFAULT_ROWS if rows is None or rows < 1 else min(rows, MAX_ROWS),
    )


def format_local(at_ms: int, zone: str) -> str:
    return datetime.fromtimestamp(at_ms / 1000, ZoneInfo(zone)).strftime(v.DATETIME_FORMAT)
