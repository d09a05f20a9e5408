"""No silent campaigns (issue 18, item 8): seed 004's campaign (by round over number type "SI") with seed 001's
numbers (no type) calls none of them, and says so everywhere: the add answer, each number's read answer,
the campaign's statistics, the import query and the log."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from runner_support import attempts_of, engine, insert_records, records_of, utc

from campaigns.factories import create_campaign
from outdial.engine import callpolicy
from outdial.engine.callpolicy import Typed
from outdial.models import calldata as cd
from outdial.models.imports import IMPORTED, import_tasks

BY_TYPE_SI = {"callType": 1, "chooseType": 0, "turns": [{"turnType": "SI"}]}
BY_POSITION = {"callType": 1, "chooseType": 1, "turns": [{"turnOrder": 3}, {"turnOrder": 2}]}
SEED_001_NUMBERS = [{"called": "80021", "sessionId": "00750"}, {"called": "80022", "sessionId": "00751"}]


def test_the_reason_names_what_the_policy_selects_and_what_the_record_has() -> None:
    assert callpolicy.not_called_reason([Typed(None), Typed("HO")], BY_TYPE_SI) == (
        "callPolicy calls by round only numbers of type SI; this record's numbers have type none, HO"
    )
    assert callpolicy.not_called_reason([Typed(None)], BY_POSITION) == (
        "callPolicy calls by round only the numbers at positions 3, 2; this record has 1 number"
    )
    assert callpolicy.not_called_reason([Typed("HO"), Typed("SI")], BY_TYPE_SI) is None
    assert callpolicy.not_called_reason([Typed(None), Typed(None)], BY_POSITION) is None  # position 2
    assert callpolicy.not_called_reason([Typed(None)], None) is None  # by sequence: always called
    assert callpolicy.not_called_reason([Typed(None)], {"callType": 0}) is None


def test_the_add_answer_the_read_answer_the_statistics_and_the_log_say_it(ctx, client, clock, caplog):
    silent = create_campaign(client, initStatus=1)  # seed 004 as printed: by round over type "SI"
    plain = create_campaign(
        client,
        initStatus=1,
        callPolicy=None,
        retryPolicy={"policyType": 0, "retryDay": 1, "retryTimes": 1, "callInterval": 60},
    )
    with caplog.at_level(logging.WARNING, logger="outdial.calldata"):
        added = client.add_call_data(1, silent, SEED_001_NUMBERS)
    assert added.ok, added.body
    assert added.body["returnObject"] == {
        "totalSize": 2,
        "notCalledCount": 2,
        "notCalledReason": "callPolicy calls by round only numbers of type SI; this record's numbers have type none",
    }
    warned = [r.getMessage() for r in caplog.records if r.name == "outdial.calldata"]
    assert warned == [
        f"campaign {silent}: 2 of 2 numbers added will never be called: callPolicy calls by round only "
        "numbers of type SI; this record's numbers have type none"
    ]
    plain_added = client.add_call_data(1, plain, SEED_001_NUMBERS)
    assert plain_added.body["returnObject"] == {"totalSize": 2}  # the documented answer, nothing more

    first, _ = records_of(ctx, silent)
    read = client.get_call_data(1, silent, first.id).body["data"]
    assert read["notCalledReason"].startswith("callPolicy calls by round only numbers of type SI")
    plain_first = records_of(ctx, plain)[0]
    assert "notCalledReason" not in client.get_call_data(1, plain, plain_first.id).body["data"]

    typed = insert_records(ctx, silent, [[("13900000001", "SI", 0)], [("13900000002", "HO", 0)]])
    statistics = client.campaign_statistics(1, f"{silent},{plain}").body["countDetail"]
    assert [(d["campaignId"], d["notCalledByPolicy"]) for d in statistics] == [
        (str(silent), 3),
        (str(plain), 0),
    ]
    assert "notCalledReason" not in client.get_call_data(1, silent, typed[0]).body["data"]

    # the engine finishes them without a call, and says so naming the campaign
    assert client.resume_campaign(1, silent).ok
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="outdial.engine"):
        engine(ctx).run_virtual(utc("2026-11-23 09:05:00"))
    assert [a.data_id for a in attempts_of(ctx, silent)] == [typed[0]]  # only the "SI" number is called
    assert [r.state for r in records_of(ctx, silent)][:2] == [cd.FINISHED, cd.FINISHED]
    assert any(
        r.name == "outdial.engine"
        and r.getMessage().startswith(f"campaign {silent}: 3 records finished without a call")
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]


def test_the_import_query_counts_an_imported_files_numbers_that_will_not_be_called(ctx, client):
    campaign = create_campaign(client, initStatus=1, callPolicy=BY_TYPE_SI)
    now = ctx.clock.now_ms()
    with ctx.db.write() as conn:  # a finished import task and the rows it stored, as the importer writes them
        for task_id in ("t-silent", "t-called"):
            conn.execute(
                sa.insert(import_tasks).values(
                    id=task_id,
                    vdn_id=1,
                    campaign_id=campaign,
                    server_id="s",
                    file_name="f.csv",
                    status=IMPORTED,
                    run_at=now,
                    created_at=now,
                    succ_num=2,
                )
            )
    insert_records(ctx, campaign, [[("1", None, 0)], [("2", "HO", 0)]], import_task_id="t-silent")
    insert_records(
        ctx, campaign, [[("3", "SI", 0)], [("4", None, 0), ("5", "SI", 0)]], import_task_id="t-called"
    )
    answer = client.query_import_tasks(1, campaign, offset=0, limit=10)
    assert answer.ok, answer.body
    by_id = {t["id"]: t for t in answer.body["result"]}
    assert by_id["t-silent"]["notCalledCount"] == 2
    assert "notCalledCount" not in by_id["t-called"]  # every row of it will be called
