"""The call-data repository on the real databases: bulk insert, the one-second slot, and the importer's
blacklist map, which must refuse exactly the numbers the shared rule (blacklist_rules.may_call, used by
the add and the engine) refuses. The clock starts at Mon 2026-11-23 09:00:00 UTC."""

from __future__ import annotations

import json

import sqlalchemy as sa

from calldata.conftest import TOMORROW
from campaigns.factories import create_campaign
from outdial.calldata import repository as repo
from outdial.calldata import service
from outdial.calldata.records import CalledNumber, CallRecord
from outdial.models import calldata as cd
from outdial.models.calldata import blacklist, call_data
from outdial.models.engine import attempts

HOUR = 3_600_000


def test_bulk_insert_stores_records_as_waiting_with_their_numbers(client, ctx) -> None:
    campaign_id = create_campaign(client, timeZone="Asia/Shanghai", **TOMORROW)
    now = ctx.clock.now_ms()
    records = [
        CallRecord("a", (CalledNumber("1001", None, 0),), "88", "{}", "batch", "2026-11-24 08:00:00"),
        CallRecord(
            None, (CalledNumber("2001", "home", 0), CalledNumber("2002", None, 30)), None, None, None, None
        ),
    ]
    with ctx.db.write() as conn:
        campaign = repo.lock_campaign(conn, campaign_id)
        repo.bulk_insert_records(conn, campaign, records, import_task_id="task-1", now_ms=now)
    with ctx.db.read() as conn:
        rows = conn.execute(sa.select(call_data).order_by(call_data.c.id)).all()
    first, second = rows
    assert (
        first.session_id,
        first.called,
        first.numbers,
        first.caller,
        first.call_data,
        first.custom_field,
    ) == (
        "a",
        "1001",
        None,
        "88",
        "{}",
        "batch",
    )
    # 2026-11-24 08:00 in Shanghai (UTC+8) = 2026-11-24 00:00 UTC = the tests' start + 15 h
    assert first.recycle_at == now + 15 * HOUR
    assert (second.called, json.loads(second.numbers)) == ("2001", [["2001", "home", 0], ["2002", None, 30]])
    assert {
        (r.state, r.import_task_id, r.created_at, r.next_due_at, r.campaign_id, r.vdn_id) for r in rows
    } == {(cd.WAITING, "task-1", now, now, campaign_id, 1)}


def test_claim_slot_allows_one_taking_per_interval(ctx) -> None:
    with ctx.db.write() as conn:
        assert repo.claim_slot(conn, "k", 10_000, 1000)
        assert not repo.claim_slot(conn, "k", 10_999, 1000)
        assert repo.claim_slot(conn, "other", 10_999, 1000)
        assert repo.claim_slot(conn, "k", 11_000, 1000)
        assert not repo.claim_slot(conn, "k", 10_500, 1000)  # a clock behind the last taking


def _blacklist(ctx, vdn_id: int, number: str, expires_at=None, times=None, period=None) -> None:
    with ctx.db.write() as conn:
        conn.execute(
            blacklist.insert().values(
                vdn_id=vdn_id,
                number=number,
                expires_at=expires_at,
                restrict_times=times,
                restrict_period=period,
                created_at=0,
            )
        )


def _called(ctx, vdn_id: int, number: str, at_ms: int) -> None:
    with ctx.db.write() as conn:
        conn.execute(
            attempts.insert().values(
                call_id=f"{vdn_id}-{number}-{at_ms}",
                campaign_id=1,
                vdn_id=vdn_id,
                data_id=0,
                number_index=0,
                called=number,
                state=1,
                created_at=at_ms,
                local_day="2026-11-23",
            )
        )


def test_the_importers_blacklist_map_refuses_what_the_shared_rule_refuses(ctx) -> None:
    now = ctx.clock.now_ms()  # 09:00:00
    _blacklist(ctx, 1, "permanent")
    _blacklist(ctx, 1, "expired", expires_at=now)  # ends at this instant: callable
    _blacklist(ctx, 1, "until-noon", expires_at=now + 3 * HOUR)
    _blacklist(ctx, 1, "hour-unused", times=1, period="0")
    _called(ctx, 1, "hour-unused", now - 1)  # 08:59:59.999: the previous hour
    _blacklist(ctx, 1, "hour-used", times=1, period="0")
    _called(ctx, 1, "hour-used", now)
    _blacklist(ctx, 1, "day-2-of-3", times=3, period="1")
    _called(ctx, 1, "day-2-of-3", now - 8 * HOUR)  # 01:00 today
    _called(ctx, 1, "day-2-of-3", now - HOUR)
    _blacklist(ctx, 1, "day-3-of-3", times=3, period="1")
    for at in (now - 10 * HOUR, now - 8 * HOUR, now - HOUR):  # 23:00 yesterday does not count
        _called(ctx, 1, "day-3-of-3", at)
    _called(ctx, 1, "day-3-of-3", now - 2 * HOUR)  # three today: used up
    _blacklist(ctx, 2, "other-vdn")
    _called(ctx, 2, "hour-unused", now)  # another VDN's call does not count
    numbers = [
        "permanent",
        "expired",
        "until-noon",
        "hour-unused",
        "hour-used",
        "day-2-of-3",
        "day-3-of-3",
        "other-vdn",
        "not-listed",
    ]
    with ctx.db.read() as conn:
        by_map = repo.blacklist_refusals_map(conn, 1, "UTC", now)
        by_rule = service.blacklist_refusals(conn, 1, "UTC", numbers, now)
    assert sorted(by_map) == sorted(by_rule) == ["day-3-of-3", "hour-used", "permanent", "until-noon"]
    assert by_rule == {
        "permanent": service.NEVER,
        "until-noon": now + 3 * HOUR,
        "hour-used": now + HOUR,  # 10:00:00
        "day-3-of-3": now + 15 * HOUR,  # tomorrow 00:00:00
    }
    assert (
        by_map["hour-used"]
        == "called: hour-used is in the blacklist and was already called 1 time(s) this hour"
    )
