"""Blacklist rules, pure: the bodies of blocklist/add, /delete and /query, and whether a blacklisted number
may be called now (reference isales-api.md section 6).

Decisions the public material leaves open (the docs must record them):
- No validity at all (neither validityTime nor validityExpirationTime): the entry is PERMANENT; it lasts
  until blocklist/delete (or DELETE …/blocklist) removes it. `expires_at` is then None.
- validityExpirationTime wins when both are sent: validityTime and validityTimeUnit are then ignored,
  not even validated (some clients send a placeholder such as 0 in the field they do not use).
- validityTime is 1-120 in its unit, validityTimeUnit 1 year, 2 month, 3 day, 4 hour (default 4). Hours
  are elapsed time (now + N h). Days, months and years are calendar steps in the zone, keeping the wall
  clock time (2026-01-31 10:00 + 1 month = 2026-02-28 10:00); a wall time that does not exist that day
  (daylight saving gap) is read with the offset before the gap. validityTimeUnit without validityTime is
  validated and ignored.
- validityExpirationTime is "yyyy-MM-dd HH:mm:ss" in the zone given (0200030 when malformed or not a
  real date, the code of a bad time in the add-numbers document) and must be after now (02000007).
- An entry with an expiry ends AT that instant: from `expires_at` on, the number may be called.
- restrictTimes (1-100) and restrictPeriod ("0" hour, "1" day; a JSON number 0/1 is taken as its text)
  come together or not at all (02000009). Without them a blacklisted number is never called.
- Periods are CALENDAR hours and days of the zone (the reference's example: one call allowed per hour,
  a call at 10:06:25 allows the next one from 11:00:00, not from 11:06:25). Every recorded call inside
  the current period counts, whatever its result.
- Numbers follow the called-number rule of calldata/records.py (1-24 of 0-9 * #, the same codes). A list
  missing or empty is 02000001, not a list 02000006, over 20 numbers 0200029, a number twice 0200018.
- isCoverDupNo: 0 (default) keeps an existing entry as it is, 1 overwrites it. The "already blacklisted"
  answer (0200007) needs the database, so it is the service's, not this module's.
- blocklist/query: `blocklist` (1-20 numbers; repeated numbers are answered once) wins over paging when
  both are sent; otherwise `offset` (0 or more rows to skip) and `limit` (1-100) are both required.
  Over 20 numbers is 0200029, as on blocklist/add.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from outdial import errors
from outdial.calldata.records import Problem, called_problem
from outdial.calldata.records import recycle_time_problem as local_time_problem
from outdial.errors import ApiError
from outdial.validation import as_object, fail, optional_int, optional_str, str_value

MAX_NUMBERS = 20
MIN_VALIDITY, MAX_VALIDITY = 1, 120
UNIT_YEAR, UNIT_MONTH, UNIT_DAY, UNIT_HOUR = 1, 2, 3, 4
MIN_RESTRICT_TIMES, MAX_RESTRICT_TIMES = 1, 100
PER_HOUR, PER_DAY = "0", "1"
MAX_QUERY_LIMIT = 100

_HOUR_MS = 3_600_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class BlocklistAdd:
    numbers: tuple[str, ...]
    expires_at: int | None  # epoch ms UTC; None: permanent
    restrict_times: int | None  # with restrict_period, or both None
    restrict_period: str | None  # "0" per hour, "1" per day
    cover_existing: bool  # isCoverDupNo 1: overwrite an existing entry of the same number


@dataclass(frozen=True, slots=True)
class BlocklistQuery:
    numbers: tuple[str, ...] | None  # the numbers asked about, or None for a page of the whole list
    offset: int
    limit: int


class BlacklistEntryLike(Protocol):
    """What may_call reads: a BlacklistEntry, or a row of the `blacklist` table (same column names)."""

    @property
    def expires_at(self) -> int | None: ...

    @property
    def restrict_times(self) -> int | None: ...

    @property
    def restrict_period(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class BlacklistEntry:
    number: str
    expires_at: int | None = None
    restrict_times: int | None = None
    restrict_period: str | None = None


# ---------------------------------------------------------------- bodies


def _raise(problem: Problem, path: str) -> ApiError:
    return fail(problem[0], path, problem[1])


def _number(value: Any, path: str) -> str:
    text = "" if value is None else str_value(value, path)  # a JSON number is its digits
    if problem := called_problem(text):
        raise _raise(problem, path)
    return text


def _numbers(value: Any, path: str, *, duplicates_allowed: bool) -> tuple[str, ...]:
    if value is None:
        raise fail(errors.EMPTY, path, "is required")
    if not isinstance(value, list):
        raise fail(errors.WRONG_TYPE, path, "must be a JSON array")
    if not value:
        raise fail(errors.EMPTY, path, "must hold at least one number")
    if len(value) > MAX_NUMBERS:
        raise ApiError(
            errors.TOO_MANY_RECORDS, f"{path} holds {len(value)} numbers; at most {MAX_NUMBERS} at a time"
        )
    first: dict[str, int] = {}
    for index, item in enumerate(value):
        number = _number(item, f"{path}[{index}]")
        if number in first:
            if duplicates_allowed:
                continue
            raise ApiError(
                errors.DUPLICATE_NUMBERS, f"{path}[{index}] {number} is also {path}[{first[number]}]"
            )
        first[number] = index
    return tuple(first)


def _local_ms(local: datetime, zone: ZoneInfo) -> int:
    """A naive wall-clock time of `zone` as epoch ms (fold 0: the first of a repeated time)."""
    return (local.replace(tzinfo=zone, fold=0) - _EPOCH) // _MS


def _local(at_ms: int, zone: ZoneInfo) -> datetime:
    # Arithmetic in UTC, then conversion: the zone's offset and fold are those of that instant.
    return (_EPOCH + timedelta(milliseconds=at_ms)).astimezone(zone)


def _plus_calendar(local: datetime, unit: int, amount: int) -> datetime:
    """Naive wall time plus whole years, months or days; a day past the month's end becomes its last."""
    if unit == UNIT_DAY:
        return local + timedelta(days=amount)
    months = local.month - 1 + amount * (12 if unit == UNIT_YEAR else 1)
    year, month = local.year + months // 12, months % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def _expiry(body: dict[str, Any], now_ms: int, zone: ZoneInfo) -> int | None:
    when = optional_str(body, "validityExpirationTime")
    if when is not None:
        if problem := local_time_problem(when):
            raise _raise(problem, "validityExpirationTime")
        expires_at = _local_ms(datetime.strptime(when, "%Y-%m-%d %H:%M:%S"), zone)
        if expires_at <= now_ms:
            raise fail(errors.WRONG_VALUE, "validityExpirationTime", "must be in the future")
        return expires_at
    amount = optional_int(body, "validityTime", lo=MIN_VALIDITY, hi=MAX_VALIDITY)
    unit = optional_int(body, "validityTimeUnit", lo=UNIT_YEAR, hi=UNIT_HOUR)
    if amount is None:
        return None  # permanent
    if unit is None or unit == UNIT_HOUR:
        return now_ms + amount * _HOUR_MS
    local = _local(now_ms, zone).replace(tzinfo=None)
    return _local_ms(_plus_calendar(local, unit, amount), zone)


def _restriction(body: dict[str, Any]) -> tuple[int | None, str | None]:
    times = optional_int(body, "restrictTimes", lo=MIN_RESTRICT_TIMES, hi=MAX_RESTRICT_TIMES)
    period = optional_str(body, "restrictPeriod")
    if period is not None and period not in (PER_HOUR, PER_DAY):
        raise fail(errors.WRONG_VALUE, "restrictPeriod", 'must be "0" (per hour) or "1" (per day)')
    if (times is None) != (period is None):
        raise fail(errors.BAD_COMBINATION, "restrictTimes", "and restrictPeriod must be given together")
    return times, period


def parse_blocklist_add(body: object, *, now_ms: int, tz: str) -> BlocklistAdd:
    """Validate a blocklist/add body, or raise ApiError. `tz` reads validityExpirationTime and the
    calendar units of validityTime."""
    data = as_object(body, "request body")
    zone = ZoneInfo(tz)
    numbers = _numbers(data.get("blocklist"), "blocklist", duplicates_allowed=False)
    expires_at = _expiry(data, now_ms, zone)
    times, period = _restriction(data)
    cover = optional_int(data, "isCoverDupNo", lo=0, hi=1)
    return BlocklistAdd(
        numbers=numbers,
        expires_at=expires_at,
        restrict_times=times,
        restrict_period=period,
        cover_existing=cover == 1,
    )


def parse_blocklist_delete(body: object) -> str:
    """The number of a blocklist/delete body {"blocklistNo": "…"}, or raise ApiError."""
    data = as_object(body, "request body")
    value = data.get("blocklistNo")
    return _number("" if value is None else value, "blocklistNo")


def parse_blocklist_query(body: object) -> BlocklistQuery:
    """A blocklist/query body: the numbers asked about, or a page (offset, limit); or raise ApiError."""
    data = as_object(body, "request body")
    if data.get("blocklist") is not None:
        numbers = _numbers(data["blocklist"], "blocklist", duplicates_allowed=True)
        return BlocklistQuery(numbers=numbers, offset=0, limit=len(numbers))
    offset = optional_int(data, "offset", lo=0)
    limit = optional_int(data, "limit", lo=1, hi=MAX_QUERY_LIMIT)
    if offset is None:
        raise fail(errors.EMPTY, "offset", "is required (or blocklist)")
    if limit is None:
        raise fail(errors.EMPTY, "limit", "is required (or blocklist)")
    return BlocklistQuery(numbers=None, offset=offset, limit=limit)


# ---------------------------------------------------------------- may this number be called now?


def period_bounds(at_ms: int, period: str, tz: str) -> tuple[int, int]:
    """[start, end) in epoch ms of the calendar hour ("0") or day ("1") of `tz` holding `at_ms`."""
    zone = ZoneInfo(tz)
    local = _local(at_ms, zone)
    if period == PER_HOUR:
        start_local = local.replace(minute=0, second=0, microsecond=0)  # keeps fold: a repeated hour
        start = (start_local - _EPOCH) // _MS
        # The next wall-clock hour starts an hour later, or sooner where a daylight saving change of
        # half an hour cuts the hour short.
        after = _local(start + _HOUR_MS, zone).replace(minute=0, second=0, microsecond=0)
        end = (after - _EPOCH) // _MS
        return start, end if end > start else start + _HOUR_MS
    if period == PER_DAY:
        day = local.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
        return _local_ms(day, zone), _local_ms(day + timedelta(days=1), zone)
    raise ValueError(f"unknown restrictPeriod {period!r}")


def _is_active(entry: BlacklistEntryLike | None, now_ms: int) -> bool:
    return entry is not None and (entry.expires_at is None or entry.expires_at > now_ms)


def may_call(
    entry: BlacklistEntryLike | None, previous_call_times_ms: Iterable[int], now_ms: int, tz: str
) -> bool:
    """True when the number may be called at `now_ms`: it is not blacklisted (entry None, or expired), or
    its restriction allows fewer than restrictTimes calls per calendar period and fewer were made in
    the current one. `previous_call_times_ms` are the instants of this number's earlier calls."""
    if not _is_active(entry, now_ms):
        return True
    assert entry is not None
    times, period = entry.restrict_times, entry.restrict_period
    if times is None or period is None:
        return False
    start, end = period_bounds(now_ms, period, tz)
    made = sum(1 for at in previous_call_times_ms if start <= at < end)
    return made < times


def next_allowed_at(
    entry: BlacklistEntryLike | None, previous_call_times_ms: Iterable[int], now_ms: int, tz: str
) -> int | None:
    """The first instant from `now_ms` on when may_call is true, assuming no further calls; None when
    never (a permanent entry without a restriction)."""
    calls = sorted(previous_call_times_ms)
    if may_call(entry, calls, now_ms, tz):
        return now_ms
    assert entry is not None
    expires_at = entry.expires_at
    times, period = entry.restrict_times, entry.restrict_period
    if times is None or period is None:
        return expires_at
    at = now_ms
    # Each step moves to the next period; calls recorded in a later period (clock skew between workers)
    # can refuse a few periods more, so the loop is bounded by their number.
    for _ in range(len(calls) + 2):
        at = period_bounds(at, period, tz)[1]
        if expires_at is not None and expires_at <= at:
            return expires_at
        if may_call(entry, calls, at, tz):
            return at
    return at
