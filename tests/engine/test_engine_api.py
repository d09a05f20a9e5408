"""The engine's interfaces through the signed client: callBusiResult (validation, the business result
policy stop / next number / same number after callInterval, applied by the running engine) and outdial's
list of agents per skill queue."""

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
    stored_status,
    utc,
)

from campaigns.factories import create_campaign
from outdial.models import calldata as cd
from outdial.models.engine import business_results

S = 1000
T0 = utc("2026-11-23 09:00:00")
BUSI = (
    '[{"busiResultCode": "NO", "busiResultPolicy": 0},'
    ' {"busiResultCode": "LATER", "busiResultPolicy": 2, "callInterval": 300},'
    ' {"busiResultCode": "WRONG", "busiResultSubCode": "moved", "busiResultPolicy": 1, "callInterval": 60}]'
)
RETRY = {"policyType": 0, "retryDay": 1, "retryTimes": 3, "callInterval": 600, "busiPolicy": BUSI}


def _campaign(ctx, client, *numbers):
    """A paused campaign with one record, then resumed. One number goes through the add-numbers API; a record
    with two numbers can only come from a file import, so it is written as the importer stores it."""
    cid = create_campaign(client, callPolicy=None, retryPolicy=RETRY, initStatus=1)
    if len(numbers) == 1:
        load_and_resume(ctx, client, {cid: list(numbers)})
        (record,) = records_of(ctx, cid)
        return cid, record.id
    (data_id,) = insert_records(ctx, cid, [[(n, None, 0) for n in numbers]])
    assert client.resume_campaign(1, cid).ok
    return cid, data_id


def test_call_business_result_refusals_name_the_field(ctx, client, client_vdn2):
    cid, data_id = _campaign(ctx, client, "13800000001")
    cases = [
        (client.call_business_result(1, data_id, ""), "02000001", "busiResult"),
        (client.call_business_result(1, data_id, "x" * 51), "02000003", "busiResult"),
        (client.call_business_result(1, data_id, "OK", work_no="w" * 33), "02000003", "workNo"),
        (client.call_business_result(1, 999_999, "OK"), "0200033", "dataId"),
        (client_vdn2.call_business_result(2, data_id, "OK"), "0200033", "dataId"),  # another tenant's record
        (client.call_business_result(1, data_id, "WRONG", sub_status="gone"), "0200034", "subStatus"),
    ]
    for response, code, field in cases:
        assert response.code == code, response.body
        assert response.body["resultDesc"].startswith(field), response.body
    with ctx.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(business_results)).scalar_one() == 0


def test_stop_policy_ends_a_record_waiting_for_its_retry(ctx, client, clock):
    cid, data_id = _campaign(ctx, client, "13800000001")
    e = engine(ctx, mix=ALL_BUSY)
    e.run_virtual(T0 + 60 * S)  # first call busy; retry due 600 s after it
    assert client.call_business_result(1, data_id, "NO", work_no="1001", busi_result_desc="not interested").ok
    e.run_virtual(utc("2026-11-23 11:00:00"))
    assert len(attempts_of(ctx, cid)) == 1
    (record,) = records_of(ctx, cid)
    assert (record.state, record.finished_at) == (cd.FINISHED, T0 + 60 * S)
    with ctx.db.read() as conn:
        row = conn.execute(sa.select(business_results)).one()
    assert (row.data_id, row.busi_result, row.work_no, row.busi_result_desc) == (
        data_id,
        "NO",
        "1001",
        "not interested",
    )


def test_same_number_policy_calls_again_after_its_interval_and_reopens_a_completed_campaign(
    ctx, client, clock
):
    cid, data_id = _campaign(ctx, client, "13800000001")
    e = engine(ctx, mix=ALL_PERSON, talk_mean_s=60, talk_cv=0)
    e.run_virtual(T0 + 120 * S)  # answered, talked 60 s: success; nothing left, so the campaign completed
    assert stored_status(ctx, cid) == 4
    assert client.call_business_result(1, data_id, "LATER").ok
    e.run_virtual(utc("2026-11-23 10:00:00"))
    made = attempts_of(ctx, cid)
    assert [a.created_at for a in made] == [T0, T0 + 120 * S + 300 * S]
    assert records_of(ctx, cid)[0].state == cd.FINISHED


def test_next_number_policy_with_a_sub_status(ctx, client, clock):
    cid, data_id = _campaign(ctx, client, "13800000001", "13800000002")
    e = engine(ctx, mix=ALL_PERSON, talk_mean_s=60, talk_cv=0)
    e.run_virtual(T0 + 100 * S)
    assert client.call_business_result(1, data_id, "WRONG", sub_status="moved").ok
    e.run_virtual(utc("2026-11-23 10:00:00"))
    made = attempts_of(ctx, cid)
    assert [(a.called, a.created_at) for a in made] == [("13800000001", T0), ("13800000002", T0 + 160 * S)]


def test_a_result_written_during_the_call_decides_when_the_call_ends(ctx, client, clock):
    cid, data_id = _campaign(ctx, client, "13800000001")
    e = engine(ctx, mix=ALL_PERSON, talk_mean_s=60, talk_cv=0)
    e.run_virtual(T0 + 30 * S)  # answered at 09:00:05, talking until 09:01:05
    assert client.call_business_result(1, data_id, "LATER").ok
    e.run_virtual(utc("2026-11-23 10:00:00"))
    made = attempts_of(ctx, cid)
    assert [a.created_at for a in made] == [T0, T0 + 65 * S + 300 * S]


def test_agents_of_a_skill_queue_and_their_states(ctx, client, clock):
    cid = create_campaign(client, callPolicy=None, retryPolicy=RETRY, initStatus=1)
    load_and_resume(ctx, client, {cid: [f"1380000{i:04d}" for i in range(3)]})
    assert client.list_agents(1, 2).code == "0200001"  # no engine runs in this process yet
    e = engine(ctx, mix=ALL_PERSON, agents=4, talk_mean_s=60, talk_cv=0)
    ctx.extras["engine"] = e
    e.run_virtual(T0 + 10 * S)  # three persons answered at 09:00:05 and talk until 09:01:05
    body = client.list_agents(1, 2).body
    assert body["resultCode"] == "0200000"
    assert body["data"]["counts"] == {"talking": 3, "idle": 1}
    assert [a["agentId"] for a in body["data"]["agents"]] == ["2-1", "2-2", "2-3", "2-4"]
    e.run_virtual(T0 + 70 * S)  # 15 s of wrap-up after the calls
    assert client.list_agents(1, 2).body["data"]["counts"] == {"wrapup": 3, "idle": 1}
    assert client.list_agents(1, 77).code == "0200017"
