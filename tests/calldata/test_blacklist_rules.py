"""Blacklist rules: blocklist/add, /delete and /query bodies with their codes and paths, and when a
blacklisted number may be called (calendar hours and days of the zone, the reference's example)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outdial import errors
from outdial.calldata.blacklist_rules import (
    BlacklistEntry,
    BlocklistAdd,
    BlocklistQuery,
    may_call,
    next_allowed_at,
    parse_blocklist_add,
    parse_blocklist_delete,
    parse_blocklist_query,
    period_bounds,
)
from outdial.errors import ApiError

SHANGHAI = "Asia/Shanghai"  # UTC+8 all year
NEW_YORK = "America/New_York"  # 2026: summer time from 2026-03-08 02:00, back on 2026-11-01 02:00
HOUR = 3_600_000


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    return int(datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp()) * 1000


def local(text: str, tz: str = SHANGHAI) -> int:
    """'yyyy-MM-dd HH:mm:ss' in `tz` (first occurrence of a repeated time) as epoch ms."""
    when = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo(tz))
    return int(when.timestamp()) * 1000


NOW = local("2026-11-23 10:00:00")  # = 2026-11-23 02:00:00 UTC


def add(body: dict, now_ms: int = NOW, tz: str = SHANGHAI) -> BlocklistAdd:
    return parse_blocklist_add(body, now_ms=now_ms, tz=tz)


def add_refused(body: object, now_ms: int = NOW, tz: str = SHANGHAI) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_blocklist_add(body, now_ms=now_ms, tz=tz)
    return caught.value


def test_local_helper_is_what_the_tests_assume():
    assert utc(2026, 11, 23, 2) == NOW
    assert local("2026-07-01 12:00:00", NEW_YORK) == utc(2026, 7, 1, 16)  # EDT, UTC-4
    assert local("2026-12-01 12:00:00", NEW_YORK) == utc(2026, 12, 1, 17)  # EST, UTC-5


# ---------------------------------------------------------------- blocklist/add: numbers


def test_numbers_alone_make_a_permanent_unrestricted_entry():
    assert add({"blocklist": ["13800000001", "*86#"]}) == BlocklistAdd(
        numbers=("13800000001", "*86#"),
        expires_at=None,
        restrict_times=None,
        restrict_period=None,
        cover_existing=False,
    )


@pytest.mark.parametrize("body", [{}, {"blocklist": None}])
def test_the_list_is_required(body):
    error = add_refused(body)
    assert (error.code, error.desc) == (errors.EMPTY, "blocklist is required")


def test_an_empty_list_is_empty_and_a_non_list_is_the_wrong_type():
    assert add_refused({"blocklist": []}).code == errors.EMPTY
    assert add_refused({"blocklist": "138"}).code == errors.WRONG_TYPE
    assert add_refused(["138"]).code == errors.WRONG_TYPE


def test_twenty_numbers_pass_and_twenty_one_are_too_many():
    assert len(add({"blocklist": [str(100 + i) for i in range(20)]}).numbers) == 20
    error = add_refused({"blocklist": [str(100 + i) for i in range(21)]})
    assert error.code == errors.TOO_MANY_RECORDS == "0200029"


def test_a_number_twice_is_a_duplicate():
    error = add_refused({"blocklist": ["138", "139", "138"]})
    assert (error.code, error.desc) == (errors.DUPLICATE_NUMBERS, "blocklist[2] 138 is also blocklist[0]")


@pytest.mark.parametrize(
    ("number", "code", "message"),
    [
        ("12a", errors.INVALID_CHARS, "may contain only digits, * and #"),
        ("+86138", errors.INVALID_CHARS, "may contain only digits, * and #"),
        ("1" * 25, errors.TOO_LONG, "must be at most 24 characters long"),
        ("", errors.EMPTY, "is required"),
        (None, errors.EMPTY, "is required"),
    ],
)
def test_each_number_follows_the_called_number_rule(number, code, message):
    error = add_refused({"blocklist": ["138", number]})
    assert (error.code, error.desc) == (code, f"blocklist[1] {message}")


def test_a_number_may_be_a_json_number_and_24_characters_pass():
    assert add({"blocklist": [13800000001, "1" * 24]}).numbers == ("13800000001", "1" * 24)


# ---------------------------------------------------------------- blocklist/add: validity


@pytest.mark.parametrize(
    ("hours", "expected"), [(1, NOW + HOUR), (120, NOW + 120 * HOUR), ("5", NOW + 5 * HOUR)]
)
def test_validity_time_is_hours_by_default(hours, expected):
    assert add({"blocklist": ["1"], "validityTime": hours}).expires_at == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (0, errors.WRONG_VALUE),
        (121, errors.WRONG_VALUE),
        ("ten", errors.WRONG_TYPE),
        (1.5, errors.WRONG_TYPE),
    ],
)
def test_validity_time_is_a_whole_number_from_1_to_120(value, code):
    error = add_refused({"blocklist": ["1"], "validityTime": value})
    assert error.code == code
    assert error.desc.startswith("validityTime ")


def test_hours_are_elapsed_time_across_a_daylight_saving_change():
    # 2026-03-08 01:30 EST plus 1 hour is 03:30 EDT: the clock jumps from 02:00 to 03:00.
    now = local("2026-03-08 01:30:00", NEW_YORK)
    body = {"blocklist": ["1"], "validityTime": 1, "validityTimeUnit": 4}
    assert add(body, now, NEW_YORK).expires_at == local("2026-03-08 03:30:00", NEW_YORK) == now + HOUR


def test_days_are_calendar_days_keeping_the_wall_clock():
    # 2026-03-07 12:00 EST + 1 day = 2026-03-08 12:00 EDT, only 23 hours later.
    now = local("2026-03-07 12:00:00", NEW_YORK)
    expires = add({"blocklist": ["1"], "validityTime": 1, "validityTimeUnit": 3}, now, NEW_YORK).expires_at
    assert expires == utc(2026, 3, 8, 16) == now + 23 * HOUR


@pytest.mark.parametrize(
    ("now", "unit", "amount", "expected"),
    [
        ("2026-01-31 10:00:00", 2, 1, "2026-02-28 10:00:00"),  # no 31 February: the month's last day
        ("2028-01-31 10:00:00", 2, 1, "2028-02-29 10:00:00"),  # leap year
        ("2026-11-23 10:00:00", 2, 14, "2028-01-23 10:00:00"),  # across a year end
        ("2028-02-29 10:00:00", 1, 1, "2029-02-28 10:00:00"),
        ("2026-11-23 10:00:00", 1, 120, "2146-11-23 10:00:00"),
        ("2026-11-23 10:00:00", 3, 120, "2027-03-23 10:00:00"),  # 8 + 31 + 31 + 28 + 22 days
    ],
)
def test_months_and_years_are_calendar_steps(now, unit, amount, expected):
    body = {"blocklist": ["1"], "validityTime": amount, "validityTimeUnit": unit}
    assert add(body, local(now)).expires_at == local(expected)


@pytest.mark.parametrize("unit", [0, 5, "x"])
def test_an_unknown_unit_is_refused(unit):
    error = add_refused({"blocklist": ["1"], "validityTime": 1, "validityTimeUnit": unit})
    assert error.desc.startswith("validityTimeUnit ")
    assert error.code in (errors.WRONG_VALUE, errors.WRONG_TYPE)


def test_an_expiration_time_is_local_to_the_zone():
    body = {"blocklist": ["1"], "validityExpirationTime": "2026-11-24 10:00:00"}
    assert add(body).expires_at == utc(2026, 11, 24, 2)
    assert add(body, tz="UTC").expires_at == utc(2026, 11, 24, 10)


def test_the_expiration_time_wins_and_validity_time_is_then_ignored():
    body = {
        "blocklist": ["1"],
        "validityTime": 999,
        "validityTimeUnit": 9,
        "validityExpirationTime": "2026-11-23 12:00:00",
    }
    assert add(body).expires_at == NOW + 2 * HOUR


@pytest.mark.parametrize("when", ["2026-11-23 10:00:00", "2026-11-23 09:59:59", "2020-01-01 00:00:00"])
def test_an_expiration_time_not_in_the_future_is_a_wrong_value(when):
    error = add_refused({"blocklist": ["1"], "validityExpirationTime": when})
    assert (error.code, error.desc) == (errors.WRONG_VALUE, "validityExpirationTime must be in the future")


@pytest.mark.parametrize(
    "when", ["2026-11-24", "2026-11-24T10:00:00", "2027-02-29 10:00:00", "2026-11-24 25:00:00"]
)
def test_a_malformed_or_unreal_expiration_time_is_a_time_format_error(when):
    error = add_refused({"blocklist": ["1"], "validityExpirationTime": when})
    assert error.code == errors.BAD_TIME_FORMAT == "0200030"
    assert error.desc.startswith("validityExpirationTime ")


def test_one_second_after_now_is_in_the_future():
    body = {"blocklist": ["1"], "validityExpirationTime": "2026-11-23 10:00:01"}
    assert add(body).expires_at == NOW + 1000


# ---------------------------------------------------------------- blocklist/add: restriction, cover


@pytest.mark.parametrize(("times", "period"), [(1, "0"), (100, "1"), ("3", 0), (2, 1)])
def test_restrict_times_and_period_together(times, period):
    entry = add({"blocklist": ["1"], "restrictTimes": times, "restrictPeriod": period})
    assert (entry.restrict_times, entry.restrict_period) == (int(times), str(period))


@pytest.mark.parametrize(
    "body", [{"restrictTimes": 1}, {"restrictPeriod": "0"}, {"restrictTimes": 2, "restrictPeriod": ""}]
)
def test_restrict_times_and_period_are_both_or_neither(body):
    error = add_refused({"blocklist": ["1"], **body})
    assert error.code == errors.BAD_COMBINATION == "02000009"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"restrictTimes": 0, "restrictPeriod": "0"}, "restrictTimes"),
        ({"restrictTimes": 101, "restrictPeriod": "0"}, "restrictTimes"),
        ({"restrictTimes": 1, "restrictPeriod": "2"}, "restrictPeriod"),
        ({"restrictTimes": 1, "restrictPeriod": "hour"}, "restrictPeriod"),
    ],
)
def test_restrict_values_out_of_range_are_wrong_values(body, field):
    error = add_refused({"blocklist": ["1"], **body})
    assert error.code == errors.WRONG_VALUE
    assert error.desc.startswith(field + " ")


@pytest.mark.parametrize(("value", "cover"), [(0, False), (1, True), ("1", True), (None, False)])
def test_is_cover_dup_no(value, cover):
    assert add({"blocklist": ["1"], "isCoverDupNo": value}).cover_existing is cover


def test_is_cover_dup_no_is_0_or_1():
    assert add_refused({"blocklist": ["1"], "isCoverDupNo": 2}).code == errors.WRONG_VALUE


# ---------------------------------------------------------------- delete and query


def test_delete_takes_one_number():
    assert parse_blocklist_delete({"blocklistNo": "13800000001"}) == "13800000001"
    assert parse_blocklist_delete({"blocklistNo": 138}) == "138"


@pytest.mark.parametrize(
    ("body", "code", "desc"),
    [
        ({}, errors.EMPTY, "blocklistNo is required"),
        ({"blocklistNo": ""}, errors.EMPTY, "blocklistNo is required"),
        ({"blocklistNo": "12a"}, errors.INVALID_CHARS, "blocklistNo may contain only digits, * and #"),
        ({"blocklistNo": "1" * 25}, errors.TOO_LONG, "blocklistNo must be at most 24 characters long"),
    ],
)
def test_delete_refusals(body, code, desc):
    with pytest.raises(ApiError) as caught:
        parse_blocklist_delete(body)
    assert (caught.value.code, caught.value.desc) == (code, desc)


def test_query_by_numbers_answers_each_number_once():
    query = parse_blocklist_query({"blocklist": ["139", "138", "139"]})
    assert query == BlocklistQuery(numbers=("139", "138"), offset=0, limit=2)


def test_query_by_numbers_wins_over_paging():
    assert parse_blocklist_query({"blocklist": ["138"], "offset": 5, "limit": 0}).numbers == ("138",)


def test_query_by_page():
    assert parse_blocklist_query({"offset": 40, "limit": 20}) == BlocklistQuery(None, 40, 20)
    assert parse_blocklist_query({"offset": "0", "limit": "100"}) == BlocklistQuery(None, 0, 100)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, errors.EMPTY, "offset"),
        ({"offset": 0}, errors.EMPTY, "limit"),
        ({"limit": 10}, errors.EMPTY, "offset"),
        ({"offset": 0, "limit": 0}, errors.WRONG_VALUE, "limit"),
        ({"offset": 0, "limit": 101}, errors.WRONG_VALUE, "limit"),
        ({"offset": -1, "limit": 10}, errors.WRONG_VALUE, "offset"),
        ({"blocklist": [str(i) for i in range(21)]}, errors.TOO_MANY_RECORDS, "blocklist"),
        ({"blocklist": ["12a"]}, errors.INVALID_CHARS, "blocklist[0]"),
        ({"blocklist": []}, errors.EMPTY, "blocklist"),
    ],
)
def test_query_refusals(body, code, field):
    with pytest.raises(ApiError) as caught:
        parse_blocklist_query(body)
    assert caught.value.code == code
    assert caught.value.desc.startswith(field + " ")


# ---------------------------------------------------------------- may_call and next_allowed_at


def test_a_number_without_an_entry_may_be_called():
    assert may_call(None, [NOW - 1000], NOW, SHANGHAI)
    assert next_allowed_at(None, [], NOW, SHANGHAI) == NOW


def test_a_permanent_unrestricted_entry_is_never_called():
    entry = BlacklistEntry("138")
    assert not may_call(entry, [], NOW, SHANGHAI)
    assert next_allowed_at(entry, [], NOW, SHANGHAI) is None


def test_an_entry_ends_at_its_expiry():
    entry = BlacklistEntry("138", expires_at=NOW + 1000)
    assert not may_call(entry, [], NOW + 999, SHANGHAI)
    assert may_call(entry, [], NOW + 1000, SHANGHAI)
    assert next_allowed_at(entry, [], NOW, SHANGHAI) == NOW + 1000


def test_the_references_example_one_call_per_hour():
    # After a call at 10:06:25 with restrictPeriod "0" and restrictTimes 1, the next call is allowed
    # from 11:00:00 (the calendar hour), not from 11:06:25.
    entry = BlacklistEntry("138", restrict_times=1, restrict_period="0")
    calls = [local("2026-11-23 10:06:25")]
    assert may_call(entry, [], local("2026-11-23 10:06:25"), SHANGHAI)  # before that call
    assert not may_call(entry, calls, local("2026-11-23 10:06:26"), SHANGHAI)
    assert not may_call(entry, calls, local("2026-11-23 11:00:00") - 1, SHANGHAI)
    assert may_call(entry, calls, local("2026-11-23 11:00:00"), SHANGHAI)
    assert next_allowed_at(entry, calls, local("2026-11-23 10:30:00"), SHANGHAI) == local(
        "2026-11-23 11:00:00"
    )


def test_restrict_times_counts_calls_in_the_current_hour_only():
    entry = BlacklistEntry("138", restrict_times=2, restrict_period="0")
    earlier_hour = local("2026-11-23 09:59:59")
    first = local("2026-11-23 10:05:00")
    second = local("2026-11-23 10:40:00")
    now = local("2026-11-23 10:50:00")
    assert may_call(entry, [earlier_hour, first], now, SHANGHAI)
    assert not may_call(entry, [earlier_hour, first, second], now, SHANGHAI)


def test_per_day_counts_the_zones_calendar_day():
    entry = BlacklistEntry("138", restrict_times=3, restrict_period="1")
    calls = [local("2026-11-23 00:00:00"), local("2026-11-23 12:00:00"), local("2026-11-23 23:59:00")]
    assert not may_call(entry, calls, local("2026-11-23 23:59:30"), SHANGHAI)
    assert may_call(entry, calls, local("2026-11-24 00:00:00"), SHANGHAI)
    assert next_allowed_at(entry, calls, local("2026-11-23 23:59:30"), SHANGHAI) == local(
        "2026-11-24 00:00:00"
    )
    assert may_call(entry, calls[1:], local("2026-11-23 23:59:30"), SHANGHAI)


def test_the_day_is_the_zones_not_utcs():
    # One call at 2026-11-23 23:30 UTC (07:30 on the 24th in Shanghai); asked at 2026-11-24 00:30 UTC.
    entry = BlacklistEntry("138", restrict_times=1, restrict_period="1")
    calls = [utc(2026, 11, 23, 23, 30)]
    assert may_call(entry, calls, utc(2026, 11, 24, 0, 30), "UTC")  # a new day in UTC
    assert not may_call(entry, calls, utc(2026, 11, 24, 0, 30), SHANGHAI)  # the same day in Shanghai


def test_a_restriction_ends_with_the_entry_when_that_comes_first():
    entry = BlacklistEntry(
        "138", expires_at=local("2026-11-23 10:20:00"), restrict_times=1, restrict_period="0"
    )
    calls = [local("2026-11-23 10:06:25")]
    assert next_allowed_at(entry, calls, local("2026-11-23 10:10:00"), SHANGHAI) == local(
        "2026-11-23 10:20:00"
    )


def test_next_allowed_skips_periods_already_full():
    # A call recorded in the next hour (another worker's clock ahead) keeps that hour full too.
    entry = BlacklistEntry("138", restrict_times=1, restrict_period="0")
    calls = [local("2026-11-23 10:06:25"), local("2026-11-23 11:00:02")]
    assert next_allowed_at(entry, calls, local("2026-11-23 10:30:00"), SHANGHAI) == local(
        "2026-11-23 12:00:00"
    )


def test_hours_follow_the_local_clock_in_a_half_hour_zone():
    # India is UTC+5:30: the local hour 10:00-11:00 is 04:30-05:30 UTC.
    assert period_bounds(utc(2026, 11, 23, 5, 0), "0", "Asia/Kolkata") == (
        utc(2026, 11, 23, 4, 30),
        utc(2026, 11, 23, 5, 30),
    )


def test_a_repeated_hour_is_two_periods_when_clocks_go_back():
    # 2026-11-01 in New York: 01:00-02:00 EDT (05:00-06:00 UTC), then 01:00-02:00 EST (06:00-07:00 UTC).
    assert period_bounds(utc(2026, 11, 1, 5, 30), "0", NEW_YORK) == (utc(2026, 11, 1, 5), utc(2026, 11, 1, 6))
    assert period_bounds(utc(2026, 11, 1, 6, 30), "0", NEW_YORK) == (utc(2026, 11, 1, 6), utc(2026, 11, 1, 7))
    entry = BlacklistEntry("138", restrict_times=1, restrict_period="0")
    assert may_call(entry, [utc(2026, 11, 1, 5, 30)], utc(2026, 11, 1, 6, 10), NEW_YORK)


def test_days_last_25_and_23_hours_when_clocks_change():
    # The day of 2026-11-01 runs from 04:00 UTC (midnight EDT) to 05:00 UTC the next day (midnight EST).
    assert period_bounds(utc(2026, 11, 1, 12), "1", NEW_YORK) == (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    # 2026-03-08 runs from 05:00 UTC (midnight EST) to 04:00 UTC the next day (midnight EDT).
    assert period_bounds(utc(2026, 3, 8, 12), "1", NEW_YORK) == (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))


def test_the_hour_after_a_skipped_hour():
    # 2026-03-08 01:xx EST is followed by 03:00 EDT (02:00-03:00 does not exist): one hour of elapsed time.
    assert period_bounds(utc(2026, 3, 8, 6, 30), "0", NEW_YORK) == (utc(2026, 3, 8, 6), utc(2026, 3, 8, 7))
    assert period_bounds(utc(2026, 3, 8, 7, 30), "0", NEW_YORK) == (utc(2026, 3, 8, 7), utc(2026, 3, 8, 8))


_zones = st.sampled_from([SHANGHAI, NEW_YORK, "UTC", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/London"])
_start = utc(2026, 1, 1)
_instants = st.integers(_start, _start + 366 * 24 * HOUR)


@settings(max_examples=300, deadline=None)
@given(
    tz=_zones,
    now=_instants,
    offsets=st.lists(st.integers(-3 * 24 * HOUR, 24 * HOUR), max_size=6),
    times=st.integers(1, 4),
    period=st.sampled_from(["0", "1"]),
    expires_in=st.one_of(st.none(), st.integers(1, 5 * 24 * HOUR)),
)
def test_next_allowed_is_the_first_instant_may_call_allows(tz, now, offsets, times, period, expires_in):
    entry = BlacklistEntry(
        "138",
        expires_at=None if expires_in is None else now + expires_in,
        restrict_times=times,
        restrict_period=period,
    )
    calls = [now + o for o in offsets]
    at = next_allowed_at(entry, calls, now, tz)
    assert at is not None and at >= now
    assert may_call(entry, calls, at, tz)
    if at > now:
        assert not may_call(entry, calls, at - 1, tz)
        assert not may_call(entry, calls, now, tz)


@settings(max_examples=300, deadline=None)
@given(tz=_zones, at=_instants, period=st.sampled_from(["0", "1"]))
def test_periods_hold_their_instant_and_tile_the_timeline(tz, at, period):
    start, end = period_bounds(at, period, tz)
    assert start <= at < end
    assert period_bounds(start, period, tz) == (start, end)
    assert period_bounds(end, period, tz)[0] == end  # the next period starts where this one ends
    limit = 25 * HOUR if period == "1" else HOUR
    assert 0 < end - start <= limit
