import pytest

from outdial.client import Client
from outdial.context import AppContext
from results import factory

START = 1795424400000  # 2026-11-23 09:00:00 UTC


@pytest.fixture
def seeded(ctx: AppContext) -> int:
    with ctx.db.write() as conn:
        cid = factory.campaign(conn, 1, timezone="Asia/Shanghai")
        d1 = factory.record(conn, cid, 1, session_id="s1")
        d2 = factory.record(conn, cid, 1, session_id="s2")
        # record 1: failed attempt then a successful final one; record 2: one final failure
        factory.attempt(
            conn, cid, 1, d1, "a1", START, call_status=5, fail_code="34601", result_code="R1", session_id="s1"
        )
        factory.attempt(
            conn,
            cid,
            1,
            d1,
            "a2",
            START + 600_000,
            final=True,
            session_id="s1",
            record_path="Y:/r.V3",
            custom_field="cf",
        )
        factory.attempt(
            conn,
            cid,
            1,
            d2,
            "a3",
            START + 1_200_000,
            final=True,
            call_status=5,
            fail_code="34602",
            result_code="R2",
            session_id="s2",
            local_day="2026-11-25",
        )
        factory.attempt(conn, cid, 1, d2, "open", START + 1_800_000, state=0, session_id="s2")
    return cid


def test_final_results_only_by_default(client: Client, seeded: int) -> None:
    answer = client.query_call_results(1, seeded).body
    assert answer["resultCode"] == "0200000" and answer["totalCount"] == 2
    assert [item["callId"] for item in answer["data"]] == ["a2", "a3"]
    assert answer["data"][0] == {
        "campaignId": str(seeded),
        "sessionId": "s1",
        "called": "60584",
        "callTimeStr": "2026-11-23 17:10:00",  # 09:10 UTC in Shanghai (UTC+8)
        "callStatus": 6,
        "failCode": "0",
        "resultCode": "OB99999",
        "vdnId": 1,
        "callId": "a2",
        "recordPath": "Y:/r.V3",
    }  # exactly Table 5: customField is a filter here, not a field of the items
    assert answer["data"][1]["recordPath"] == "" and answer["data"][1]["failCode"] == "34602"
    assert (
        answer["resultDesc"] == answer["returnDesc"] == "Query Success!" and answer["returnCode"] == "0200000"
    )


def test_detail_filters_and_paging(client: Client, seeded: int) -> None:
    detail = client.query_call_results(1, seeded, {"showDetail": 1}).body
    assert detail["totalCount"] == 3  # the open attempt is not finished
    page2 = client.query_call_results(1, seeded, {"showDetail": 1, "pageSize": 2, "pageNum": 2}).body
    assert [i["callId"] for i in page2["data"]] == ["a3"]
    s1 = client.query_call_results(1, seeded, {"showDetail": 1, "sessionId": "s1"}).body
    assert [i["callId"] for i in s1["data"]] == ["a1", "a2"]
    cf = client.query_call_results(1, seeded, {"showDetail": 1, "customField": "cf"}).body
    assert [i["callId"] for i in cf["data"]] == ["a2"]
    days = client.query_call_results(
        1, seeded, {"showDetail": 1, "beginTime": "2026-11-24", "endTime": "2026-11-25"}
    ).body
    assert [i["callId"] for i in days["data"]] == ["a3"]  # endTime's day is included


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"beginTime": "2026-11-01"}, "0200008"),
        ({"endTime": "2026-11-01"}, "0200008"),
        ({"beginTime": "2026/11/01", "endTime": "2026-11-02"}, "0200009"),
        ({"beginTime": "2026-11-31", "endTime": "2026-12-02"}, "0200009"),
        ({"beginTime": "2026-11-02", "endTime": "2026-11-02"}, "0200010"),
        ({"beginTime": "2026-11-01", "endTime": "2026-12-02"}, "0200011"),
        ({"beginTime": "", "endTime": "2026-11-02"}, "0200008"),
        ({"beginTime": "2026-W47-1", "endTime": "2026-11-30"}, "0200009"),  # ISO week date: not YYYY-MM-DD
        ({"beginTime": "2026-11-1", "endTime": "2026-11-30"}, "0200009"),
        ({"beginTime": 20261101, "endTime": "2026-11-30"}, "0200009"),
        ({"beginTime": "2026-11-03", "endTime": "2026-11-02"}, "0200010"),
        ({"showDetail": 2}, "02000007"),
        ({"showDetail": "x"}, "02000006"),
        ({"pageSize": 0}, "02000007"),
        ({"pageSize": 501}, "02000007"),
        ({"showDetail": 1, "pageSize": 101}, "02000007"),
        ({"pageNum": 0}, "02000007"),
        ({"pageNum": 2**31}, "02000007"),
        ({"sessionId": "x" * 33}, "02000003"),
        ({"customField": "x" * 201}, "02000003"),
        ({"sessionId": {"a": 1}}, "02000006"),
    ],
)
def test_date_rules(client: Client, seeded: int, body: dict[str, str], code: str) -> None:
    assert client.query_call_results(1, seeded, body).body["resultCode"] == code


def test_refusals_name_their_field(client: Client, seeded: int) -> None:
    assert "pageSize" in client.query_call_results(1, seeded, {"pageSize": 501}).body["resultDesc"]
    assert (
        "beginTime"
        in client.query_call_results(1, seeded, {"beginTime": "x", "endTime": "y"}).body["resultDesc"]
    )


def test_limits_and_edges_accepted(client: Client, seeded: int) -> None:
    assert client.query_call_results(1, seeded, {"pageSize": 500}).body["resultCode"] == "0200000"
    assert (
        client.query_call_results(1, seeded, {"showDetail": 1, "pageSize": 100}).body["resultCode"]
        == "0200000"
    )
    # exactly 30 days apart is allowed (2026-11-01 + 30 days = 2026-12-01)
    month = client.query_call_results(1, seeded, {"beginTime": "2026-11-01", "endTime": "2026-12-01"}).body
    assert month["resultCode"] == "0200000" and month["totalCount"] == 2
    # a page past the end: the total, no items
    past = client.query_call_results(1, seeded, {"pageSize": 1, "pageNum": 3}).body
    assert (past["totalCount"], past["data"]) == (2, [])
    # numbers given as strings of digits are read as Jackson would
    text = client.query_call_results(1, seeded, {"showDetail": "1", "pageSize": "1", "pageNum": "2"}).body
    assert [i["callId"] for i in text["data"]] == ["a2"]
    # an empty body is the defaults: showDetail 0, page 1
    assert (
        client.request("POST", f"/rest/isales/v1/openapi/campaigns/1/callresult/{seeded}").body["totalCount"]
        == 2
    )


def test_showdetail_0_follows_a_recycled_record(client: Client, ctx: AppContext, seeded: int) -> None:
    """A record whose final result was cleared (recycled to be called again) has no final result."""
    import sqlalchemy as sa

    from outdial.engine import repository as engine_repo
    from outdial.models.calldata import call_data

    with ctx.db.write() as conn:
        data_id = conn.execute(sa.select(call_data.c.id).where(call_data.c.session_id == "s2")).scalar_one()
        engine_repo.set_record(conn, data_id, {"final_attempt_id": None, "state": 0})
    answer = client.query_call_results(1, seeded).body
    assert [i["callId"] for i in answer["data"]] == ["a2"] and answer["totalCount"] == 1


def test_campaign_of_another_vdn_is_not_found(
    client: Client, client_vdn2: Client, ctx: AppContext, seeded: int
) -> None:
    assert client_vdn2.query_call_results(2, seeded).body["resultCode"] == "0200007"
    assert client.query_call_results(1, seeded + 999).body["resultCode"] == "0200007"
    assert client_vdn2.query_call_results(1, seeded).status_code == 401  # VDN 2's key cannot name VDN 1
    import sqlalchemy as sa

    from outdial.models.foundation import campaigns

    with ctx.db.write() as conn:
        conn.execute(sa.update(campaigns).where(campaigns.c.id == seeded).values(deleted_at=1))
    assert client.query_call_results(1, seeded).body["resultCode"] == "0200007"
