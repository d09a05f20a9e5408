from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outdial.engine.schedule import DialWindow, is_open, next_open, open_until

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
KEYS = [f"{k}{e}Time{i}" for k in ("workday", "holiday") for i in (1, 2, 3) for e in ("Begin", "End")]


def ms(zone, *args):
    return int(datetime(*args, tzinfo=zone).timestamp() * 1000)


def params(**kw):
    p = dict.fromkeys(KEYS)
    p.update(kw)
    return p


def window(zone=SH, begin=(2026, 1, 1), end=(2026, 12, 31, 23, 59, 59), holidays=(), **kw):
    return DialWindow.build(zone, ms(zone, *begin), ms(zone, *end), params(**kw), holidays)


DAY = dict(
    workdayBeginTime1="09:00", workdayEndTime1="11:59", workdayBeginTime2="14:00", workdayEndTime2="17:30"
)


def test_inside_and_outside_segments():
    w = window(**DAY)
    assert is_open(ms(SH, 2026, 3, 2, 9, 0), w)  # a Monday
    assert is_open(ms(SH, 2026, 3, 2, 11, 59, 59), w)  # end minute is inclusive
    assert not is_open(ms(SH, 2026, 3, 2, 12, 0), w)
    assert not is_open(ms(SH, 2026, 3, 2, 8, 59, 59), w)
    assert open_until(ms(SH, 2026, 3, 2, 10, 0), w) == ms(SH, 2026, 3, 2, 12, 0)
    assert open_until(ms(SH, 2026, 3, 2, 17, 0), w) == ms(SH, 2026, 3, 2, 17, 31)
    assert next_open(ms(SH, 2026, 3, 2, 12, 0), w) == ms(SH, 2026, 3, 2, 14, 0)
    assert next_open(ms(SH, 2026, 3, 2, 18, 0), w) == ms(SH, 2026, 3, 3, 9, 0)


def test_whole_day_segment_joins_midnight():
    w = window(workdayBeginTime1="00:00", workdayEndTime1="23:59")
    assert is_open(ms(SH, 2026, 3, 2, 23, 59, 59), w)
    # the stretch runs on through the following days until the campaign's end
    assert open_until(ms(SH, 2026, 3, 2, 12, 0), w) == ms(SH, 2026, 12, 31, 23, 59, 59) + 1


def test_crossing_midnight_refused():
    with pytest.raises(ValueError, match="crosses midnight"):
        window(workdayBeginTime1="22:00", workdayEndTime1="02:00")


def test_campaign_period_bounds():
    w = window(begin=(2026, 3, 2, 10, 30), end=(2026, 3, 3, 10, 0), **DAY)
    assert next_open(ms(SH, 2026, 3, 2, 8, 0), w) == ms(SH, 2026, 3, 2, 10, 30)
    assert open_until(ms(SH, 2026, 3, 3, 9, 30), w) == ms(SH, 2026, 3, 3, 10, 0) + 1
    assert next_open(ms(SH, 2026, 3, 3, 10, 1), w) is None


def test_weekday_holiday_uses_holiday_segments():
    hol = [{"type": 1, "week": "6,7"}]
    w = window(holidays=hol, holidayBeginTime1="10:00", holidayEndTime1="10:59", **DAY)
    # 2026-03-07 is a Saturday
    assert not is_open(ms(SH, 2026, 3, 7, 9, 30), w)
    assert is_open(ms(SH, 2026, 3, 7, 10, 30), w)
    assert next_open(ms(SH, 2026, 3, 7, 11, 0), w) == ms(SH, 2026, 3, 8, 10, 0)
    assert next_open(ms(SH, 2026, 3, 8, 11, 0), w) == ms(SH, 2026, 3, 9, 9, 0)


def test_holiday_without_holiday_segments_is_closed():
    w = window(holidays=[{"type": 2, "beginTime": "2026-03-02", "endTime": "2026-03-03"}], **DAY)
    assert next_open(ms(SH, 2026, 3, 1, 18, 0), w) == ms(SH, 2026, 3, 4, 9, 0)


def test_yearly_holiday_wrapping_new_year_and_table_rows():
    w = window(end=(2027, 12, 31), holidays=[{"type": 3, "begin_date": "12-31", "end_date": "01-01"}], **DAY)
    assert not is_open(ms(SH, 2026, 12, 31, 10, 0), w)
    assert next_open(ms(SH, 2026, 12, 31, 10, 0), w) == ms(SH, 2027, 1, 2, 9, 0)


def test_dst_spring_forward_and_fall_back():
    # 2026-03-08 02:00 EST jumps to 03:00 EDT; 2026-11-01 02:00 EDT falls back to 01:00 EST
    w = window(zone=NY, workdayBeginTime1="02:30", workdayEndTime1="03:59")
    start = next_open(ms(NY, 2026, 3, 8, 0, 0), w)
    assert start == ms(NY, 2026, 3, 8, 3, 30)  # 02:30 does not exist: the first instant after the gap
    assert open_until(start, w) - start == 30 * 60 * 1000
    w2 = window(zone=NY, workdayBeginTime1="01:00", workdayEndTime1="01:59")
    start2 = next_open(ms(NY, 2026, 11, 1, 0, 0), w2)
    assert open_until(start2, w2) - start2 == 2 * 3600 * 1000  # the repeated hour is inside


W_PROP = window(
    holidays=[{"type": 1, "week": "7"}],
    holidayBeginTime1="13:00",
    holidayEndTime1="13:09",
    workdayBeginTime1="08:00",
    workdayEndTime1="08:00",
    workdayBeginTime2="20:15",
    workdayEndTime2="21:44",
    begin=(2026, 1, 1),
    end=(2026, 2, 1),
)


@settings(max_examples=150, deadline=None)
@given(st.integers(ms(SH, 2025, 12, 30), ms(SH, 2026, 2, 2)))
def test_next_open_is_open_and_nothing_before_it(now):
    nxt = next_open(now, W_PROP)
    if nxt is None:
        assert now > ms(SH, 2026, 1, 31, 21, 44) or now > W_PROP.end_ms
        return
    assert is_open(nxt, W_PROP)
    assert nxt >= now
    # sample the gap at minute resolution and just before nxt
    probe = now
    while probe < nxt:
        assert not is_open(probe, W_PROP)
        probe += 60_000
    if nxt > now:
        assert not is_open(nxt - 1, W_PROP)
    assert open_until(nxt, W_PROP) > nxt
