"""GET …/calldata/{campaignId}/{dataId} and POST …/calldata/{campaignId}/delete through the signed client
(reference isales-api.md section 6; decisions in docs/calldata.md). The clock starts at Mon 2026-11-23
09:00:00 UTC; the server's zone and the campaigns' zone are UTC."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from calldata.conftest import TOMORROW, stored
from campaigns.factories import create_campaign
from outdial.calldata import repository as calldata_repo
from outdial.calldata.records import CalledNumber, CallRecord
from outdial.models import calldata as cd
from outdial.models.calldata import call_data


def add(client, clock, campaign_id: int, records: list[dict[str, Any]]) -> None:
    response = client.add_call_data(1, campaign_id, records)
    assert response.ok, response.body
    clock.advance(1)  # the next add to the campaign is allowed one second later


def data_id(ctx, campaign_id: int, called: str) -> int:
    with ctx.db.read() as conn:
        return int(
            conn.execute(
                sa.select(call_data.c.id).where(
                    call_data.c.campaign_id == campaign_id, call_data.c.called == called
                )
            ).scalar_one()
        )


def set_state(ctx, campaign_id: int, called: str, state: int) -> None:
    with ctx.db.write() as conn:
        conn.execute(
            call_data.update()
            .where(call_data.c.campaign_id == campaign_id, call_data.c.called == called)
            .values(state=state)
        )


# --- read one ------------------------------------------------------------------------------------------


def test_read_one_number_answers_its_properties_and_numbers(client, ctx, clock, campaign_id) -> None:
    record = {
        "sessionId": "00750",
        "called": "80021",
        "caller": "88880000",
        "customField": "batch 7",
        "recycleTime": "2026-11-30 18:30:00",
        "callData": '{"fullName":"Lin Zihang"}',
    }
    add(client, clock, campaign_id, [record])
    number = data_id(ctx, campaign_id, "80021")
    response = client.get_call_data(1, campaign_id, number)
    assert response.ok, response.body
    assert response.body["data"] == {
        "dataId": number,
        "properties": [
            {"propCode": "sessionId", "propName": "session ID", "propValue": "00750"},
            {"propCode": "caller", "propName": "calling number", "propValue": "88880000"},
            {"propCode": "customField", "propName": "custom field", "propValue": "batch 7"},
            {
                "propCode": "callData",
                "propName": "call-associated data",
                "propValue": '{"fullName":"Lin Zihang"}',
            },
            {"propCode": "recycleTime", "propName": "recycling time", "propValue": "2026-11-30 18:30:00"},
        ],
        "calledNos": [{"calledNo": "80021", "type": None}],
        "status": "waiting",
        "attemptCount": 0,
        # extension: seed 004's campaign calls by round only numbers of type "SI" (issue 18)
        "notCalledReason": "callPolicy calls by round only numbers of type SI; this record's numbers have type none",
    }


def test_read_a_file_record_answers_all_its_numbers(client, ctx, campaign_id) -> None:
    record = CallRecord(
        "s1",
        (CalledNumber("13800000001", "mobile", 0), CalledNumber("075512345678", "home", 60)),
        None,
        None,
        None,
        None,
    )
    with ctx.db.write() as conn:
        campaign = calldata_repo.lock_campaign(conn, campaign_id)
        calldata_repo.bulk_insert_records(
            conn, campaign, [record], import_task_id="task1", now_ms=ctx.clock.now_ms()
        )
    response = client.get_call_data(1, campaign_id, data_id(ctx, campaign_id, "13800000001"))
    assert response.body["data"]["calledNos"] == [
        {"calledNo": "13800000001", "type": "mobile"},
        {"calledNo": "075512345678", "type": "home"},
    ]


def test_reading_an_unknown_number_is_0200033(client, ctx, clock, campaign_id) -> None:
    add(client, clock, campaign_id, [{"called": "80021"}])
    other = create_campaign(client, **TOMORROW)
    number = data_id(ctx, campaign_id, "80021")
    assert client.get_call_data(1, campaign_id, number + 1000).code == "0200033"
    assert client.get_call_data(1, other, number).code == "0200033"  # the number is another campaign's
    assert client.get_call_data(1, 99999, number).code == "0200007"


def test_another_vdn_cannot_read(client, client_vdn2, ctx, clock, campaign_id) -> None:
    add(client, clock, campaign_id, [{"called": "80021"}])
    number = data_id(ctx, campaign_id, "80021")
    assert client_vdn2.get_call_data(1, campaign_id, number).status_code == 401
    assert client_vdn2.get_call_data(2, campaign_id, number).code == "0200007"  # not VDN 2's campaign


# --- delete --------------------------------------------------------------------------------------------


def test_delete_by_called_removes_only_that_waiting_number(client, ctx, clock, campaign_id) -> None:
    add(client, clock, campaign_id, [{"called": "80021"}, {"called": "80022"}])
    response = client.delete_call_data(1, campaign_id, {"called": "80021"})
    assert response.ok, response.body
    assert response.body["returnObject"] == {"deleteCount": 1}
    assert [r.called for r in stored(ctx)] == ["80022"]


def test_delete_by_custom_field_deletes_the_batch(client, ctx, clock, campaign_id) -> None:
    add(
        client,
        clock,
        campaign_id,
        [
            {"called": "1", "customField": "batch 1"},
            {"called": "2", "customField": "batch 2"},
            {"called": "3", "customField": "batch 1"},
        ],
    )
    assert client.delete_call_data(1, campaign_id, {"customField": "batch 1"}).body["returnObject"] == {
        "deleteCount": 2
    }
    assert [r.called for r in stored(ctx)] == ["2"]


def test_filters_combine(client, ctx, clock, campaign_id) -> None:
    add(client, clock, campaign_id, [{"called": "1", "sessionId": "a"}, {"called": "2", "sessionId": "b"}])
    assert client.delete_call_data(1, campaign_id, {"called": "1", "sessionId": "b"}).body[
        "returnObject"
    ] == {"deleteCount": 0}
    assert len(stored(ctx)) == 2


@pytest.mark.parametrize(
    ("recycle_time", "recycle_type", "left"),
    [
        ("2026-11-25 00:00:00", "1", ["4", "5"]),  # that day and earlier: 1, 2, 3
        ("2026-11-25", "1", ["4", "5"]),  # a date alone names the day
        ("2026-11-25 12:00:00", "2", ["1", "4", "5"]),  # that day only: 2, 3
        ("2026-11-25 08:00:00", "3", ["1", "3", "4", "5"]),  # exactly: 2
    ],
)
def test_delete_by_recycle_time(client, ctx, clock, campaign_id, recycle_time, recycle_type, left) -> None:
    add(
        client,
        clock,
        campaign_id,
        [
            {"called": "1", "recycleTime": "2026-11-24 23:59:59"},
            {"called": "2", "recycleTime": "2026-11-25 08:00:00"},
            {"called": "3", "recycleTime": "2026-11-25 23:59:59"},
            {"called": "4", "recycleTime": "2026-11-26 00:00:00"},
            {"called": "5"},
        ],
    )
    response = client.delete_call_data(
        1, campaign_id, {"recycleTime": recycle_time, "recycleType": recycle_type}
    )
    assert response.ok, response.body
    assert [r.called for r in stored(ctx)] == left


def test_numbers_being_called_or_finished_are_not_deleted(client, ctx, clock, campaign_id) -> None:
    add(client, clock, campaign_id, [{"called": c, "customField": "b"} for c in ("1", "2", "3")])
    set_state(ctx, campaign_id, "1", cd.IN_PROGRESS)
    set_state(ctx, campaign_id, "2", cd.FINISHED)
    response = client.delete_call_data(1, campaign_id, {"customField": "b"})
    assert response.body["returnObject"] == {"deleteCount": 1}
    assert [r.called for r in stored(ctx)] == ["1", "2"]


def test_archive_history_keeps_the_number_as_deleted(client, ctx, clock, campaign_id) -> None:
    add(client, clock, campaign_id, [{"called": "80021"}, {"called": "80022"}])
    number = data_id(ctx, campaign_id, "80021")
    assert client.delete_call_data(1, campaign_id, {"called": "80021", "archiveHistory": 1}).ok
    assert [(r.called, r.state) for r in stored(ctx)] == [("80021", cd.DELETED), ("80022", cd.WAITING)]
    assert client.get_call_data(1, campaign_id, number).body["data"]["status"] == "deleted"
    # no longer a number to call: totalSize counts only 80022 and the new one
    assert client.add_call_data(1, campaign_id, [{"called": "80021"}]).body["returnObject"]["totalSize"] == 2


def test_numbers_of_an_executing_campaign_cannot_be_deleted(client, ctx, clock) -> None:
    campaign_id = create_campaign(client, initStatus=1)  # paused inside its period
    add(client, clock, campaign_id, [{"called": "80021"}])
    assert client.resume_campaign(1, campaign_id).ok
    response = client.delete_call_data(1, campaign_id, {"called": "80021"})
    assert response.code == "0200019"
    assert len(stored(ctx)) == 1


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "02000001", "request body"),
        ({"archiveHistory": 1}, "02000001", "request body"),
        ({"called": "12a"}, "02000002", "called"),
        ({"sessionId": "s" * 33}, "02000003", "sessionId"),
        ({"customField": "a,b"}, "02000002", "customField"),
        ({"recycleTime": "2026-11-25 00:00:00"}, "02000009", "recycleTime"),
        ({"recycleType": "1"}, "02000009", "recycleTime"),
        ({"recycleTime": "2026-11-25 00:00:00", "recycleType": "4"}, "02000007", "recycleType"),
        ({"recycleTime": "2026-11-25", "recycleType": "3"}, "0200030", "recycleTime"),
        ({"called": "1", "archiveHistory": 2}, "02000007", "archiveHistory"),
    ],
)
def test_a_bad_delete_is_refused_and_deletes_nothing(
    client, ctx, clock, campaign_id, body, code, field
) -> None:
    add(client, clock, campaign_id, [{"called": "1"}])
    response = client.delete_call_data(1, campaign_id, body)
    assert response.code == code, response.body
    assert response.body["resultDesc"].startswith(field), response.body
    assert len(stored(ctx)) == 1


def test_another_vdn_cannot_delete(client, client_vdn2, ctx, clock, campaign_id) -> None:
    add(client, clock, campaign_id, [{"called": "1"}])
    assert client_vdn2.delete_call_data(1, campaign_id, {"called": "1"}).status_code == 401
    assert client_vdn2.delete_call_data(2, campaign_id, {"called": "1"}).code == "0200007"
    assert len(stored(ctx)) == 1
