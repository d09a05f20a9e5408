"""`outdial serve --demo`: a demo tenant, a skill queue and a predictive campaign with numbers, so a new user
has something dialing (on the built-in simulator) the moment the server is up.

Idempotent: the demo key's AK is remembered in the data directory and reused while it is active; the skill
queue and the campaign are created only when missing, and the numbers only when the campaign is new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request

from outdial.calldata.records import CalledNumber, CallRecord
from outdial.campaigns import repository as campaigns_repo
from outdial.campaigns import service as campaigns
from outdial.clock import to_datetime
from outdial.context import AppContext
from outdial.tenants import repository as tenants

DEMO_VDN = 1
DEMO_SKILL = (2, "defaultAudioSkill")  # the document's example skill queue; the simulator's agents serve it
DEMO_CAMPAIGN = "demo"
DEMO_NUMBERS = 500
RECEIVER_PATH = "/demo/callbacks"


@dataclass(frozen=True)
class Demo:
    ak: str
    sk: str
    campaign_id: int
    numbers_added: int


def demo_campaign_body(
    today: datetime, callback_url: str, skill: tuple[int, str] = DEMO_SKILL
) -> dict[str, object]:
    """A predictive campaign that runs all day, every day, for a week from today 00:00."""
    end = today + timedelta(days=7)
    return {
        "name": DEMO_CAMPAIGN,
        "description": "demo campaign created by outdial serve --demo",
        "strBeginTime": today.strftime("%Y-%m-%d 00:00:00"),
        "strEndTime": end.strftime("%Y-%m-%d 23:59:59"),
        "deviceType": 2,
        "callerNo": [{"accessCode": "88880000", "priority": 1}],
        "maxAlertingTime": 20,
        "priority": 1,
        "scheduleParam": {
            "workdayBeginTime1": "00:00",
            "workdayEndTime1": "23:59",
            "holidayBeginTime1": "00:00",
            "holidayEndTime1": "23:59",
        },
        "skillParam": {
            "skillId": skill[0],
            "skillName": skill[1],
            "outBoundType": 2,
            "predictParam": {
                "predictMethod": 1,
                "expPredictParam": {"maxAvgCallTime": 200, "minAvgCallTime": 50, "outBoundRate": 25},
            },
        },
        "retryPolicy": {"policyType": 0, "callInterval": 60, "retryDay": 1, "retryTimes": 2},
        "initStatus": 0,
        "callBackUrl": callback_url,
    }


def demo_records(count: int = DEMO_NUMBERS) -> list[CallRecord]:
    return [
        CallRecord(
            session_id=f"demo{i:05d}",
            numbers=(CalledNumber(called=f"1380000{i:04d}", type=None, delay_s=0),),
            caller=None,
            call_data=None,
            custom_field=f"demo customer {i}",
            recycle_time=None,
        )
        for i in range(1, count + 1)
    ]


def _demo_key(ctx: AppContext) -> tenants.ApiKey:
    remembered = ctx.settings.data_dir / "demo-key.json"
    with ctx.db.write() as conn:
        if remembered.exists():
            ak = json.loads(remembered.read_text()).get("ak", "")
            key = tenants.find_active_key(conn, ctx.box, ak)
            if key is not None and DEMO_VDN in key.vdn_ids:
                return key
        key = tenants.create_key(conn, ctx.box, [DEMO_VDN], ctx.clock.now_ms())
    remembered.parent.mkdir(parents=True, exist_ok=True)
    remembered.write_text(json.dumps({"ak": key.ak}))
    return key


def seed_demo(ctx: AppContext, base_url: str) -> Demo:
    """Create what is missing; results of the demo campaign are pushed to the demo receiver below."""
    from outdial.calldata import repository as calldata_repo

    key = _demo_key(ctx)
    now = ctx.clock.now_ms()
    zone = ctx.settings.timezone
    with ctx.db.write() as conn:
        if not tenants.skill_queue_exists(conn, DEMO_VDN, DEMO_SKILL[0]):
            tenants.add_skill_queue(conn, DEMO_VDN, DEMO_SKILL[0], DEMO_SKILL[1], now)
        existing = campaigns_repo.find_by_name(conn, DEMO_VDN, DEMO_CAMPAIGN)
        if existing is not None:
            return Demo(key.ak, key.sk, existing.id, 0)
        today = to_datetime(now).astimezone(ZoneInfo(zone))
        campaign_id = campaigns.add_campaign(
            conn, DEMO_VDN, demo_campaign_body(today, base_url + RECEIVER_PATH), now_ms=now, default_tz=zone
        )
        campaign = calldata_repo.lock_campaign(conn, campaign_id)
        assert campaign is not None  # added just above, in this transaction
        records = demo_records()
        calldata_repo.bulk_insert_records(conn, campaign, records, import_task_id=None, now_ms=now)
    ctx.wakeup("engine").set()
    return Demo(key.ak, key.sk, campaign_id, len(records))


def banner(demo: Demo, base_url: str) -> str:
    first = f"{base_url}/rest/isales/v1/openapi/campaigns/{DEMO_VDN}/{demo.campaign_id}"
    results = f"{base_url}/rest/isales/v1/openapi/campaigns/{DEMO_VDN}/callresult/{demo.campaign_id}"
    added = f" ({demo.numbers_added} numbers added)" if demo.numbers_added else ""
    return "\n".join(
        [
            "",
            f"outdial is serving on {base_url} (API docs: {base_url}/docs)",
            f"demo tenant: VDN {DEMO_VDN}, AK {demo.ak}, SK {demo.sk}",
            f"demo campaign {demo.campaign_id} is dialing on the built-in simulator{added}",
            "try:",
            f"  .venv/bin/outdial request GET {first} --ak {demo.ak} --sk {demo.sk}",
            f"  .venv/bin/outdial request POST {results} --ak {demo.ak} --sk {demo.sk} "
            """--data '{"showDetail":1,"pageSize":10,"pageNum":1}'""",
            f"results pushed to the campaign's callBackUrl arrive at {base_url}{RECEIVER_PATH} (GET it to see)",
            "",
        ]
    )


def receiver_router(keep: int = 200) -> APIRouter:
    """A stand-in for the customer's callback endpoint, mounted only by `serve --demo`: it answers
    retCode "0" as a customer would and shows the last `keep` results it received."""
    router = APIRouter(include_in_schema=False)
    received: list[object] = []
    counts = {"pushes": 0, "results": 0}

    @router.post(RECEIVER_PATH)
    async def receive(request: Request) -> dict[str, str]:
        batch = await request.json()
        items = batch if isinstance(batch, list) else [batch]
        counts["pushes"] += 1
        counts["results"] += len(items)
        received.extend(items)
        del received[:-keep]
        return {"retCode": "0", "retMsg": "received"}

    @router.get(RECEIVER_PATH)
    def show() -> dict[str, object]:
        return {**counts, "latest": received[::-1]}

    return router
