"""Retry policies to the second, call policies, calling numbers, the blacklist re-check, abandonment, and the
agent-reserving modes, each run end to end in virtual time on campaigns added through the signed API.

Busy calls are refused 1-4 s after they are placed (the simulator's early failure), so expected instants are
written from each attempt's recorded end: the document's callInterval counts from the end of the call."""

from __future__ import annotations

import sqlalchemy as sa
from runner_support import (
    ALL_BUSY,
    ALL_PERSON,
    attempts_of,
    engine,
    insert_records,
    load_and_resume,
    records_of,
    utc,
)

from campaigns.factories import create_campaign
from outdial.engine.telephony import OutcomeMix
from outdial.models import calldata as cd
from outdial.models.calldata import blacklist

S = 1000
T0 = utc("2026-11-23 09:00:00")
GLOBAL_COMMON = {"policyType": 0, "retryDay": 2, "retryTimes": 2, "callInterval": 600}


def campaign(client, retry, call_policy=None, **overrides):
    """The document's example (predictive, skill queue 2, all day), with these policies; paused, so that
    numbers can be added through the API before it runs."""
    return create_campaign(client, retryPolicy=retry, callPolicy=call_policy, initStatus=1, **overrides)


def one(ctx, cid, *numbers, **extra):
    """A record with several numbers (type, delayTime): only a file import makes those (see runner_support)."""
    data_id = insert_records(ctx, cid, [numbers], **extra)[0]
    return data_id


def start(ctx, client, cid, records):
    """Single-number records through the signed add-numbers API; the campaign is resumed. Their dataIds."""
    load_and_resume(ctx, client, {cid: records})
    return [r.id for r in records_of(ctx, cid)]


def resume(client, cid):
    assert client.resume_campaign(1, cid).ok


def run(ctx, until, **kw):
    e = engine(ctx, **kw)
    e.run_virtual(utc(until))
    return e


def test_global_common_policy_retry_times_per_day_retry_days_and_interval(ctx, client):
    cid = campaign(client, GLOBAL_COMMON)
    start(ctx, client, cid, ["13800000001"])
    run(ctx, "2026-11-24 03:00:00")
    a = attempts_of(ctx, cid)
    assert len(a) == 4  # retryTimes 2 on each of retryDay 2 days
    assert a[0].created_at == T0
    assert a[1].created_at == a[0].end_at + 600 * S
    assert a[2].created_at == utc("2026-11-24 00:00:00")  # day 1 used up: the next local day, window 00:00
    assert a[3].created_at == a[2].end_at + 600 * S
    (record,) = records_of(ctx, cid)
    assert (record.state, record.final_attempt_id) == (cd.FINISHED, a[3].id)


def test_global_result_policy_retries_a_listed_result_retry_number_times(ctx, client):
    retry = {"policyType": 0, "resultRetry": '[{"result": 1, "retryNumber": 2, "callInterval": 120}]'}
    cid = campaign(client, retry)
    start(ctx, client, cid, ["13800000001"])
    run(ctx, "2026-11-23 10:00:00")
    a = attempts_of(ctx, cid)
    assert len(a) == 3  # the first call and retryNumber 2 retries
    assert [x.created_at for x in a[1:]] == [a[0].end_at + 120 * S, a[1].end_at + 120 * S]
    # result 4 (number does not exist) is not listed: no retry
    ctx.clock.set(utc("2026-11-23 10:00:01"))
    other = campaign(client, retry)
    start(ctx, client, other, ["13800000003"])
    vacant = OutcomeMix(person=0, machine=0, no_answer=0, busy=0, vacant=1.0)
    run(ctx, "2026-11-23 11:00:00", mix=vacant, owner="w2")
    (only,) = attempts_of(ctx, other)
    assert (only.result_type, only.fail_code) == (4, "00538")
    assert records_of(ctx, other)[0].state == cd.FINISHED


def test_number_type_policy_then_next_number_in_sequence(ctx, client):
    policy_json = (
        "[{'dataType':'SI','type':1,'policy':[{'result':1,'retryNumber':1,'callInterval':300}]},"
        "{'dataType':'ST','type':0,'policy':{'retryDay':1,'retryTimes':2}}]"
    )
    cid = campaign(client, {"policyType": 1, "policyJson": policy_json})
    one(ctx, cid, ("13800000001", "SI", 0), ("13800000002", "ST", 0))
    resume(client, cid)
    run(ctx, "2026-11-23 10:00:00")
    a = attempts_of(ctx, cid)
    assert [x.called for x in a] == ["13800000001", "13800000001", "13800000002", "13800000002"]
    assert a[1].created_at == a[0].end_at + 300 * S  # SI by result: busy retried once after 300 s
    assert a[2].created_at == a[1].end_at  # SI exhausted: the next number at once (delayTime 0)
    assert a[3].created_at == a[2].end_at + 60 * S  # ST common: 2 a day, 60 s apart (documented default)


def test_no_retry_policy_stops_a_listed_result_code(ctx, client):
    cid = campaign(client, {**GLOBAL_COMMON, "noRetryPolicy": ["OB00537"]})
    start(ctx, client, cid, ["13800000001"])
    run(ctx, "2026-11-23 12:00:00")
    assert len(attempts_of(ctx, cid)) == 1
    assert records_of(ctx, cid)[0].state == cd.FINISHED


def test_delay_time_spaces_a_records_numbers(ctx, client):
    cid = campaign(client, {"policyType": 0, "retryDay": 1, "retryTimes": 1, "callInterval": 60})
    one(ctx, cid, ("13800000001", None, 0), ("13800000002", None, 30))
    resume(client, cid)
    run(ctx, "2026-11-23 10:00:00")
    a = attempts_of(ctx, cid)
    assert [x.called for x in a] == ["13800000001", "13800000002"]
    assert a[1].created_at == a[0].end_at + 30 * S


def test_recycle_time_retires_a_record(ctx, client):
    cid = campaign(client, {"policyType": 0, "retryDay": 1, "retryTimes": 3, "callInterval": 600})
    retried, expired = start(
        ctx,
        client,
        cid,
        [
            {"called": "13800000001", "recycleTime": "2026-11-23 09:05:00"},
            {"called": "13800000002", "recycleTime": "2026-11-23 08:00:00"},  # passed before its first call
        ],
    )
    run(ctx, "2026-11-23 10:00:00")
    a = attempts_of(ctx, cid)
    assert [x.data_id for x in a] == [retried]  # the retry would fall after 09:05: recycled instead
    states = {r.id: (r.state, r.attempt_count) for r in records_of(ctx, cid)}
    assert states == {retried: (cd.RECYCLED, 1), expired: (cd.RECYCLED, 0)}


def test_call_policy_by_round_by_number_category(ctx, client):
    by_result = "[{'result':1,'retryNumber':1,'callInterval':100}]"
    policy_json = f"[{{'dataType':'SI','type':1,'policy':{by_result}}},{{'dataType':'ST','type':1,'policy':{by_result}}}]"
    turns = {"callType": 1, "chooseType": 0, "turns": [{"turnType": "ST"}, {"turnType": "SI"}]}
    cid = campaign(client, {"policyType": 1, "policyJson": policy_json}, turns)
    one(ctx, cid, ("1001", "SI", 0), ("1002", "ST", 0), ("1003", "SI", 0), ("1004", "XX", 0))
    resume(client, cid)
    run(ctx, "2026-11-23 10:00:00")
    a = attempts_of(ctx, cid)
    # round 1: ST numbers, then SI numbers; round 2 the same; the XX number is never selected
    assert [x.called for x in a] == ["1002", "1001", "1003", "1002", "1001", "1003"]
    assert a[1].created_at == a[0].end_at and a[2].created_at == a[1].end_at  # first calls: no wait
    assert a[3].created_at == max(a[0].end_at + 100 * S, a[2].end_at)  # each number waits its interval
    assert a[4].created_at == max(a[1].end_at + 100 * S, a[3].end_at)
    assert a[5].created_at == max(a[2].end_at + 100 * S, a[4].end_at)


def test_call_policy_by_round_by_number_order(ctx, client):
    policy_json = "[{'dataType':'SI','type':1,'policy':[{'result':1,'retryNumber':0,'callInterval':100}]}]"
    turns = {"callType": 1, "chooseType": 1, "turns": [{"turnOrder": 3}, {"turnOrder": 1}, {"turnOrder": 9}]}
    cid = campaign(client, {"policyType": 1, "policyJson": policy_json}, turns)
    one(ctx, cid, ("1001", "SI", 0), ("1002", "SI", 0), ("1003", "SI", 0))
    resume(client, cid)
    run(ctx, "2026-11-23 10:00:00")
    assert [x.called for x in attempts_of(ctx, cid)] == ["1003", "1001"]


def test_calling_numbers_by_priority_and_a_records_own_caller(ctx, client):
    callers = [
        {"accessCode": "333", "priority": 2},
        {"accessCode": "222", "priority": 1},
        {"accessCode": "111", "priority": 1},
    ]
    cid = campaign(
        client, {"policyType": 0, "retryDay": 1, "retryTimes": 3, "callInterval": 60}, callerNo=callers
    )
    plain, own = start(ctx, client, cid, ["13800000001", {"called": "13800000002", "caller": "999"}])
    run(ctx, "2026-11-23 10:00:00")
    by_record: dict[int, list[str]] = {}
    for x in attempts_of(ctx, cid):
        by_record.setdefault(x.data_id, []).append(x.caller)
    assert by_record == {plain: ["111", "222", "111"], own: ["999", "999", "999"]}


def _blacklist(ctx, number, **values):
    with ctx.db.write() as conn:
        conn.execute(
            sa.insert(blacklist).values(vdn_id=1, number=number, created_at=ctx.clock.now_ms(), **values)
        )


def test_blacklist_is_checked_again_right_before_each_call(ctx, client):
    cid = campaign(client, {"policyType": 0, "retryDay": 1, "retryTimes": 2, "callInterval": 60})
    blocked, limited = start(ctx, client, cid, ["13800000001", "13800000002"])
    assert client.add_blocklist(1, ["13800000001"]).ok  # blacklisted after it was loaded: never called
    e = engine(ctx)
    e.run_virtual(T0 + 30 * S)
    # after its first call, one call per calendar hour: the retry due ~09:01 waits for 10:00:00
    assert client.add_blocklist(1, ["13800000002"], restrictTimes=1, restrictPeriod="0").ok
    e.run_virtual(utc("2026-11-23 11:00:00"))
    a = attempts_of(ctx, cid)
    assert [(x.data_id, x.created_at) for x in a] == [(limited, T0), (limited, utc("2026-11-23 10:00:00"))]
    states = {r.id: r.state for r in records_of(ctx, cid)}
    assert states == {blocked: cd.FINISHED, limited: cd.FINISHED}


def test_abandoned_is_a_person_answer_with_no_agent_within_two_seconds(ctx, client):
    over_dial = {
        "skillId": 2,
        "skillName": "defaultAudioSkill",
        "outBoundType": 2,
        "predictParam": {
            "predictMethod": 1,
            "expPredictParam": {"maxAvgCallTime": 100, "minAvgCallTime": 50, "outBoundRate": 20},
        },
    }
    cid = campaign(
        client, {"policyType": 0, "retryDay": 1, "retryTimes": 1, "callInterval": 60}, skillParam=over_dial
    )
    start(ctx, client, cid, [f"1380000{i:04d}" for i in range(60)])
    e = engine(ctx, mix=ALL_PERSON, agents=2, talk_mean_s=60, talk_cv=0, wrapup_s=10)
    e.run_virtual(utc("2026-11-23 09:30:00"))
    a = attempts_of(ctx, cid)
    abandoned = [x for x in a if x.abandoned]
    connected = [x for x in a if x.outcome == "connected"]
    assert abandoned and connected and len(abandoned) + len(connected) == len(a) == 60
    for x in abandoned:
        assert (x.outcome, x.fail_code, x.result_type, x.agent_id) == ("abandoned", "01046", 9, None)
        assert x.end_at - x.answer_at == 2 * S  # waited the full 2 s for an agent, then dropped
    assert all(x.agent_id is not None for x in connected)
    assert e.stats.abandoned == len(abandoned) and e.stats.person_answered == 60


def test_preempted_dials_only_for_an_idle_agent_who_takes_the_call(ctx, client):
    skill = {"skillId": 2, "skillName": "defaultAudioSkill", "outBoundType": 6}
    cid = campaign(
        client,
        {"policyType": 0, "retryDay": 1, "retryTimes": 1, "callInterval": 60},
        deviceType=6,
        skillParam=skill,
    )
    start(ctx, client, cid, [f"1380000{i:04d}" for i in range(10)])
    run(ctx, "2026-11-23 10:00:00", mix=ALL_PERSON, agents=2, talk_mean_s=60, talk_cv=0, wrapup_s=10)
    a = attempts_of(ctx, cid)
    assert len(a) == 10 and not any(x.abandoned for x in a)
    for x in a:  # the reserved agent is written before the call and is the one who talked
        assert x.agent_id is not None and x.outcome == "connected"
    # never more calls at once than the 2 agents: each call starts after an earlier one's agent is free
    for i, begun in enumerate(sorted(x.created_at for x in a)):
        assert sum(1 for x in a if x.created_at <= begun < x.end_at) <= 2, i


def test_preview_reserves_an_agent_and_dials_after_auto_call_time(ctx, client):
    skill = {
        "skillId": 2,
        "skillName": "defaultAudioSkill",
        "outBoundType": 5,
        "previewParam": {"failInterval": 3, "obCallCount": 1, "autoCallTime": 5},
    }
    cid = campaign(
        client,
        {"policyType": 0, "retryDay": 1, "retryTimes": 1, "callInterval": 60},
        deviceType=5,
        skillParam=skill,
    )
    start(ctx, client, cid, [f"1380000{i:04d}" for i in range(3)])
    run(ctx, "2026-11-23 10:00:00", mix=ALL_BUSY, agents=1)
    a = attempts_of(ctx, cid)
    assert a[0].created_at == T0 + 5 * S  # the agent sees the record for autoCallTime 5 s, then it is dialed
    assert a[1].created_at == a[0].end_at + 5 * S  # the one agent is free again when the busy call ends
    assert a[2].created_at == a[1].end_at + 5 * S
    assert {x.agent_id for x in a} == {"2-1"}
