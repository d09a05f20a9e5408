"""callresultdetail, failcategorystatistics and statistics (reference §6 "Statistics"). The campaign's zone is
Asia/Shanghai (UTC+8): the clock's 2026-11-23 09:00 UTC is 17:00 there, and "today" there began at
2026-11-22 16:00 UTC."""

from __future__ import annotations

import pytest

from outdial.client import Client
from outdial.context import AppContext
from outdial.models import calldata as cd
from results import factory

START = 1795424400000  # 2026-11-23 09:00:00 UTC
HOUR = 3_600_000


@pytest.fixture
def seeded(ctx: AppContext) -> tuple[int, int]:
    with ctx.db.write() as conn:
        cid = factory.campaign(conn, 1, timezone="Asia/Shanghai")
        yesterday_late = START - 17 * HOUR - HOUR // 2  # 2026-11-22 23:30 in Shanghai
        today_early = START - 16 * HOUR - HOUR // 2  # 2026-11-23 00:30 in Shanghai (still the 22nd in UTC)
        r1 = factory.record(
            conn,
            cid,
            1,
            custom_field="b1",
            created_at=yesterday_late,
            state=cd.FINISHED,
            attempt_count=2,
            finished_at=START - HOUR,
        )
        r2 = factory.record(conn, cid, 1, custom_field="b1", created_at=today_early, attempt_count=1)
        factory.record(conn, cid, 1, custom_field="b2", created_at=today_early)
        r4 = factory.record(
            conn,
            cid,
            1,
            custom_field="b2",
            created_at=yesterday_late,
            state=cd.RECYCLED,
            attempt_count=1,
            finished_at=START - 24 * HOUR,
        )
        factory.record(conn, cid, 1, created_at=today_early, state=cd.DELETED)
        fail = {"call_status": 5, "result_code": "OB00537"}
        factory.attempt(
            conn,
            cid,
            1,
            r1,
            "a1",
            START - 30 * HOUR,
            local_day="2026-11-22",
            fail_code="00537",
            custom_field="b1",
            **fail,
        )
        factory.attempt(
            conn,
            cid,
            1,
            r1,
            "a2",
            START - 2 * HOUR,
            answer_at=START - 2 * HOUR + 5_000,
            end_at=START - 2 * HOUR + 65_000,
            fail_code="00000",
            record_path="Y:/a2.V3",
            custom_field="b1",
        )
        factory.attempt(
            conn,
            cid,
            1,
            r2,
            "a3",
            START - HOUR,
            call_status=5,
            fail_code="00603",
            result_code="OB00603",
            custom_field="b1",
        )
        factory.attempt(
            conn,
            cid,
            1,
            r4,
            "a4",
            START - 28 * HOUR,
            local_day="2026-11-22",
            fail_code="00537",
            custom_field="b2",
            **fail,
        )
        factory.attempt(conn, cid, 1, r2, "open", START, state=0)
        other = factory.campaign(conn, 2)
        factory.attempt(conn, other, 2, factory.record(conn, other, 2), "vdn2-call", START - HOUR)
    return cid, other


def test_result_detail(client: Client, seeded: tuple[int, int]) -> None:
    answer = client.call_result_detail(1, "a2").body
    assert answer["resultCode"] == "0200000"
    assert answer["data"] == {
        "called": "60584",
        "ackBeginTime": "2026-11-23 15:00:05",  # 07:00:05 UTC in Shanghai
        "callBeginTime": "2026-11-23 15:00:00",
        "callEndTime": "2026-11-23 15:01:05",
        "callStatus": 6,
        "failCode": "0",
        "resultCode": "OB99999",
        "vdnId": 1,
        "callId": "a2",
        "recordPath": "Y:/a2.V3",
    }
    failed = client.call_result_detail(1, "a3").body["data"]
    assert (failed["callStatus"], failed["failCode"], failed["resultCode"]) == (5, "00603", "OB00603")


def test_result_detail_refusals(client: Client, client_vdn2: Client, seeded: tuple[int, int]) -> None:
    for call_id in ("nope", "open", "vdn2-call"):  # unknown, not finished, another VDN's
        answer = client.call_result_detail(1, call_id).body
        assert answer["resultCode"] == "0200001" and "callId" in answer["resultDesc"]
    assert client.call_result_detail(1, "x" * 41).body["resultCode"] == "02000003"
    assert client_vdn2.call_result_detail(2, "vdn2-call").body["resultCode"] == "0200000"


def test_fail_statistics(client: Client, seeded: tuple[int, int]) -> None:
    cid, _ = seeded
    expected = [
        {"statDate": "2026-11-22", "failData": {"00537": 2}},
        {"statDate": "2026-11-23", "failData": {"00603": 1}},
    ]
    ranged = client.fail_category_statistics(1, cid, "2026-11-22", "2026-11-23").body
    assert ranged["resultCode"] == "0200000" and ranged["data"] == expected
    assert client.fail_category_statistics(1, cid).body["data"] == expected  # default: 30 days up to today
    one_day = client.fail_category_statistics(1, cid, "2026-11-23", "2026-11-23").body["data"]
    assert one_day == [{"statDate": "2026-11-23", "failData": {"00603": 1}}]
    assert client.fail_category_statistics(1, cid, "2026-11-24", "2026-11-25").body["data"] == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({}, "02000001"),
        ({"campaignId": "x"}, "02000006"),
        ({"campaignId": "{cid}", "startDate": "2026-11-01"}, "0200008"),
        ({"campaignId": "{cid}", "endDate": "2026-11-01"}, "0200008"),
        ({"campaignId": "{cid}", "startDate": "2026/11/01", "endDate": "2026-11-02"}, "0200009"),
        ({"campaignId": "{cid}", "startDate": "2026-11-03", "endDate": "2026-11-02"}, "0200010"),
        ({"campaignId": "{cid}", "startDate": "2026-10-01", "endDate": "2026-11-02"}, "0200011"),
        ({"campaignId": "{other}"}, "0200007"),
        ({"campaignId": "99999"}, "0200007"),
    ],
)
def test_fail_statistics_refusals(
    client: Client, seeded: tuple[int, int], query: dict[str, str], code: str
) -> None:
    cid, other = seeded
    query = {k: v.format(cid=cid, other=other) for k, v in query.items()}
    path = "/rest/isales/v1/openapi/campaigns/1/failcategorystatistics"
    assert client.request("GET", path, None, query=query).body["resultCode"] == code


def test_statistics(client: Client, seeded: tuple[int, int]) -> None:
    cid, _ = seeded
    answer = client.campaign_statistics(1, cid).body
    assert answer["resultCode"] == "0200000"
    assert answer["countDetail"] == [
        {
            "campaignId": str(cid),
            "unCallCount": 1,  # the b2 record never called
            "calledCount": 3,
            "finishCount": 1,
            "totalCalledCount": 4,  # finished calls; the open one is not counted
            "totalCallSucc": 1,
            "totalFinishCount": 2,  # finished and recycled
            "totalCount": 4,  # the deleted record is not counted
            "dailyCalledCount": 2,  # a2 and a3 fell on the 23rd in Shanghai
            "dailyCallSucc": 1,
            "dailyFinishCount": 1,
            "dailyCount": 2,  # added at 00:30 Shanghai time: today there, yesterday in UTC
            "batchDetail": [],
            "notCalledByPolicy": 0,  # extension (issue 18): its call policy calls every record
        }
    ]
    batch = client.campaign_statistics(1, cid, batch_id="b1").body["countDetail"][0]["batchDetail"]
    assert batch == [
        {
            "batchId": "b1",
            "unCallCount": 0,
            "calledCount": 2,
            "finishCount": 1,
            "totalCalledCount": 3,  # a1, a2 and a3 (the engine copies the record's customField)
            "totalCallSucc": 1,
            "totalFinishCount": 1,
            "totalCount": 2,
            "dailyCalledCount": 2,
            "dailyCallSucc": 1,
            "dailyFinishCount": 1,
            "dailyCount": 1,
        }
    ]


def test_statistics_of_several_campaigns_and_refusals(client: Client, seeded: tuple[int, int]) -> None:
    cid, other = seeded
    with_empty = client.campaign_statistics(1, f"{cid},{cid}").body["countDetail"]
    assert [d["campaignId"] for d in with_empty] == [str(cid)]  # named twice, counted once
    path = "/rest/isales/v2/openapi/campaigns/1/statistics"
    assert client.request("GET", path, None).body["resultCode"] == "02000001"
    assert (
        client.request("GET", path, None, query={"campaignId": f"{cid},x"}).body["resultCode"] == "02000006"
    )
    assert client.campaign_statistics(1, other).body["resultCode"] == "0200007"
    assert client.campaign_statistics(1, cid, batch_id="x" * 201).body["resultCode"] == "02000003"
