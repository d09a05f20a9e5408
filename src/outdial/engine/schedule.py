"""When may a campaign dial: its period, its daily segments and its holidays. Pure functions.

Decisions (recorded in docs/scheduling-and-retry.md):
- A segment "HH:mm"-"HH:mm" includes its end minute: 09:00-11:59 is open until 12:00:00 local, and
  00:00-23:59 covers the whole day.
- A segment whose begin is after its end (crossing midnight) is refused (ValueError): write it as two
  segments, 22:00-23:59 and 00:00-05:59 (the stretches join with no gap).
- Segments are local wall-clock times in the campaign's zone. On a spring-forward day a wall time that does
  not exist maps to the first real instant after the gap (the segment is shorter); on a fall-back day the
  repeated hour is inside any segment that spans it (the segment is an hour longer). Both follow zoneinfo.
- A holiday date uses the holiday segments; if none are set, a holiday is closed all day.
- The campaign period is [strBeginTime, strEndTime], both ends inclusive to the millisecond.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

Segment = tuple[int, int]  # minutes since local midnight: [begin, end) with end = end minute + 1


@dataclass(frozen=True, slots=True)
class HolidayRule:
    type: int  # 1 weekdays, 2 date range yyyy-MM-dd, 3 yearly MM-dd range
    week: frozenset[int] = frozenset()  # 1 = Monday .. 7 = Sunday (type 1)
    begin: str | None = None  # "yyyy-MM-dd" (type 2) or "MM-dd" (type 3)
    end: str | None = None

    def covers(self, day: date) -> bool:
        if self.type == 1:
            return day.isoweekday() in self.week
        if self.type == 2 and self.begin and self.end:
            return self.begin <= day.isoformat() <= self.end
        if self.type == 3 and self.begin and self.end:
            md = day.strftime("%m-%d")
            if self.begin <= self.end:
                return self.begin <= md <= self.end
            return md >= self.begin or md <= self.end  # e.g. 12-24..01-02 wraps the new year
        return False


def holiday_rules(rows: Iterable[Mapping[str, Any]]) -> tuple[HolidayRule, ...]:
    """Rules from API bodies (type/week/beginTime/endTime) or table rows (type/week/begin_date/end_date)."""
    rules = []
    for row in rows:
        week = frozenset(int(w) for w in str(row.get("week") or "").replace(" ", "").split(",") if w)
        rules.append(
            HolidayRule(
                type=int(row["type"]),
                week=week,
                begin=row.get("beginTime") or row.get("begin_date"),
                end=row.get("endTime") or row.get("end_date"),
            )
        )
    return tuple(rules)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    h, m = int(hours), int(minutes)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError(f"not a time of day: {hhmm!r}")
    return h * 60 + m


def segments(schedule_param: Mapping[str, str | None], kind: str) -> tuple[Segment, ...]:
    """The merged, sorted segments of `kind` ("workday" or "holiday")."""
    found: list[Segment] = []
    for i in (1, 2, 3):
        begin, end = schedule_param.get(f"{kind}BeginTime{i}"), schedule_param.get(f"{kind}EndTime{i}")
        if not begin or not end:
            continue
        b, e = _minutes(begin), _minutes(end)
        if b > e:
            raise ValueError(f"{kind} segment {i} crosses midnight ({begin}-{end}); split it in two")
        found.append((b, e + 1))
    found.sort()
    merged: list[Segment] = []
    for b, e in found:
        if merged and b <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((b, e))
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class DialWindow:
    zone: ZoneInfo
    begin_ms: int
    end_ms: int  # inclusive
    workday: tuple[Segment, ...]
    holiday: tuple[Segment, ...]
    holidays: tuple[HolidayRule, ...] = ()

    @classmethod
    def build(
        cls,
        zone: ZoneInfo | str,
        begin_ms: int,
        end_ms: int,
        schedule_param: Mapping[str, str | None],
        holidays: Iterable[Mapping[str, Any]] | Sequence[HolidayRule] = (),
    ) -> DialWindow:
        z = ZoneInfo(zone) if isinstance(zone, str) else zone
        hs = list(holidays)
        rules = tuple(h for h in hs if isinstance(h, HolidayRule)) or holiday_rules(
            cast(Mapping[str, Any], h) for h in hs if not isinstance(h, HolidayRule)
        )
        return cls(
            z,
            begin_ms,
            end_ms,
            segments(schedule_param, "workday"),
            segments(schedule_param, "holiday"),
            rules,
        )

    def is_holiday(self, day: date) -> bool:
        return any(rule.covers(day) for rule in self.holidays)

    def _instant(self, day: date, minute: int) -> int:
        local = datetime.combine(day, time()) + timedelta(minutes=minute)  # 1440 -> next midnight
        return int(local.replace(tzinfo=self.zone).timestamp() * 1000)

    def _day_intervals(self, day: date) -> list[tuple[int, int]]:
        segs = self.holiday if self.is_holiday(day) else self.workday
        out = []
        for b, e in segs:
            start = max(self._instant(day, b), self.begin_ms)
            stop = min(self._instant(day, e), self.end_ms + 1)
            if start < stop:
                out.append((start, stop))
        return out

    def intervals_from(self, now_ms: int) -> Iterable[tuple[int, int]]:
        """Open stretches [start, stop) that end after now, in order, adjacent ones joined."""
        start_ms = max(now_ms, self.begin_ms)
        if start_ms > self.end_ms:
            return
        day = datetime.fromtimestamp(start_ms / 1000, self.zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(self.end_ms / 1000, self.zone).date()
        pending: tuple[int, int] | None = None
        while day <= last:
            for a, b in self._day_intervals(day):
                if b <= now_ms:
                    continue
                if pending is not None and a <= pending[1]:
                    pending = (pending[0], max(pending[1], b))
                    continue
                if pending is not None:
                    yield pending
                pending = (a, b)
            day += timedelta(days=1)
        if pending is not None:
            yield pending


def is_open(now_ms: int, window: DialWindow) -> bool:
    first = next(iter(window.intervals_from(now_ms)), None)
    return first is not None and first[0] <= now_ms


def next_open(now_ms: int, window: DialWindow) -> int | None:
    """The first instant >= now when dialing is allowed; None if never again before the campaign ends."""
    first = next(iter(window.intervals_from(now_ms)), None)
    return None if first is None else max(first[0], now_ms)


def open_until(now_ms: int, window: DialWindow) -> int:
    """The end (exclusive) of the open stretch containing now; now itself when closed."""
    first = next(iter(window.intervals_from(now_ms)), None)
    if first is None or first[0] > now_ms:
        return now_ms
    return first[1]
