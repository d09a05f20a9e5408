"""bulk_insert_records stores text exactly as given, whatever characters it holds (PostgreSQL writes the
rows as COPY text, where tab, newline, carriage return and backslash are separators or escapes, and \\N
is NULL), and takes a one-pass stream of records as well as a list."""

from __future__ import annotations

import json

import sqlalchemy as sa

from calldata.conftest import TOMORROW
from campaigns.factories import create_campaign
from outdial.calldata import repository as repo
from outdial.calldata.records import CalledNumber, CallRecord
from outdial.models.calldata import call_data

AWKWARD = [
    "tab\there",
    "line\nbreak",
    "carriage\rreturn",
    "back\\slash",
    "\\N",
    "\\",
    "ends with backslash\\",
    "\\t literally",
    "中文 ¥ – \u00a0nbsp",
    '{"k": "v\\"q"}',
]


def test_text_with_separators_and_escapes_is_stored_as_given(client, ctx) -> None:
    campaign_id = create_campaign(client, **TOMORROW)
    records = [
        CallRecord(
            text[:32],
            (CalledNumber(str(1000 + i), text[:50], 0),),
            None,
            text,
            text,  # custom_field (the validator would refuse some of these; the repository stores text)
            None,
        )
        for i, text in enumerate(AWKWARD)
    ]
    with ctx.db.write() as conn:
        campaign = repo.lock_campaign(conn, campaign_id)
        repo.bulk_insert_records(
            conn, campaign, (r for r in records), import_task_id="task\t1", now_ms=ctx.clock.now_ms()
        )
    with ctx.db.read() as conn:
        rows = conn.execute(sa.select(call_data).order_by(call_data.c.id)).all()
    assert [(r.session_id, r.call_data, r.custom_field, r.caller) for r in rows] == [
        (text[:32], text, text, None) for text in AWKWARD
    ]
    assert [json.loads(r.numbers) for r in rows] == [
        [[str(1000 + i), text[:50], 0]] for i, text in enumerate(AWKWARD)
    ]
    assert {r.import_task_id for r in rows} == {"task\t1"}


def test_an_empty_stream_stores_nothing(client, ctx) -> None:
    campaign_id = create_campaign(client, **TOMORROW)
    with ctx.db.write() as conn:
        campaign = repo.lock_campaign(conn, campaign_id)
        repo.bulk_insert_records(conn, campaign, iter(()), import_task_id=None, now_ms=ctx.clock.now_ms())
        repo.bulk_insert_records(conn, campaign, [], import_task_id=None, now_ms=ctx.clock.now_ms())
    with ctx.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(call_data)).scalar_one() == 0


def test_a_files_rows_and_an_adds_few_are_stored_alike(client, ctx) -> None:
    """bulk_insert_blocks writes a file's rows (`large`: constants in the statement, 100 rows each) and
    an add's (every value bound, 80 rows each) differently on SQLite; both must store every row, across
    the statements' boundaries, with the same values. 250 rows: whole statements and a remainder."""
    records = [
        CallRecord(
            f"s{i}" if i % 3 else None,
            (CalledNumber(str(13800000000 + i), None, 0),)
            if i % 4
            else (CalledNumber(str(13800000000 + i), "SI", 0), CalledNumber(f"0{i}", None, 60)),
            f"4008{i % 7}" if i % 2 else None,
            f'{{"n":{i}}}',
            None,
            "2026-11-24 09:00:00" if i % 5 == 0 else None,
        )
        for i in range(250)
    ]
    stored = {}
    for large in (False, True):
        campaign_id = create_campaign(client, **TOMORROW)
        with ctx.db.write() as conn:
            campaign = repo.lock_campaign(conn, campaign_id)
            assert campaign is not None
            blocks = repo.bulk_blocks(
                conn.dialect.name, campaign, records, import_task_id="t1", now_ms=ctx.clock.now_ms()
            )
            repo.bulk_insert_blocks(
                conn, blocks, campaign=campaign, import_task_id="t1", now_ms=ctx.clock.now_ms(), large=large
            )
        with ctx.db.read() as conn:
            rows = conn.execute(
                sa.select(call_data).where(call_data.c.campaign_id == campaign_id).order_by(call_data.c.id)
            ).all()
        stored[large] = [r._asdict() | {"id": None, "campaign_id": None} for r in rows]
    assert len(stored[False]) == 250
    assert stored[False] == stored[True]
    assert [r["called"] for r in stored[False]] == [str(13800000000 + i) for i in range(250)]
    assert {(r["import_task_id"], r["state"], r["vdn_id"]) for r in stored[False]} == {("t1", 0, 1)}
    assert sum(r["recycle_at"] is not None for r in stored[False]) == 50
