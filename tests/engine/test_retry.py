from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from outdial.engine.retry import (
    Attempt,
    NumberHistory,
    decide_after_attempt,
    decide_after_business_result,
    summarize,
)

SH = ZoneInfo("Asia/Shanghai")
END = int(datetime(2026, 12, 31, tzinfo=SH).timestamp() * 1000)


@dataclass(frozen=True)
class N:
    called: str
    type: str | None = None
    delay_s: int = 0


def at(*args):
    return int(datetime(*args, tzinfo=SH).timestamp() * 1000)


def policy(**kw):
    base = {
        "policyType": 0,
        "common": None,
        "byResult": None,
        "byNumberType": None,
        "business": [],
        "noRetry": [],
    }
    base.update(kw)
    return base


def hist(*attempts, n=1, now=None):
    today = datetime.fromtimestamp(now / 1000, SH).date().isoformat()
    return summarize(attempts, n, today)


def att(i, ms, rt=2, rc="OB00603"):
    return Attempt(i, ms, datetime.fromtimestamp(ms / 1000, SH).date().isoformat(), rt, rc)


def decide(now, numbers, history, pol, call_policy=None, current=0, success=False, recycle=None, end=END):
    return decide_after_attempt(
        now_ms=now,
        current=current,
        success=success,
        numbers=numbers,
        history=history,
        policy=pol,
        call_policy=call_policy,
        zone=SH,
        campaign_end_ms=end,
        recycle_at_ms=recycle,
    )


COMMON = policy(common={"retryDay": 2, "retryTimes": 2, "callInterval": 600})


def test_success_finishes():
    now = at(2026, 3, 2, 10, 0)
    d = decide(now, (N("1"),), hist(att(0, now, None, "OB99999"), now=now), COMMON, success=True)
    assert (d.action, d.reason) == ("finish", "success")


def test_common_policy_to_the_second():
    t1 = at(2026, 3, 2, 10, 0, 7)
    d = decide(t1, (N("1"),), hist(att(0, t1), now=t1), COMMON)
    assert (d.action, d.number_index, d.due_ms) == ("retry", 0, at(2026, 3, 2, 10, 10, 7))
    # second attempt today used the day's two: next at local midnight (day 2 of 2)
    t2 = at(2026, 3, 2, 10, 10, 40)
    d = decide(t2, (N("1"),), hist(att(0, t1), att(0, t2), now=t2), COMMON)
    assert (d.action, d.due_ms) == ("retry", at(2026, 3, 3, 0, 0))
    # two attempts on each of two days: exhausted
    t3, t4 = at(2026, 3, 3, 9, 0), at(2026, 3, 3, 9, 10)
    d = decide(t4, (N("1"),), hist(att(0, t1), att(0, t2), att(0, t3), att(0, t4), now=t4), COMMON)
    assert (d.action, d.reason) == ("finish", "exhausted")


def test_common_interval_crossing_midnight_needs_a_day_left():
    t1 = at(2026, 3, 2, 23, 55)
    one_day = policy(common={"retryDay": 1, "retryTimes": 3, "callInterval": 600})
    assert decide(t1, (N("1"),), hist(att(0, t1), now=t1), one_day).action == "finish"
    two_days = policy(common={"retryDay": 2, "retryTimes": 3, "callInterval": 600})
    assert decide(t1, (N("1"),), hist(att(0, t1), now=t1), two_days).due_ms == at(2026, 3, 3, 0, 5)


def test_by_result_counts_retries_and_unlisted_types_move_on():
    pol = policy(byResult=[{"result": 1, "retryNumber": 1, "callInterval": 30}])
    nums = (N("1"), N("2", delay_s=5))
    t1 = at(2026, 3, 2, 10, 0)
    d = decide(t1, nums, hist(att(0, t1, 1), n=2, now=t1), pol)
    assert (d.action, d.number_index, d.due_ms) == ("retry", 0, t1 + 30_000)
    t2 = t1 + 60_000
    d = decide(t2, nums, hist(att(0, t1, 1), att(0, t2, 1), n=2, now=t2), pol)
    assert (d.action, d.number_index, d.due_ms) == ("next", 1, t2 + 5_000)  # delayTime of number 2
    d = decide(t1, nums, hist(att(0, t1, 0), n=2, now=t1), pol)  # "others" is not listed: no retry
    assert (d.action, d.number_index) == ("next", 1)


def test_no_retry_code_and_recycle_and_campaign_end():
    t1 = at(2026, 3, 2, 10, 0)
    pol = policy(common={"retryDay": 1, "retryTimes": 3, "callInterval": 600}, noRetry=["OB00538"])
    d = decide(t1, (N("1"),), hist(att(0, t1, 4, "OB00538"), now=t1), pol)
    assert (d.action, d.reason) == ("finish", "exhausted")
    d = decide(t1, (N("1"),), hist(att(0, t1), now=t1), pol, recycle=t1 + 600_000)
    assert (d.action, d.reason) == ("recycle", "recycle_time")
    d = decide(t1, (N("1"),), hist(att(0, t1), now=t1), pol, recycle=t1 + 600_001)
    assert d.action == "retry"
    d = decide(t1, (N("1"),), hist(att(0, t1), now=t1), pol, end=t1 + 599_999)
    assert (d.action, d.reason) == ("finish", "campaign_end")


def test_by_number_type_in_rounds():
    pol = policy(
        policyType=1,
        byNumberType=[
            {
                "dataType": "SI",
                "type": 1,
                "common": None,
                "byResult": [{"result": 2, "retryNumber": 1, "callInterval": 600}],
            },
            {"dataType": "ST", "type": 0, "common": {"retryDay": 1, "retryTimes": 2}, "byResult": None},
        ],
    )
    nums = (N("1", "SI"), N("2", "ST"))
    rounds = {"callType": 1, "chooseType": 0, "turns": [{"turnType": "SI"}, {"turnType": "ST"}]}
    t1 = at(2026, 3, 2, 10, 0)
    d = decide(t1, nums, hist(att(0, t1), n=2, now=t1), pol, rounds)
    assert (d.action, d.number_index, d.due_ms) == ("next", 1, t1)
    t2 = t1 + 40_000
    d = decide(t2, nums, hist(att(0, t1), att(1, t2), n=2, now=t2), pol, rounds, current=1)
    assert (d.action, d.number_index, d.due_ms) == ("next", 0, t1 + 600_000)  # back to SI after its interval
    t3 = t1 + 600_000
    d = decide(t3, nums, hist(att(0, t1), att(1, t2), att(0, t3), n=2, now=t3), pol, rounds)
    # SI used its one retry; ST (common, no callInterval in policyJson) waits the default 60 s
    assert (d.action, d.number_index, d.due_ms) == ("next", 1, t3)  # t2 + 60 s is long past


def test_unknown_number_type_is_called_once():
    pol = policy(
        policyType=1, byNumberType=[{"dataType": "SI", "type": 0, "common": {"retryDay": 5, "retryTimes": 6}}]
    )
    t1 = at(2026, 3, 2, 10, 0)
    assert decide(t1, (N("1", "XX"),), hist(att(0, t1), now=t1), pol).action == "finish"


def test_history_summary():
    h = summarize(
        [att(0, at(2026, 3, 1, 9)), att(0, at(2026, 3, 2, 9), 1), att(1, at(2026, 3, 2, 10), 3, "X")],
        2,
        "2026-03-02",
    )
    assert h[0] == NumberHistory(2, 1, 2, at(2026, 3, 2, 9), 1, "OB00603", {2: 1, 1: 1})
    assert h[1].last_result_code == "X" and h[1].attempts_today == 1


def test_business_results():
    pol = policy(
        common={"retryDay": 1, "retryTimes": 1, "callInterval": 60},
        business=[
            {"busiResultCode": "A", "busiResultSubCode": None, "busiResultPolicy": 0, "callInterval": None},
            {"busiResultCode": "B", "busiResultSubCode": None, "busiResultPolicy": 2, "callInterval": 120},
            {"busiResultCode": "B", "busiResultSubCode": "b1", "busiResultPolicy": 1, "callInterval": 30},
        ],
    )
    nums = (N("1"), N("2"))
    t = at(2026, 3, 2, 10, 0)
    h = hist(att(0, t, None, "OB99999"), n=2, now=t)
    kw = dict(
        now_ms=t,
        current=0,
        numbers=nums,
        history=h,
        policy=pol,
        call_policy=None,
        zone=SH,
        campaign_end_ms=END,
    )
    assert decide_after_business_result(busi_result_code="A", busi_sub_code="z", **kw).action == "finish"
    d = decide_after_business_result(busi_result_code="B", busi_sub_code=None, **kw)
    assert (d.action, d.number_index, d.due_ms) == ("retry", 0, t + 120_000)
    d = decide_after_business_result(busi_result_code="B", busi_sub_code="b1", **kw)
    assert (d.action, d.number_index, d.due_ms) == ("next", 1, t + 30_000)
    assert decide_after_business_result(busi_result_code="C", busi_sub_code=None, **kw) is None
