"""attempts.final (what showDetail 0 reads) agrees with call_data.final_attempt_id at every step of a record's
life, written by the real engine in virtual time: a retry after a busy call, the final success, a business
result that reopens the record (callBusiResult, busiResultPolicy 2: same number after callInterval), and the
success that finishes it again."""

from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa

from campaigns.factories import create_campaign
from outdial.client import Client
from outdial.context import AppContext
from outdial.models import calldata as cd
from outdial.models.engine import attempts

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
from runner_support import ALL_BUSY, ALL_PERSON, engine, load_and_resume, records_of, utc  # noqa: E402

S = 1000
T0 = utc("2026-11-23 09:00:00")
BUSI = '[{"busiResultCode": "LATER", "busiResultPolicy": 2, "callInterval": 300}]'
RETRY = {"policyType": 0, "retryDay": 1, "retryTimes": 3, "callInterval": 600, "busiPolicy": BUSI}


def flagged(ctx: AppContext, cid: int) -> list[tuple[str, bool]]:
    with ctx.db.read() as conn:
        rows = conn.execute(
            sa.select(attempts.c.call_id, attempts.c.final)
            .where(attempts.c.campaign_id == cid)
            .order_by(attempts.c.id)
        ).all()
    return [(r.call_id, bool(r.final)) for r in rows]


def final_call_ids(client: Client, cid: int) -> list[str]:
    answer = client.query_call_results(1, cid, {"showDetail": 0}).body
    assert answer["resultCode"] == "0200000", answer
    assert answer["totalCount"] == len(answer["data"])
    return [item["callId"] for item in answer["data"]]


def test_final_flag_follows_final_attempt_id_through_retry_and_reopen(ctx, client, clock):
    cid = create_campaign(client, callPolicy=None, retryPolicy=RETRY, initStatus=1)
    load_and_resume(ctx, client, {cid: ["13800000001"]})
    (record,) = records_of(ctx, cid)

    engine(ctx, mix=ALL_BUSY).run_virtual(T0 + 60 * S)  # busy: the record waits 600 s for its retry
    (record,) = records_of(ctx, cid)
    assert (record.state, record.final_attempt_id) == (cd.WAITING, None)
    first = flagged(ctx, cid)
    assert [f for _, f in first] == [False]
    assert final_call_ids(client, cid) == []

    # the retry is answered (5 s) and talks 60 s: a success that finishes the record on its second call
    engine(ctx, mix=ALL_PERSON, talk_mean_s=60, talk_cv=0).run_virtual(T0 + 800 * S)
    (record,) = records_of(ctx, cid)
    calls = flagged(ctx, cid)
    assert record.state == cd.FINISHED and [f for _, f in calls] == [False, True]
    with ctx.db.read() as conn:
        second_id = conn.execute(sa.select(attempts.c.id).where(attempts.c.call_id == calls[1][0])).scalar()
    assert record.final_attempt_id == second_id
    assert final_call_ids(client, cid) == [calls[1][0]]

    # LATER reopens the finished record (called again 300 s later): it has no final call until it ends again
    assert client.call_business_result(1, record.id, "LATER").ok
    (record,) = records_of(ctx, cid)
    assert (record.state, record.final_attempt_id) == (cd.WAITING, None)
    assert [f for _, f in flagged(ctx, cid)] == [False, False]
    clock.advance(1)  # the same signed query a second time in the same instant would be a replay
    assert final_call_ids(client, cid) == []

    engine(ctx, mix=ALL_PERSON, talk_mean_s=60, talk_cv=0).run_virtual(utc("2026-11-23 10:00:00"))
    (record,) = records_of(ctx, cid)
    calls = flagged(ctx, cid)
    assert record.state == cd.FINISHED and [f for _, f in calls] == [False, False, True]
    assert final_call_ids(client, cid) == [calls[2][0]]
    detail = client.query_call_results(1, cid, {"showDetail": 1}).body
    assert [i["callId"] for i in detail["data"]] == [c for c, _ in calls]
