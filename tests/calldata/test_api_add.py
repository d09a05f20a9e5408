"""POST /rest/isales/v1/openapi/campaigns/{vdnId}/calldata/{campaignId} through the signed client, on the
real app and database (seed 001 "Adding Outbound Numbers"; decisions in docs/calldata.md)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from calldata.conftest import DOCUMENT_EXAMPLE, TOMORROW, stored
from campaigns.factories import create_campaign
from conftest import TEST_SECRET
from outdial.app import create_app
from outdial.calldata import repository as calldata_repo
from outdial.calldata.records import CalledNumber, CallRecord
from outdial.client import Client
from outdial.context import AppContext
from outdial.db import Database
from outdial.models import calldata as cd
from outdial.models.calldata import call_data, rate_limits
from outdial.models.engine import attempts


def numbers(*called: str) -> list[dict[str, Any]]:
    return [{"called": c} for c in called]


def finish(ctx: AppContext, campaign_id: int, called: str, state: int = cd.FINISHED) -> None:
    """What the engine does when it is done with a record."""
    with ctx.db.write() as conn:
        conn.execute(
            call_data.update()
            .where(call_data.c.campaign_id == campaign_id, call_data.c.called == called)
            .values(state=state)
        )


# --- success --------------------------------------------------------------------------------------------


def test_the_documents_example_is_stored_and_answered_with_its_shape(client, ctx, campaign_id) -> None:
    response = client.add_call_data(1, campaign_id, DOCUMENT_EXAMPLE)
    assert response.status_code == 200
    assert response.body == {
        "resultCode": "0200000",
        "resultDesc": "",
        "returnCode": "0200000",
        "returnDesc": "",
        # the extension fields: seed 004's campaign calls by round only numbers of type "SI" (issue 18)
        "returnObject": {
            "totalSize": 4,
            "notCalledCount": 4,
            "notCalledReason": "callPolicy calls by round only numbers of type SI; "
            "this record's numbers have type none",
        },
    }
    rows = stored(ctx, campaign_id)
    assert [(r.session_id, r.called) for r in rows] == [
        ("00750", "80021"),
        ("00850", "80022"),
        ("00950", "80023"),
        ("01050", "80024"),
    ]
    assert {(r.vdn_id, r.state, r.attempt_count, r.numbers, r.import_task_id) for r in rows} == {
        (1, cd.WAITING, 0, None, None)
    }


def test_every_field_is_stored_and_recycle_time_is_read_in_the_campaigns_zone(client, ctx) -> None:
    campaign_id = create_campaign(client, timeZone="Asia/Shanghai", **TOMORROW)
    record = {
        "sessionId": "s" * 32,
        "called": "*12#" + "9" * 20,
        "caller": "8" * 24,
        "customField": "batch 7 - ok_chars",
        "recycleTime": "2026-11-30 18:30:00",
        "callData": '{"fullName":"Lin Zihang"}' + " " * 999,
    }
    response = client.add_call_data(1, campaign_id, [record])
    assert response.ok, response.body
    (row,) = stored(ctx, campaign_id)
    assert (row.session_id, row.called, row.caller, row.custom_field, row.call_data) == (
        record["sessionId"],
        record["called"],
        record["caller"],
        record["customField"],
        record["callData"],
    )
    # 2026-11-30 18:30:00 in Shanghai (UTC+8) is 10:30:00 UTC: the tests' start (2026-11-23 09:00:00 UTC,
    # 1795424400000 ms) plus 7 days 1 h 30 min (610200000 ms)
    assert row.recycle_at == 1795424400000 + 610_200_000


def test_total_size_counts_the_numbers_the_campaign_still_has_to_call(
    client, ctx, clock, campaign_id
) -> None:
    assert client.add_call_data(1, campaign_id, DOCUMENT_EXAMPLE).body["returnObject"]["totalSize"] == 4
    finish(ctx, campaign_id, "80021")  # called and done
    finish(ctx, campaign_id, "80022", cd.IN_PROGRESS)  # being called: still to be finished
    clock.advance(1)
    response = client.add_call_data(1, campaign_id, numbers("90001", "90002"))
    # 4 added - 1 finished + 2 new = 5 (80022 in progress, 80023, 80024, 90001, 90002)
    assert response.body["returnObject"]["totalSize"] == 5


def test_numbers_can_be_added_while_published_or_paused(client, ctx, clock) -> None:
    published = create_campaign(client, **TOMORROW)
    paused_while_in_its_period = create_campaign(client, initStatus=1)  # today 00:00 - tomorrow 23:59:59
    assert client.add_call_data(1, published, numbers("1")).ok
    assert client.add_call_data(1, paused_while_in_its_period, numbers("2")).ok
    assert [r.called for r in stored(ctx)] == ["1", "2"]


def test_a_json_number_is_taken_as_its_digits(client, ctx, campaign_id) -> None:
    response = client.add_call_data(1, campaign_id, [{"called": 13800000001, "sessionId": 7}])
    assert response.ok, response.body
    assert [(r.called, r.session_id) for r in stored(ctx)] == [("13800000001", "7")]


# --- refusals of the body: code, field named, nothing stored -------------------------------------------


def _record(**fields: Any) -> dict[str, Any]:
    return {"called": "13800000001", **fields}


BAD_BODIES = [
    pytest.param({}, "02000001", "callDataList", id="no-list"),
    pytest.param({"callDataList": []}, "02000001", "callDataList", id="empty-list"),
    pytest.param({"callDataList": {"called": "1"}}, "02000006", "callDataList", id="list-not-array"),
    pytest.param({"callDataList": numbers(*(str(n) for n in range(21)))}, "0200029", "callDataList", id="21"),
    pytest.param({"callDataList": ["13800000001"]}, "02000006", "callDataList[0]", id="item-not-object"),
    pytest.param(
        {"callDataList": [{"sessionId": "1"}]}, "02000001", "callDataList[0].called", id="no-called"
    ),
    pytest.param(
        {"callDataList": [_record(called="")]}, "02000001", "callDataList[0].called", id="empty-called"
    ),
    pytest.param(
        {"callDataList": [_record(called="1380000000a")]}, "02000002", "callDataList[0].called", id="a"
    ),
    pytest.param(
        {"callDataList": [_record(called="+8613800000001")]}, "02000002", "callDataList[0].called", id="+"
    ),
    pytest.param(
        {"callDataList": [_record(called="1" * 25)]}, "02000003", "callDataList[0].called", id="25-digits"
    ),
    pytest.param(
        {"callDataList": [_record(called=True)]}, "02000006", "callDataList[0].called", id="called-bool"
    ),
    pytest.param(
        {"callDataList": [_record(sessionId="s" * 33)]}, "02000003", "callDataList[0].sessionId", id="sid"
    ),
    pytest.param(
        {"callDataList": [_record(caller="1" * 25)]}, "02000003", "callDataList[0].caller", id="caller"
    ),
    pytest.param(
        {"callDataList": [_record(customField="c" * 201)]},
        "02000003",
        "callDataList[0].customField",
        id="cf-long",
    ),
    pytest.param(
        {"callDataList": [_record(customField="batch,7")]},
        "02000002",
        "callDataList[0].customField",
        id="cf-comma",
    ),
    pytest.param(
        {"callDataList": [_record(customField="price ¥5")]},
        "02000002",
        "callDataList[0].customField",
        id="cf-yen",
    ),
    pytest.param(
        {"callDataList": [_record(customField="a–b")]},
        "02000002",
        "callDataList[0].customField",
        id="cf-en-dash",
    ),
    pytest.param(
        {"callDataList": [_record(callData="d" * 1025)]},
        "02000003",
        "callDataList[0].callData",
        id="calldata-long",
    ),
    pytest.param(
        {"callDataList": [_record(recycleTime="2026/12/01 10:00:00")]},
        "0200030",
        "callDataList[0].recycleTime",
        id="recycle-slashes",
    ),
    pytest.param(
        {"callDataList": [_record(recycleTime="2026-12-01T10:00:00")]},
        "0200030",
        "callDataList[0].recycleTime",
        id="recycle-iso-t",
    ),
    pytest.param(
        {"callDataList": [_record(recycleTime="2027-02-29 10:00:00")]},
        "0200030",
        "callDataList[0].recycleTime",
        id="recycle-not-a-day",
    ),
    pytest.param(
        {"callDataList": [*numbers("1", "2"), _record(called="1")]},
        "0200018",
        "callDataList[2].called",
        id="dup",
    ),
]


@pytest.mark.parametrize(("body", "code", "field"), BAD_BODIES)
def test_a_bad_body_is_refused_with_its_code_and_field_and_stores_nothing(
    client, ctx, campaign_id, body, code, field
) -> None:
    response = client.request("POST", f"/rest/isales/v1/openapi/campaigns/1/calldata/{campaign_id}", body)
    assert response.status_code == 200
    assert response.code == code, response.body
    assert response.body["returnCode"] == code
    assert response.body["resultDesc"].startswith(field), response.body
    assert stored(ctx) == []


def test_one_bad_record_refuses_the_whole_request(client, ctx, campaign_id) -> None:
    body = numbers("80021", "80022", "8002x", "80024")
    response = client.add_call_data(1, campaign_id, body)
    assert response.code == "02000002"
    assert response.body["resultDesc"] == "callDataList[2].called may contain only digits, * and #"
    assert stored(ctx) == []


def test_twenty_records_are_accepted(client, ctx, campaign_id) -> None:
    response = client.add_call_data(1, campaign_id, numbers(*(f"1380000{n:04d}" for n in range(20))))
    assert response.body["returnObject"]["totalSize"] == 20
    assert len(stored(ctx)) == 20


def test_malformed_json_is_02000008(client, campaign_id) -> None:
    path = f"/rest/isales/v1/openapi/campaigns/1/calldata/{campaign_id}"
    response = client.request("POST", path, raw_body=b'{"callDataList": [')
    assert response.code == "02000008"


# --- the campaign --------------------------------------------------------------------------------------


def test_an_unknown_or_deleted_campaign_is_0200007(client, ctx, campaign_id) -> None:
    response = client.add_call_data(1, 99999, numbers("1"))
    assert (response.code, response.body["resultDesc"]) == ("0200007", "campaign 99999 does not exist")
    assert client.delete_campaign(1, campaign_id).ok
    assert client.add_call_data(1, campaign_id, numbers("1")).code == "0200007"
    assert stored(ctx) == []


def test_another_vdns_campaign_does_not_exist_for_this_vdn(client, client_vdn2, ctx) -> None:
    theirs = create_campaign(client_vdn2, vdn_id=2, **TOMORROW)
    response = client.add_call_data(1, theirs, numbers("1"))
    assert response.code == "0200007"
    assert stored(ctx) == []


def test_vdn_2s_key_cannot_add_to_vdn_1(client_vdn2, ctx, campaign_id) -> None:
    response = client_vdn2.add_call_data(1, campaign_id, numbers("1"))
    assert response.status_code == 401
    assert stored(ctx) == []


def test_numbers_cannot_be_added_while_executing_or_when_completed(client, ctx, clock) -> None:
    executing = create_campaign(client)  # the example: today 00:00 - tomorrow 23:59:59, published
    response = client.add_call_data(1, executing, numbers("1"))
    assert response.code == "0200019"
    assert "executing" in response.body["resultDesc"]
    later = create_campaign(client, strBeginTime="2026-11-23 10:00:00", strEndTime="2026-11-23 18:00:00")
    clock.advance(9 * 3600)  # 18:00:00: past strEndTime
    response = client.add_call_data(1, later, numbers("2"))
    assert response.code == "0200019"
    assert "completed" in response.body["resultDesc"]
    assert stored(ctx) == []


# --- one add per campaign per second -------------------------------------------------------------------


def test_a_second_add_within_one_second_is_0200022_and_stores_nothing(
    client, ctx, clock, campaign_id
) -> None:
    assert client.add_call_data(1, campaign_id, numbers("1")).ok
    clock.advance(0.999)
    response = client.add_call_data(1, campaign_id, numbers("2"))
    assert response.code == "0200022"
    assert [r.called for r in stored(ctx)] == ["1"]
    clock.advance(0.001)  # exactly one second after the first add
    assert client.add_call_data(1, campaign_id, numbers("3")).ok
    assert [r.called for r in stored(ctx)] == ["1", "3"]


def test_the_second_is_per_campaign(client, ctx, campaign_id) -> None:
    other = create_campaign(client, **TOMORROW)
    assert client.add_call_data(1, campaign_id, numbers("1")).ok
    assert client.add_call_data(1, other, numbers("1")).ok


def test_a_refused_add_does_not_take_the_seconds_slot(client, ctx, campaign_id) -> None:
    assert client.add_call_data(1, campaign_id, numbers("1", "1")).code == "0200018"
    assert client.add_call_data(1, campaign_id, numbers("1", "x")).code == "02000002"
    assert client.add_call_data(1, campaign_id, numbers("1")).ok
    with ctx.db.read() as conn:
        slots = conn.execute(sa.select(rate_limits)).all()
    assert len(slots) == 1


def test_a_refusal_after_the_slot_was_taken_gives_it_back(client, ctx, clock, campaign_id) -> None:
    assert client.add_call_data(1, campaign_id, numbers("1")).ok
    clock.advance(1)
    assert client.add_call_data(1, campaign_id, numbers("1")).code == "0200018"  # checked after the slot
    assert client.add_call_data(1, campaign_id, numbers("2")).ok  # same instant: the slot is still free


def _second_instance(database: Database, ctx: AppContext) -> tuple[AppContext, Database]:
    other_db = Database(database.url)
    return AppContext(settings=ctx.settings, db=other_db, clock=ctx.clock, box=TEST_SECRET), other_db


def test_the_second_holds_across_two_app_instances_on_one_database(
    client, ctx, database, keys, campaign_id
) -> None:
    other_ctx, other_db = _second_instance(database, ctx)
    try:
        with TestClient(create_app(other_ctx), base_url="http://testserver") as http2:
            other = Client("http://testserver", keys["vdn1"].ak, keys["vdn1"].sk, http=http2, clock=ctx.clock)
            assert client.add_call_data(1, campaign_id, numbers("1")).ok
            response = other.add_call_data(1, campaign_id, numbers("2"))
            assert response.code == "0200022"
    finally:
        other_db.dispose()
    assert [r.called for r in stored(ctx)] == ["1"]


def test_concurrent_adds_to_one_campaign_from_two_instances_store_exactly_one(
    client, ctx, database, keys, campaign_id
) -> None:
    other_ctx, other_db = _second_instance(database, ctx)
    results: dict[str, str | None] = {}
    try:
        with TestClient(create_app(other_ctx), base_url="http://testserver") as http2:
            other = Client("http://testserver", keys["vdn1"].ak, keys["vdn1"].sk, http=http2, clock=ctx.clock)
            start = threading.Barrier(2)

            def add(name: str, sender: Client, called: str) -> None:
                start.wait()
                results[name] = sender.add_call_data(1, campaign_id, numbers(called)).code

            threads = [
                threading.Thread(target=add, args=("a", client, "1")),
                threading.Thread(target=add, args=("b", other, "2")),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
    finally:
        other_db.dispose()
    assert sorted(results.values()) == ["0200000", "0200022"]
    winner = "1" if results["a"] == "0200000" else "2"
    assert [r.called for r in stored(ctx)] == [winner]


# --- numbers already in the campaign -------------------------------------------------------------------


def test_a_number_the_campaign_has_not_finished_is_0200018(client, ctx, clock, campaign_id) -> None:
    assert client.add_call_data(1, campaign_id, numbers("80021", "80022")).ok
    clock.advance(1)
    response = client.add_call_data(1, campaign_id, numbers("90001", "80022"))
    assert response.code == "0200018"
    assert response.body["resultDesc"].startswith("callDataList[1].called 80022")
    finish(ctx, campaign_id, "80022")
    clock.advance(1)
    assert client.add_call_data(1, campaign_id, numbers("90001", "80022")).ok  # finished: may come again
    assert [r.called for r in stored(ctx)] == ["80021", "80022", "90001", "80022"]


def test_the_same_number_in_two_campaigns_is_fine(client, ctx, campaign_id) -> None:
    other = create_campaign(client, **TOMORROW)
    assert client.add_call_data(1, campaign_id, numbers("80021")).ok
    assert client.add_call_data(1, other, numbers("80021")).ok


# --- blacklist -----------------------------------------------------------------------------------------


def _call(ctx: AppContext, campaign_id: int, called: str, at_ms: int, vdn_id: int = 1) -> None:
    """An attempt as the engine records it (a call placed to `called` at `at_ms`)."""
    with ctx.db.write() as conn:
        conn.execute(
            attempts.insert().values(
                call_id=f"test-{called}-{at_ms}",
                campaign_id=campaign_id,
                vdn_id=vdn_id,
                data_id=0,
                number_index=0,
                called=called,
                state=1,
                created_at=at_ms,
                local_day="2026-11-23",
            )
        )


def test_a_blacklisted_number_is_0200024_and_stores_nothing(client, ctx, campaign_id) -> None:
    assert client.add_blocklist(1, ["80023"]).ok
    response = client.add_call_data(1, campaign_id, DOCUMENT_EXAMPLE)
    assert response.code == "0200024"
    assert response.body["resultDesc"] == "callDataList[2].called 80023 is in the blacklist"
    assert stored(ctx) == []


def test_another_vdns_blacklist_does_not_apply(client, client_vdn2, ctx, campaign_id) -> None:
    assert client_vdn2.add_blocklist(2, ["80023"]).ok
    assert client.add_call_data(1, campaign_id, DOCUMENT_EXAMPLE).ok


def test_a_blacklisted_number_with_calls_left_in_its_period_may_be_added(
    client, ctx, clock, campaign_id
) -> None:
    # Two calls per hour allowed; one made at 09:00:00 (now) by another campaign of the VDN.
    assert client.add_blocklist(1, ["80023"], restrictTimes=2, restrictPeriod="0").ok
    _call(ctx, 12345, "80023", clock.now_ms())
    assert client.add_call_data(1, campaign_id, numbers("80023")).ok


def test_a_blacklisted_number_whose_calls_are_used_up_is_0200024_until_the_next_period(
    client, ctx, clock, campaign_id
) -> None:
    # One call per hour; called at 09:00:00 -> refused for the rest of the hour, allowed from 10:00:00.
    assert client.add_blocklist(1, ["80023"], restrictTimes=1, restrictPeriod="0").ok
    _call(ctx, 12345, "80023", clock.now_ms())
    clock.advance(3599)  # 09:59:59
    response = client.add_call_data(1, campaign_id, numbers("80023"))
    assert response.code == "0200024"
    assert response.body["resultDesc"] == (
        "callDataList[0].called 80023 is in the blacklist and its 1 call(s) per hour are used up "
        "until 2026-11-23 10:00:00"
    )
    clock.advance(1)  # 10:00:00
    assert client.add_call_data(1, campaign_id, numbers("80023")).ok


def test_calls_of_another_vdn_do_not_count(client, ctx, clock, campaign_id) -> None:
    assert client.add_blocklist(1, ["80023"], restrictTimes=1, restrictPeriod="1").ok
    _call(ctx, 12345, "80023", clock.now_ms(), vdn_id=2)
    assert client.add_call_data(1, campaign_id, numbers("80023")).ok


def test_an_expired_blacklist_entry_no_longer_refuses(client, ctx, clock, campaign_id) -> None:
    assert client.add_blocklist(1, ["80023"], validityTime=1).ok  # one hour: until 10:00:00
    assert client.add_call_data(1, campaign_id, numbers("80023")).code == "0200024"
    clock.advance(3600)
    assert client.add_call_data(1, campaign_id, numbers("80023")).ok


# --- at most 200,000 unfinished numbers ----------------------------------------------------------------


def test_the_limit_of_unfinished_numbers_is_0200020(client, ctx, clock, campaign_id) -> None:
    ctx.settings.max_unfinished_per_campaign = 5
    assert client.add_call_data(1, campaign_id, numbers("1", "2", "3", "4")).ok
    clock.advance(1)
    response = client.add_call_data(1, campaign_id, numbers("5", "6"))
    assert response.code == "0200020"
    assert len(stored(ctx)) == 4
    finish(ctx, campaign_id, "1")  # a finished number no longer counts
    clock.advance(1)
    assert client.add_call_data(1, campaign_id, numbers("5", "6")).body["returnObject"]["totalSize"] == 5


def test_the_documents_200000(client, ctx, campaign_id) -> None:
    assert ctx.settings.max_unfinished_per_campaign == 200_000
    filler = [
        CallRecord(None, (CalledNumber(f"{n:011d}", None, 0),), None, None, None, None)
        for n in range(199_999)
    ]
    with ctx.db.write() as conn:
        campaign = calldata_repo.lock_campaign(conn, campaign_id)
        calldata_repo.bulk_insert_records(
            conn, campaign, filler, import_task_id=None, now_ms=ctx.clock.now_ms()
        )
    assert client.add_call_data(1, campaign_id, numbers("*1", "*2")).code == "0200020"
    response = client.add_call_data(1, campaign_id, numbers("*1"))
    assert response.body["returnObject"]["totalSize"] == 200_000


# --- the signature of an add is spent in the add's own transaction (docs/authentication.md) -------------


def _signed_add(keys: dict[str, Any], clock: Any, campaign_id: int, called: str) -> tuple[str, str, bytes]:
    from foundation.test_auth import signed

    path = f"/rest/isales/v1/openapi/campaigns/1/calldata/{campaign_id}"
    body = b'{"callDataList":[{"called":"%s"}]}' % called.encode()
    headers = ("content-length", "content-type", "host")
    return path, signed(keys["vdn1"], clock, "POST", path, body, headers), body


def test_a_replayed_add_is_401_whether_it_was_accepted_or_refused(http, keys, client, ctx, clock) -> None:
    from foundation.test_auth import send

    campaign_id = create_campaign(client, **TOMORROW)
    path, accepted, body = _signed_add(keys, clock, campaign_id, "100")
    assert send(http, "POST", path, accepted, body).json()["resultCode"] == "0200000"
    clock.advance(0.5)
    path, refused, body_refused = _signed_add(keys, clock, campaign_id, "200")
    assert send(http, "POST", path, refused, body_refused).json()["resultCode"] == "0200022"
    clock.advance(2)  # the slot is free again: only the spent signature refuses the replays now
    assert send(http, "POST", path, refused, body_refused).status_code == 401
    assert send(http, "POST", path, accepted, body).status_code == 401
    assert [r.called for r in stored(ctx, campaign_id)] == ["100"]


def test_a_key_revoked_after_use_is_refused_at_once(http, keys, client, ctx, clock) -> None:
    from foundation.test_auth import send
    from outdial.tenants import repository as tenants

    campaign_id = create_campaign(client, **TOMORROW)  # the key is now remembered by the server
    path, authorization, body = _signed_add(keys, clock, campaign_id, "100")
    with ctx.db.write() as conn:
        assert tenants.revoke_key(conn, keys["vdn1"].ak, clock.now_ms())
    assert send(http, "POST", path, authorization, body).status_code == 401
    assert client.get_campaign(1, campaign_id).status_code == 401  # the other path: signed_request
    assert stored(ctx, campaign_id) == []
