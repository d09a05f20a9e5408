"""Holidays, calling numbers and the retry policy of a campaign."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from campaigns.factories import create_campaign
from outdial.campaigns.parts import parse_holiday
from outdial.errors import ApiError
from outdial.models.foundation import campaign_callers, campaigns

# --- holidays -------------------------------------------------------------------------------------------


def holidays(client, campaign_id: int) -> list[dict]:
    response = client.list_holidays(1, campaign_id)
    assert response.ok, response.body
    return response.body["data"]


def test_add_list_change_and_delete_holidays(client, clock) -> None:
    campaign_id = create_campaign(client)
    weekend = client.add_holiday(1, campaign_id, {"name": "weekend", "type": 1, "week": "7,6"})
    assert weekend.ok, weekend.body
    new_year = client.add_holiday(
        1, campaign_id, {"name": "new year", "type": 2, "beginTime": "2026-12-31", "endTime": "2027-01-01"}
    )
    yearly = client.add_holiday(
        1, campaign_id, {"name": "winter", "type": 3, "beginTime": "12-24", "endTime": "01-02"}
    )
    ids = [r.body["returnObject"]["id"] for r in (weekend, new_year, yearly)]
    assert holidays(client, campaign_id) == [
        {"id": ids[0], "name": "weekend", "type": 1, "week": "6,7", "beginTime": None, "endTime": None},
        {
            "id": ids[1],
            "name": "new year",
            "type": 2,
            "week": None,
            "beginTime": "2026-12-31",
            "endTime": "2027-01-01",
        },
        {"id": ids[2], "name": "winter", "type": 3, "week": None, "beginTime": "12-24", "endTime": "01-02"},
    ]
    changed = client.update_holiday(1, campaign_id, {"id": ids[0], "name": "sundays", "type": 1, "week": "7"})
    assert changed.ok, changed.body
    assert client.delete_holiday(1, campaign_id, ids[1]).ok
    clock.advance(1)
    assert [(h["name"], h["week"]) for h in holidays(client, campaign_id)] == [
        ("sundays", "7"),
        ("winter", None),
    ]
    assert client.delete_holidays(1, campaign_id).ok
    clock.advance(1)
    assert holidays(client, campaign_id) == []


@pytest.mark.parametrize(
    "body, code, field",
    [
        ({"type": 1, "week": "6"}, "02000001", "name"),
        ({"name": "x" * 31, "type": 1, "week": "6"}, "02000003", "name"),
        ({"name": "h", "type": 4}, "02000007", "type"),
        ({"name": "h", "type": 1}, "02000001", "week"),
        ({"name": "h", "type": 1, "week": "0,6"}, "02000007", "week"),
        ({"name": "h", "type": 1, "week": "Mon"}, "02000007", "week"),
        ({"name": "h", "type": 2, "beginTime": "2026-12-01"}, "02000001", "endTime"),
        (
            {"name": "h", "type": 2, "beginTime": "2026/12/01", "endTime": "2026-12-02"},
            "0200030",
            "beginTime",
        ),
        (
            {"name": "h", "type": 2, "beginTime": "2026-02-30", "endTime": "2026-03-02"},
            "0200030",
            "beginTime",
        ),
        (
            {"name": "h", "type": 2, "beginTime": "2026-12-02", "endTime": "2026-12-01"},
            "0200010",
            "beginTime",
        ),
        ({"name": "h", "type": 3, "beginTime": "2026-12-01", "endTime": "12-02"}, "0200030", "beginTime"),
        ({"name": "h", "type": 3, "beginTime": "13-01", "endTime": "12-02"}, "0200030", "beginTime"),
    ],
)
def test_a_bad_holiday_is_refused_with_its_field(client, ctx, body, code, field) -> None:
    campaign_id = create_campaign(client)
    response = client.add_holiday(1, campaign_id, body)
    assert response.code == code
    assert response.body["resultDesc"].startswith(field)
    assert holidays(client, campaign_id) == []


def test_february_29_is_a_yearly_date(client) -> None:
    campaign_id = create_campaign(client)
    body = {"name": "leap", "type": 3, "beginTime": "02-29", "endTime": "02-29"}
    assert client.add_holiday(1, campaign_id, body).ok


def test_holiday_names_are_unique_per_campaign(client, clock) -> None:
    first = create_campaign(client)
    second = create_campaign(client)
    body = {"name": "weekend", "type": 1, "week": "6,7"}
    assert client.add_holiday(1, first, body).ok
    clock.advance(1)
    assert client.add_holiday(1, first, body).code == "0200005"
    assert client.add_holiday(1, second, body).ok
    other = client.add_holiday(1, first, {"name": "sunday", "type": 1, "week": "7"}).body["returnObject"][
        "id"
    ]
    renamed = client.update_holiday(1, first, {"id": other, "name": "weekend", "type": 1, "week": "7"})
    assert renamed.code == "0200005"


def test_at_most_20_holidays(client) -> None:
    campaign_id = create_campaign(client)
    for n in range(20):
        assert client.add_holiday(1, campaign_id, {"name": f"h{n}", "type": 1, "week": "6"}).ok
    assert client.add_holiday(1, campaign_id, {"name": "h20", "type": 1, "week": "6"}).code == "02000011"
    assert len(holidays(client, campaign_id)) == 20


def test_unknown_holiday_ids_are_0200007(client) -> None:
    campaign_id = create_campaign(client)
    other = create_campaign(client)
    theirs = client.add_holiday(1, other, {"name": "x", "type": 1, "week": "6"}).body["returnObject"]["id"]
    # A holiday of another campaign is as unknown as one that never existed.
    assert client.delete_holiday(1, campaign_id, theirs).code == "0200007"
    assert client.update_holiday(
        1, campaign_id, {"id": theirs, "name": "y", "type": 1, "week": "6"}
    ).code == ("0200007")
    assert client.delete_holiday(1, campaign_id, 999999).code == "0200007"
    assert len(holidays(client, other)) == 1


def test_holidays_change_the_campaigns_updated_at(client, ctx, clock) -> None:
    # The engine reloads a campaign whose updated_at moved.
    campaign_id = create_campaign(client)
    clock.advance(60)
    assert client.add_holiday(1, campaign_id, {"name": "x", "type": 1, "week": "6"}).ok
    with ctx.db.read() as conn:
        assert conn.execute(sa.select(campaigns.c.updated_at)).scalar_one() == clock.now_ms()


# --- calling numbers ------------------------------------------------------------------------------------


def callers(client, campaign_id: int, ctx) -> list[tuple[str, int]]:
    with ctx.db.read() as conn:
        rows = conn.execute(
            sa.select(campaign_callers.c.access_code, campaign_callers.c.priority)
            .where(campaign_callers.c.campaign_id == campaign_id)
            .order_by(campaign_callers.c.access_code)
        ).all()
    return [tuple(r) for r in rows]


def test_add_and_delete_calling_numbers(client, ctx, clock) -> None:
    campaign_id = create_campaign(client)  # 88889527 (3) and 88880066 (4)
    added = client.add_caller_numbers(
        1, campaign_id, [{"accessCode": "5550001", "priority": 1}, {"accessCode": "88880066", "priority": 2}]
    )
    assert added.ok, added.body
    assert callers(client, campaign_id, ctx) == [("5550001", 1), ("88880066", 2), ("88889527", 3)]
    # Details show them highest priority first.
    shown = client.get_campaign(1, campaign_id).body["returnObject"]["callerNo"]
    assert [c["accessCode"] for c in shown] == ["5550001", "88880066", "88889527"]
    assert client.delete_caller_numbers(1, campaign_id, ["88880066", "5550001"]).ok
    assert callers(client, campaign_id, ctx) == [("88889527", 3)]


def test_the_last_calling_number_cannot_be_deleted(client, ctx) -> None:
    campaign_id = create_campaign(client)
    response = client.delete_caller_numbers(1, campaign_id, ["88889527", "88880066"])
    assert response.code == "0200001"
    assert callers(client, campaign_id, ctx) == [("88880066", 4), ("88889527", 3)]


def test_deleting_a_number_the_campaign_does_not_have_is_refused(client, ctx) -> None:
    campaign_id = create_campaign(client)
    response = client.delete_caller_numbers(1, campaign_id, ["88889527", "123"])
    assert response.code == "02000007"
    assert response.body["resultDesc"].startswith("callerNo[1].accessCode")
    assert len(callers(client, campaign_id, ctx)) == 2


@pytest.mark.parametrize(
    "items, code",
    [
        ([], "02000001"),
        ([{"accessCode": "12a", "priority": 1}], "02000002"),
        ([{"accessCode": "1" * 33, "priority": 1}], "02000003"),
        ([{"accessCode": "1", "priority": 6}], "02000007"),
        ([{"accessCode": "1"}], "02000001"),
        ([{"accessCode": "1", "priority": 1}, {"accessCode": "1", "priority": 2}], "02000009"),
        ([{"accessCode": str(n), "priority": 1} for n in range(101)], "02000011"),
    ],
)
def test_bad_calling_numbers_are_refused(client, ctx, items, code) -> None:
    campaign_id = create_campaign(client)
    assert client.add_caller_numbers(1, campaign_id, items).code == code
    assert len(callers(client, campaign_id, ctx)) == 2


def test_at_most_100_calling_numbers_in_all(client, ctx) -> None:
    campaign_id = create_campaign(client)  # has 2
    first = [{"accessCode": str(1000 + n), "priority": 1} for n in range(98)]
    assert client.add_caller_numbers(1, campaign_id, first).ok
    response = client.add_caller_numbers(1, campaign_id, [{"accessCode": "9", "priority": 1}])
    assert response.code == "02000011"
    assert len(callers(client, campaign_id, ctx)) == 100


# --- retry policy ---------------------------------------------------------------------------------------


def test_the_retry_policy_is_read_back_as_sent(client) -> None:
    campaign_id = create_campaign(client)
    response = client.get_retry_policy(1, campaign_id)
    assert response.ok, response.body
    assert response.body["data"] == {
        "retryPolicyId": campaign_id,
        "policyType": 1,
        "retryDay": None,
        "retryTimes": None,
        "callInterval": None,
        "resultRetry": None,
        "policyJson": "[{'dataType':'SI','type':1,'policy':[{'result':4,'retryNumber':3,'callInterval':600}]}]",
        "noRetryPolicy": None,
        "busiPolicy": None,
    }


def test_set_a_retry_policy(client, ctx, clock) -> None:
    campaign_id = create_campaign(client)
    policy = {
        "policyType": 1,
        "policyJson": '[{"dataType":"ST","type":"0","policy":{"retryDay":"2","retryTimes":"2"}}]',
        "busiPolicy": '[{"busiResultCode":"B1","busiResultPolicy":0}]',
    }
    response = client.set_retry_policy(1, campaign_id, policy)
    assert response.ok, response.body
    clock.advance(1)
    data = client.get_retry_policy(1, campaign_id).body["data"]
    assert (data["policyType"], data["policyJson"], data["busiPolicy"]) == (
        1,
        policy["policyJson"],
        policy["busiPolicy"],
    )
    # The engine reads the parsed form from the stored spec.
    with ctx.db.read() as conn:
        spec = conn.execute(sa.select(campaigns.c.spec)).scalar_one()
    assert spec["retryPolicy"]["parsed"]["byNumberType"] == [
        {"dataType": "ST", "type": 0, "common": {"retryDay": 2, "retryTimes": 2}, "byResult": None}
    ]
    assert spec["retryPolicy"]["parsed"]["business"] == [
        {"busiResultCode": "B1", "busiResultSubCode": None, "busiResultPolicy": 0, "callInterval": None}
    ]
    assert "parsed" not in client.get_campaign(1, campaign_id).body["returnObject"]["retryPolicy"]


def test_a_round_call_campaign_keeps_a_number_type_policy(client) -> None:
    # The example's callPolicy calls by round (callType 1), which requires policyType 1.
    campaign_id = create_campaign(client)
    common = {"policyType": 0, "retryDay": 2, "retryTimes": 2, "callInterval": 60}
    response = client.set_retry_policy(1, campaign_id, common)
    assert response.code == "02000009"
    assert client.get_retry_policy(1, campaign_id).body["data"]["policyType"] == 1


def test_a_common_policy_for_a_campaign_called_by_sequence(client, clock) -> None:
    campaign_id = create_campaign(client, callPolicy={"callType": 0})
    common = {
        "policyType": 0,
        "retryDay": 2,
        "retryTimes": "3",
        "callInterval": 60,
        "noRetryPolicy": ["0100"],
    }
    assert client.set_retry_policy(1, campaign_id, common).ok
    data = client.get_retry_policy(1, campaign_id).body["data"]
    assert (data["retryDay"], data["retryTimes"], data["noRetryPolicy"]) == (2, "3", ["0100"])
    bad = {"policyType": 0, "retryDay": 9, "retryTimes": 1, "callInterval": 60}
    clock.advance(1)
    assert client.set_retry_policy(1, campaign_id, bad).code == "02000007"


@given(days=st.lists(st.integers(1, 7), min_size=1, max_size=10))
def test_any_list_of_weekdays_is_stored_sorted_without_repeats(days) -> None:
    text = ",".join(str(d) for d in days)
    holiday = parse_holiday({"name": "h", "type": 1, "week": text})
    assert holiday.week == ",".join(str(d) for d in sorted(set(days)))


@given(month=st.integers(1, 12), day=st.integers(1, 31))
def test_a_yearly_date_is_accepted_exactly_when_it_exists_in_a_leap_year(month, day) -> None:
    days_in_month = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    text = f"{month:02d}-{day:02d}"
    body = {"name": "h", "type": 3, "beginTime": text, "endTime": "12-31"}
    if day <= days_in_month:
        assert parse_holiday(body).begin_date == text
    else:
        with pytest.raises(ApiError) as refused:
            parse_holiday(body)
        assert refused.value.code == "0200030"
