"""The runner end to end in virtual time: campaigns created through the signed API, the built-in simulator as
the outside world. When calls fall (windows, holidays, zones, pause/resume, period end), IVR rates, and
what every attempt records. Retry, call-policy and blacklist rules are in test_runner_policies.py.

Expected instants are worked out by hand from the documents (seed 004) and docs/scheduling-and-retry.md."""

from __future__ import annotations

import sqlalchemy as sa
from runner_support import (
    ALL_BUSY,
    ALL_PERSON,
    attempts_of,
    engine,
    load_and_resume,
    local,
    records_of,
    stored_status,
    utc,
)

from campaigns.factories import IVR_OVERRIDES, create_campaign
from outdial.models import calldata as cd
from outdial.models.engine import ENDED, result_code_map
from outdial.models.results import callback_outbox

SECOND = 1000
NO_RETRY = {"policyType": 0, "retryDay": 1, "retryTimes": 1, "callInterval": 60}
ALL_DAY = {"workdayBeginTime1": "00:00", "workdayEndTime1": "23:59"}


def ivr_campaign(client, *, count=1, interval=10, **overrides):
    body = {
        **IVR_OVERRIDES,
        "ivrParam": {"deviceSign": "1001", "callCount": count, "callInterval": interval},
        "callPolicy": None,
        "retryPolicy": NO_RETRY,
        "scheduleParam": ALL_DAY,
        "initStatus": 1,  # paused: numbers are added, then it is resumed
        **overrides,
    }
    return create_campaign(client, **body)


def numbers(n, prefix="1380000"):
    return [f"{prefix}{i:04d}" for i in range(n)]


def test_calls_fall_only_inside_workday_and_holiday_segments_of_the_campaign_zone(ctx, client):
    zone = "Asia/Shanghai"  # UTC+8: the tests' Monday 09:00 UTC is 17:00 there, today's segment is over
    cid = ivr_campaign(
        client,
        timeZone=zone,
        strEndTime="2026-11-30 23:59:59",
        scheduleParam={
            "workdayBeginTime1": "10:00",
            "workdayEndTime1": "10:04",
            "holidayBeginTime1": "13:00",
            "holidayEndTime1": "13:01",
        },
    )
    added = client.add_holiday(
        1, cid, {"name": "tue", "type": 2, "beginTime": "2026-11-24", "endTime": "2026-11-24"}
    )
    assert added.ok, added.body
    load_and_resume(ctx, client, {cid: numbers(50)})
    run = engine(ctx, mix=ALL_PERSON, talk_mean_s=30)
    run.run_virtual(local("2026-11-27 00:00:00", zone))

    # one call every 10 s (callCount 1, callInterval 10); a segment includes its end minute
    tue = [local("2026-11-24 13:00:00", zone) + 10 * SECOND * i for i in range(12)]  # holiday 13:00-13:01
    wed = [local("2026-11-25 10:00:00", zone) + 10 * SECOND * i for i in range(30)]  # workday 10:00-10:04
    thu = [local("2026-11-26 10:00:00", zone) + 10 * SECOND * i for i in range(8)]  # the last 8 numbers
    made = attempts_of(ctx, cid)
    assert [a.created_at for a in made] == tue + wed + thu
    assert {a.local_day for a in made} == {"2026-11-24", "2026-11-25", "2026-11-26"}
    assert all(a.state == ENDED and a.outcome == "connected" for a in made)
    assert stored_status(ctx, cid) == 4  # nothing left to call: completed


def test_pause_stops_dialing_at_once_and_resume_restarts_it_at_once(ctx, client, clock):
    cid = ivr_campaign(client)
    t0 = load_and_resume(ctx, client, {cid: numbers(100)})
    run = engine(ctx, mix=ALL_PERSON, talk_mean_s=30)
    run.run_virtual(t0 + 60 * SECOND)
    clock.set(t0 + 65 * SECOND)
    assert client.pause_campaign(1, cid).ok
    run.run_virtual(t0 + 600 * SECOND)
    assert client.resume_campaign(1, cid).ok
    run.run_virtual(t0 + 630 * SECOND)

    created = [a.created_at - t0 for a in attempts_of(ctx, cid)]
    assert created == [s * SECOND for s in (0, 10, 20, 30, 40, 50, 60, 600, 610, 620, 630)]
    # calls in progress when paused ran to their end; none was cut off or left open
    assert all(a.state == ENDED for a in attempts_of(ctx, cid) if a.created_at <= t0 + 60 * SECOND)


def test_campaign_past_its_end_is_completed_and_stops_dialing(ctx, client):
    cid = ivr_campaign(client, strEndTime="2026-11-23 09:05:00")
    t0 = load_and_resume(ctx, client, {cid: numbers(100)})
    assert t0 == utc("2026-11-23 09:00:04")  # five adds of 20, one a second
    run = engine(ctx, mix=ALL_BUSY)
    run.run_virtual(utc("2026-11-23 09:10:00"))
    made = attempts_of(ctx, cid)
    # 09:00:04, 09:00:14 ... 09:04:54: the next batch (09:05:04) would fall after the end
    assert [a.created_at for a in made] == [t0 + 10 * SECOND * i for i in range(30)]
    assert stored_status(ctx, cid) == 4
    assert client.get_campaign(1, cid).body["returnObject"]["status"] == 4
    assert sum(r.state == cd.WAITING for r in records_of(ctx, cid)) == 70  # never called, never dropped


def _batches(made, t0):
    by_time: dict[int, int] = {}
    for a in made:
        by_time[a.created_at - t0] = by_time.get(a.created_at - t0, 0) + 1
    return sorted(by_time.items())


def test_ivr_rate_follows_the_documents_formula(ctx, client):
    # (callCount, callInterval) -> batch ceil(callCount x 3 / min(callInterval, 3)) every max(callInterval, 3) s
    cases = {(3, 3): (3, 3), (5, 10): (5, 10), (2, 1): (6, 3), (1, 2): (2, 3)}
    ids = {key: ivr_campaign(client, count=key[0], interval=key[1]) for key in cases}
    t0 = load_and_resume(ctx, client, {cid: numbers(200, f"13{i}0000") for i, cid in enumerate(ids.values())})
    engine(ctx, mix=ALL_PERSON, talk_mean_s=300).run_virtual(t0 + 60 * SECOND)
    for key, (batch, period) in cases.items():
        expected = [(k * period * SECOND, batch) for k in range(60 // period + 1)]
        assert _batches(attempts_of(ctx, ids[key]), t0) == expected, key


def test_every_attempt_is_recorded_with_its_outcome_and_each_record_with_its_final_result(
    ctx, client, client_vdn2
):
    with ctx.db.write() as conn:
        conn.execute(sa.insert(result_code_map).values(vdn_id=1, fail_code="00537", result_code="BUSY-1"))
    busy1 = ivr_campaign(client)
    busy2 = ivr_campaign(client_vdn2, vdn_id=2)
    load_and_resume(ctx, client, {busy1: ["13800000001"]})
    load_and_resume(ctx, client_vdn2, {busy2: ["13800000002"]}, vdn_id=2)
    engine(ctx, mix=ALL_BUSY).run_virtual(utc("2026-11-23 09:01:00"))

    (a1,) = attempts_of(ctx, busy1)
    (a2,) = attempts_of(ctx, busy2)
    for a, vdn, code in ((a1, 1, "BUSY-1"), (a2, 2, "OB00537")):  # per-VDN map, then the default
        assert a.call_id == f"{vdn:04d}-{a.campaign_id}-{a.data_id}-1"
        assert (a.called, a.caller, a.vdn_id) == (f"1380000000{vdn}", "88889527", vdn)
        assert a.created_at == utc("2026-11-23 09:00:00")
        assert a.created_at + 1 * SECOND <= a.end_at <= a.created_at + 4 * SECOND  # busy: refused in 1-4 s
        assert (a.outcome, a.result_type, a.fail_code, a.result_code) == ("busy", 1, "00537", code)
        assert (a.state, a.call_status, a.agent_id, a.abandoned, a.answer_at) == (ENDED, 5, None, False, None)
        (rec,) = records_of(ctx, a.campaign_id)
        assert (rec.state, rec.attempt_count, rec.final_attempt_id, rec.finished_at) == (
            cd.FINISHED,
            1,
            a.id,
            a.end_at,
        )
    with ctx.db.read() as conn:
        queued = conn.execute(sa.select(callback_outbox.c.attempt_id).order_by(callback_outbox.c.id)).all()
    assert [q.attempt_id for q in queued] == [a1.id, a2.id]  # each result queued for its callback


def test_connected_calls_record_their_agent_and_success(ctx, client):
    cid = create_campaign(client, callPolicy=None, retryPolicy=NO_RETRY, initStatus=1)
    load_and_resume(ctx, client, {cid: numbers(3)})
    engine(ctx, mix=ALL_PERSON, agents=5, talk_mean_s=60, talk_cv=0).run_virtual(utc("2026-11-23 09:10:00"))
    made = attempts_of(ctx, cid)
    assert len(made) == 3
    for a in made:
        assert (a.outcome, a.fail_code, a.result_code, a.call_status, a.result_type) == (
            "connected",
            "00000",
            "OB99999",
            6,
            None,
        )
        assert a.agent_id is not None and a.agent_id.startswith("2-")
        assert a.answer_at is not None and a.end_at - a.answer_at == 60 * SECOND  # talk 60 s, no wait
        assert not a.abandoned
    assert len({a.agent_id for a in made}) == 3  # three free agents took one call each
    assert stored_status(ctx, cid) == 4
