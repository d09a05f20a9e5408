"""A campaign dialed by the real engine in virtual time (the built-in simulator as the outside world), then
queried with signed requests and delivered to a real receiver: what the interfaces show and push is what
the engine stored, page by page, filter by filter."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from campaigns.factories import create_campaign
from outdial.client import Client
from outdial.context import AppContext
from outdial.engine.telephony import OutcomeMix
from outdial.models import calldata as cd
from outdial.models.results import DELIVERED, callback_outbox
from outdial.results import delivery
from results.receiver import Receiver

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
from runner_support import attempts_of, engine, load_and_resume, records_of, utc  # noqa: E402

MIX = OutcomeMix(person=0.4, machine=0.0, no_answer=0.3, busy=0.3, vacant=0.0)
RETRY = {"policyType": 0, "retryDay": 1, "retryTimes": 2, "callInterval": 60}
ALL_DAY = {"workdayBeginTime1": "00:00", "workdayEndTime1": "23:59"}


def all_pages(
    client: Client, cid: int, body: dict[str, Any], page_size: int
) -> tuple[int, list[dict[str, Any]]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = client.query_call_results(1, cid, {**body, "pageSize": page_size, "pageNum": page}).body
        assert answer["resultCode"] == "0200000", answer
        items += answer["data"]
        if len(answer["data"]) < page_size:
            return answer["totalCount"], items
        page += 1


def test_engine_results_queried_and_delivered(ctx: AppContext, client: Client) -> None:
    ctx.settings.callback_allowed_networks = "127.0.0.0/8"
    receiver = Receiver()
    try:
        cid = create_campaign(
            client,
            callPolicy=None,
            retryPolicy=RETRY,
            scheduleParam=ALL_DAY,
            initStatus=1,
            callBackUrl=receiver.url,
        )
        load_and_resume(
            ctx, client, {cid: [{"called": f"1380000{i:04d}", "sessionId": f"s{i}"} for i in range(30)]}
        )
        engine(ctx, mix=MIX, agents=5, talk_mean_s=30, talk_cv=0).run_virtual(utc("2026-11-23 11:00:00"))

        made = [a for a in attempts_of(ctx, cid) if a.end_at is not None]
        assert len(made) > 30  # some numbers were retried
        in_order = sorted(made, key=lambda a: (a.local_day, a.id))  # the order calls were placed
        total, detail = all_pages(client, cid, {"showDetail": 1}, 7)
        assert total == len(made) and [i["callId"] for i in detail] == [a.call_id for a in in_order]
        for item, a in zip(detail, in_order, strict=True):
            assert (item["called"], item["sessionId"], item["callStatus"], item["resultCode"]) == (
                a.called,
                a.session_id,
                a.call_status,
                a.result_code,
            )
            assert item["failCode"] == ("0" if a.call_status == 6 else a.fail_code)
        assert {i["callStatus"] for i in detail} == {5, 6}

        finals = {r.final_attempt_id for r in records_of(ctx, cid) if r.state == cd.FINISHED}
        total, final = all_pages(client, cid, {}, 11)
        assert total == len(finals) and sorted(i["callId"] for i in final) == sorted(
            a.call_id for a in made if a.id in finals
        )
        retried = next(a.session_id for a in made if sum(b.data_id == a.data_id for b in made) > 1)
        _, one = all_pages(client, cid, {"showDetail": 1, "sessionId": retried}, 100)
        assert [i["callId"] for i in one] == [a.call_id for a in in_order if a.session_id == retried]

        with httpx.Client(timeout=5) as http_client:
            while delivery.deliver_due(ctx, http_client):
                pass
        with ctx.db.read() as conn:
            queued = conn.execute(sa.select(callback_outbox).order_by(callback_outbox.c.id)).all()
        assert {q.state for q in queued} == {DELIVERED}
        assert receiver.first_arrivals(cid) == [q.id for q in queued]
        assert sorted(receiver.call_ids()) == sorted(a.call_id for a in made)  # each result pushed once
    finally:
        receiver.stop()
