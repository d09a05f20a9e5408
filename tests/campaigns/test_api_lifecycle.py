"""The campaign state machine through the API, with the virtual clock (docs/campaign-lifecycle.md).

The tests' clock starts at Mon 2026-11-23 09:00:00 UTC; the server's zone is UTC."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from campaigns.factories import EXAMPLE_BODY, create_campaign, ensure_skill_queue, example_body
from outdial.models.calldata import call_data
from outdial.models.engine import attempts
from outdial.models.foundation import campaign_callers, campaign_holidays, campaigns

# Today 10:00 to 18:00: published at 09:00, executing from 10:00, completed from 18:00.
LATER_TODAY = {"strBeginTime": "2026-11-23 10:00:00", "strEndTime": "2026-11-23 18:00:00"}


_reads = itertools.count()


def status(client, campaign_id: int, vdn_id: int = 1) -> int:
    # An ignored query parameter makes each read a new signed request: the same one twice within a
    # (virtual) second would be refused as a replay.
    path = f"/rest/isales/v1/openapi/campaigns/{vdn_id}/{campaign_id}"
    response = client.request("GET", path, query={"read": next(_reads)})
    assert response.ok, response.body
    return response.body["returnObject"]["status"]


def test_the_clock_moves_a_published_campaign_through_executing_to_completed(client, clock) -> None:
    campaign_id = create_campaign(client, **LATER_TODAY)
    assert status(client, campaign_id) == 1
    clock.advance(3599)  # 09:59:59
    assert status(client, campaign_id) == 1
    clock.advance(1)  # 10:00:00, strBeginTime itself
    assert status(client, campaign_id) == 2
    clock.advance(8 * 3600 - 1)  # 17:59:59
    assert status(client, campaign_id) == 2
    clock.advance(1)  # 18:00:00, strEndTime: the period is [begin, end)
    assert status(client, campaign_id) == 4


def test_pause_and_resume_of_a_published_campaign(client, clock) -> None:
    campaign_id = create_campaign(client, **LATER_TODAY)
    assert client.pause_campaign(1, campaign_id).ok
    assert status(client, campaign_id) == 3
    clock.advance(3600)  # 10:00: a paused campaign stays paused inside its period
    assert status(client, campaign_id) == 3
    assert client.resume_campaign(1, campaign_id).ok
    assert status(client, campaign_id) == 2  # published again, and inside its period


def test_resume_before_the_period_is_published(client, clock) -> None:
    campaign_id = create_campaign(client, **LATER_TODAY)
    assert client.pause_campaign(1, campaign_id).ok
    clock.advance(60)
    assert client.resume_campaign(1, campaign_id).ok
    assert status(client, campaign_id) == 1


def test_resume_after_the_period_completes_it(client, clock, ctx) -> None:
    campaign_id = create_campaign(client, **LATER_TODAY)
    assert client.pause_campaign(1, campaign_id).ok
    clock.advance(10 * 3600)  # 19:00, after strEndTime: still paused (an operator's decision)
    assert status(client, campaign_id) == 3
    assert client.resume_campaign(1, campaign_id).ok
    assert status(client, campaign_id) == 4
    with ctx.db.read() as conn:
        completed_at = conn.execute(sa.select(campaigns.c.completed_at)).scalar_one()
    assert completed_at == clock.now_ms()


def test_pause_of_an_executing_campaign(client) -> None:
    campaign_id = create_campaign(client)  # the example: from 00:00 today, so executing
    assert status(client, campaign_id) == 2
    assert client.pause_campaign(1, campaign_id).ok
    assert status(client, campaign_id) == 3


@pytest.mark.parametrize(
    "setup, action",
    [
        ("paused", "pause"),
        ("published", "resume"),
        ("executing", "resume"),
        ("completed", "pause"),
        ("completed", "resume"),
    ],
)
def test_a_status_that_does_not_allow_it_is_0200011(client, clock, setup, action) -> None:
    campaign_id = create_campaign(client, **LATER_TODAY)
    if setup == "paused":
        assert client.pause_campaign(1, campaign_id).ok
    elif setup == "executing":
        clock.advance(3600)
    elif setup == "completed":
        clock.advance(9 * 3600)
    before = status(client, campaign_id)
    clock.advance(1)
    call = client.pause_campaign if action == "pause" else client.resume_campaign
    response = call(1, campaign_id)
    assert response.code == "0200011"
    clock.advance(1)
    assert status(client, campaign_id) == before


@pytest.mark.parametrize("action", ["get", "pause", "resume", "delete", "modify"])
def test_an_unknown_campaign_is_0200007(client, action) -> None:
    calls = {
        "get": lambda: client.get_campaign(1, 999999),
        "pause": lambda: client.pause_campaign(1, 999999),
        "resume": lambda: client.resume_campaign(1, 999999),
        "delete": lambda: client.delete_campaign(1, 999999, archive_history=0),
        "modify": lambda: client.modify_campaign(1, 999999, example_body()),
    }
    response = calls[action]()
    assert response.status_code == 200
    assert response.code == "0200007"


# --- delete ---------------------------------------------------------------------------------------------


def test_an_executing_campaign_cannot_be_deleted(client, ctx) -> None:
    campaign_id = create_campaign(client)
    response = client.delete_campaign(1, campaign_id)
    assert response.code == "0200009"
    assert status(client, campaign_id) == 2


def _add_data(ctx, campaign_id: int) -> None:
    now = ctx.clock.now_ms()
    with ctx.db.write() as conn:
        data_id = conn.execute(
            call_data.insert()
            .values(campaign_id=campaign_id, vdn_id=1, called="13800000000", created_at=now)
            .returning(call_data.c.id)
        ).scalar_one()
        conn.execute(
            attempts.insert().values(
                call_id="call-1",
                campaign_id=campaign_id,
                vdn_id=1,
                data_id=data_id,
                number_index=0,
                called="13800000000",
                state=1,
                created_at=now,
                local_day="2026-11-23",
            )
        )


def _count(ctx, table, campaign_id: int) -> int:
    with ctx.db.read() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.campaign_id == campaign_id)
        ).scalar_one()


def test_delete_without_archive_removes_the_campaign_and_its_data(client, ctx, clock) -> None:
    campaign_id = create_campaign(client, **LATER_TODAY)
    keep = create_campaign(client, **LATER_TODAY)
    assert client.add_holiday(1, campaign_id, {"name": "weekend", "type": 1, "week": "6,7"}).ok
    _add_data(ctx, campaign_id)
    assert client.delete_campaign(1, campaign_id, archive_history=0).ok
    assert client.get_campaign(1, campaign_id).code == "0200007"
    with ctx.db.read() as conn:
        assert conn.execute(sa.select(campaigns.c.id)).scalars().all() == [keep]
    for table in (call_data, attempts, campaign_callers, campaign_holidays):
        assert _count(ctx, table, campaign_id) == 0
    assert _count(ctx, campaign_callers, keep) == 2


def test_delete_with_no_body_is_archive_history_0(client, ctx) -> None:
    campaign_id = create_campaign(client, **LATER_TODAY)
    assert client.delete_campaign(1, campaign_id).ok
    with ctx.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(campaigns)).scalar_one() == 0


def test_delete_with_archive_keeps_it_as_history(client, ctx, clock) -> None:
    campaign_id = create_campaign(client, **LATER_TODAY)
    _add_data(ctx, campaign_id)
    assert client.delete_campaign(1, campaign_id, archive_history=1).ok
    # Gone for every interface...
    assert client.get_campaign(1, campaign_id).code == "0200007"
    clock.advance(1)
    assert client.pause_campaign(1, campaign_id).code == "0200007"
    assert client.list_campaigns(1).body["totalSize"] == 0
    # ...but kept, with its data, as history.
    with ctx.db.read() as conn:
        row = conn.execute(sa.select(campaigns)).one()
    assert row.deleted_at == clock.now_ms() - 1000
    assert _count(ctx, call_data, campaign_id) == 1
    assert _count(ctx, campaign_callers, campaign_id) == 2


@pytest.mark.parametrize("moment", ["published", "paused", "completed"])
def test_delete_is_allowed_when_not_executing(client, clock, moment) -> None:
    campaign_id = create_campaign(client, **LATER_TODAY)
    if moment == "paused":
        clock.advance(3600)
        assert client.pause_campaign(1, campaign_id).ok
    if moment == "completed":
        clock.advance(9 * 3600)
    assert client.delete_campaign(1, campaign_id, archive_history=1).ok


def test_a_bad_archive_history_is_refused(client, ctx) -> None:
    campaign_id = create_campaign(client, **LATER_TODAY)
    response = client.delete_campaign(1, campaign_id, archive_history=2)
    assert response.code == "02000007"
    assert response.body["resultDesc"].startswith("archiveHistory")
    assert status(client, campaign_id) == 1


# --- details --------------------------------------------------------------------------------------------


def test_details_show_the_v2_body_and_nothing_internal(client) -> None:
    campaign_id = create_campaign(client, name="details")
    body = client.get_campaign(1, campaign_id).body
    assert body["resultCode"] == "0200000"
    shown = body["returnObject"]
    assert "parsed" not in shown["retryPolicy"]
    assert shown["retryPolicy"] == EXAMPLE_BODY["retryPolicy"]
    assert {k: shown[k] for k in ("id", "name", "description", "status", "strBeginTime", "strEndTime")} == {
        "id": campaign_id,
        "name": "details",
        "description": "long0825",
        "status": 2,
        "strBeginTime": "2026-11-23 00:00:00",
        "strEndTime": "2026-11-24 23:59:59",
    }
    assert shown["deviceType"] == 2
    assert shown["callerNo"] == [
        {"accessCode": "88889527", "priority": 3},
        {"accessCode": "88880066", "priority": 4},
    ]
    assert shown["maxAlertingTime"] == 20
    assert shown["priority"] == 4
    assert shown["callBackUrl"] == "https://10.10.10.10/xxx/xxx/xxx"
    assert shown["scheduleParam"] == {
        "workdayBeginTime1": "00:00",
        "workdayEndTime1": "23:59",
        "workdayBeginTime2": None,
        "workdayEndTime2": None,
        "workdayBeginTime3": None,
        "workdayEndTime3": None,
        "holidayBeginTime1": "10:00",
        "holidayEndTime1": "11:00",
        "holidayBeginTime2": "13:00",
        "holidayEndTime2": "17:30",
        "holidayBeginTime3": None,
        "holidayEndTime3": None,
    }
    assert shown["skillParam"]["skillId"] == 2
    assert shown["skillParam"]["predictParam"]["predictMethod"] == 1
    assert shown["callPolicy"]["callType"] == 1
    assert shown["initStatus"] == 0


def test_details_show_the_times_in_the_campaigns_zone(client, ctx) -> None:
    # Shanghai is UTC+8: 2026-11-24 08:00 there is 2026-11-24 00:00 UTC.
    campaign_id = create_campaign(
        client,
        timeZone="Asia/Shanghai",
        strBeginTime="2026-11-24 08:00:00",
        strEndTime="2026-11-25 08:00:00",
    )
    shown = client.get_campaign(1, campaign_id).body["returnObject"]
    assert (shown["strBeginTime"], shown["strEndTime"]) == ("2026-11-24 08:00:00", "2026-11-25 08:00:00")
    with ctx.db.read() as conn:
        begin_at = conn.execute(sa.select(campaigns.c.begin_at)).scalar_one()
    assert begin_at == 1795392000000 + 86400 * 1000


# --- modify ---------------------------------------------------------------------------------------------


def test_modify_replaces_the_body_of_a_published_campaign(client, clock) -> None:
    campaign_id = create_campaign(client, name="before", **LATER_TODAY)
    new = example_body(
        name="after",
        description="changed",
        strBeginTime="2026-11-23 12:00:00",
        strEndTime="2026-11-23 20:00:00",
        callerNo=[{"accessCode": "5550001", "priority": 1}],
        maxAlertingTime=30,
    )
    response = client.modify_campaign(1, campaign_id, new)
    assert response.ok, response.body
    shown = client.get_campaign(1, campaign_id).body["returnObject"]
    assert (shown["name"], shown["description"], shown["strBeginTime"], shown["maxAlertingTime"]) == (
        "after",
        "changed",
        "2026-11-23 12:00:00",
        30,
    )
    assert shown["callerNo"] == [{"accessCode": "5550001", "priority": 1}]
    clock.advance(3 * 3600)  # 12:00: the new period has begun
    assert status(client, campaign_id) == 2


def test_modify_keeps_a_paused_campaign_paused(client, clock) -> None:
    campaign_id = create_campaign(client, name="paused one")
    assert client.pause_campaign(1, campaign_id).ok
    # initStatus 0 in a modify body does not publish it: resume does.
    response = client.modify_campaign(1, campaign_id, example_body(name="paused one", initStatus=0))
    assert response.ok, response.body
    assert status(client, campaign_id) == 3


def test_a_paused_campaign_that_began_days_ago_keeps_its_begin_in_a_modify(client, clock) -> None:
    campaign_id = create_campaign(client, name="long", strEndTime="2026-11-30 00:00:00")  # began today 00:00
    clock.advance(2 * 86400)  # Wed 2026-11-25 09:00
    assert client.pause_campaign(1, campaign_id).ok
    body = example_body(name="long", description="new", strEndTime="2026-11-30 00:00:00")
    assert client.modify_campaign(1, campaign_id, body).ok
    # A begin before the campaign's own first day is still refused.
    earlier = example_body(name="long", strBeginTime="2026-11-22 00:00:00", strEndTime="2026-11-30 00:00:00")
    assert client.modify_campaign(1, campaign_id, earlier).code == "0200002"
    assert client.get_campaign(1, campaign_id).body["returnObject"]["description"] == "new"


def test_an_executing_or_completed_campaign_cannot_be_modified(client, clock) -> None:
    campaign_id = create_campaign(client, name="running", **LATER_TODAY)
    clock.advance(3600)
    response = client.modify_campaign(1, campaign_id, example_body(name="renamed", **LATER_TODAY))
    assert response.code == "0200011"
    clock.advance(8 * 3600)
    response = client.modify_campaign(1, campaign_id, example_body(name="renamed", **LATER_TODAY))
    assert response.code == "0200011"
    assert client.get_campaign(1, campaign_id).body["returnObject"]["name"] == "running"


def test_modify_cannot_change_the_device_type(client) -> None:
    campaign_id = create_campaign(client, name="skill", **LATER_TODAY)
    ivr = example_body(
        name="skill",
        deviceType=3,
        skillParam=None,
        ivrParam={"deviceSign": "1", "callCount": 1, "callInterval": 3},
    )
    response = client.modify_campaign(1, campaign_id, ivr)
    assert response.code == "02000007"
    assert response.body["resultDesc"].startswith("deviceType")
    assert client.get_campaign(1, campaign_id).body["returnObject"]["deviceType"] == 2


def test_modify_applies_the_database_rules(client, clock) -> None:
    first = create_campaign(client, name="first", **LATER_TODAY)
    create_campaign(client, name="second", **LATER_TODAY)
    # Its own name is fine; another live campaign's is not.
    assert client.modify_campaign(1, first, example_body(name="first", description="x", **LATER_TODAY)).ok
    assert client.modify_campaign(1, first, example_body(name="second", **LATER_TODAY)).code == "0200005"
    other_skill = dict(EXAMPLE_BODY["skillParam"], skillId=9)
    response = client.modify_campaign(
        1, first, example_body(name="first", skillParam=other_skill, **LATER_TODAY)
    )
    assert response.code == "0200017"
    assert client.modify_campaign(1, first, example_body(name="", **LATER_TODAY)).code == "02000001"
    shown = client.get_campaign(1, first).body["returnObject"]
    assert (shown["name"], shown["description"], shown["skillParam"]["skillId"]) == ("first", "x", 2)


# --- other VDNs -----------------------------------------------------------------------------------------


def test_another_vdns_campaign_answers_0200007_as_if_it_did_not_exist(client, client_vdn2, clock) -> None:
    campaign_id = create_campaign(client, **LATER_TODAY)
    ensure_skill_queue(client_vdn2, vdn_id=2)
    answers = [
        client_vdn2.get_campaign(2, campaign_id),
        client_vdn2.pause_campaign(2, campaign_id),
        client_vdn2.resume_campaign(2, campaign_id),
        client_vdn2.delete_campaign(2, campaign_id, archive_history=0),
        client_vdn2.modify_campaign(2, campaign_id, example_body(**LATER_TODAY)),
        client_vdn2.list_holidays(2, campaign_id),
        client_vdn2.add_holiday(2, campaign_id, {"name": "x", "type": 1, "week": "7"}),
        client_vdn2.delete_holidays(2, campaign_id),
        client_vdn2.add_caller_numbers(2, campaign_id, [{"accessCode": "1", "priority": 1}]),
        client_vdn2.delete_caller_numbers(2, campaign_id, ["88889527"]),
        client_vdn2.get_retry_policy(2, campaign_id),
        client_vdn2.set_retry_policy(2, campaign_id, EXAMPLE_BODY["retryPolicy"]),
    ]
    for response in answers:
        assert (response.status_code, response.code) == (200, "0200007"), response.body
    missing = client_vdn2.get_campaign(2, 999999).body
    clock.advance(1)
    assert client_vdn2.get_campaign(2, campaign_id).body["resultDesc"] == missing["resultDesc"].replace(
        "999999", str(campaign_id)
    )
    assert status(client, campaign_id) == 1
    assert client.list_holidays(1, campaign_id).body["data"] == []


def test_a_key_used_on_another_vdns_path_is_401(client) -> None:
    campaign_id = create_campaign(client, **LATER_TODAY)
    for response in (
        client.get_campaign(2, campaign_id),
        client.pause_campaign(2, campaign_id),
        client.list_campaigns(2),
        client.add_campaign(2, example_body()),
    ):
        assert response.status_code == 401
        assert response.code == "401"


def test_a_campaign_id_that_is_not_a_number(client) -> None:
    # One-segment routes match digits only (they must not shadow e.g. DELETE …/blocklist): 404.
    assert client.request("GET", "/rest/isales/v1/openapi/campaigns/1/abc").status_code == 404
    response = client.request("PUT", "/rest/isales/v1/openapi/campaigns/1/abc/pause")
    assert (response.status_code, response.code) == (200, "02000006")
    # Auth still comes first: another VDN's path is 401, not a parameter error.
    assert client.request("PUT", "/rest/isales/v1/openapi/campaigns/2/abc/pause").status_code == 401
