"""GET /rest/isales/v1/openapi/campaigns/{vdnId}: filters, pagination, counts; and the SQL form of the
effective status, which the list and the limits filter on."""

from __future__ import annotations

import sqlalchemy as sa

from campaigns.factories import IVR_OVERRIDES, create_campaign
from outdial.campaigns.repository import effective_status_sql
from outdial.campaigns.status import effective_status
from outdial.models.foundation import campaigns


def listing(client, **query):
    response = client.list_campaigns(1, **query)
    assert response.ok, response.body
    return response.body


def ids(body) -> list[int]:
    return [item["id"] for item in body["data"]]


def test_an_empty_list(client) -> None:
    body = listing(client)
    assert {k: v for k, v in body.items() if not k.startswith(("result", "return"))} == {
        "curPage": 1,
        "totalSize": 0,
        "rowsPerPage": 10,
        "curSkillQueueCount": 0,
        "curIvrCount": 0,
        "data": [],
    }


def test_items_and_counts(client) -> None:
    first = create_campaign(client, name="alpha")
    second = create_campaign(client, name="beta", **IVR_OVERRIDES)
    body = listing(client)
    assert (body["totalSize"], body["curSkillQueueCount"], body["curIvrCount"]) == (2, 1, 1)
    assert ids(body) == [second, first]  # newest first
    assert body["data"][1] == {
        "id": first,
        "name": "alpha",
        "status": 2,
        "strBeginTime": "2026-11-23 00:00:00",
        "strEndTime": "2026-11-24 23:59:59",
        "deviceType": 2,
        "callerNo": [{"accessCode": "88889527", "priority": 3}, {"accessCode": "88880066", "priority": 4}],
    }


def test_pages(client) -> None:
    # 25 campaigns: more than one device class may hold (20), so every other one is an IVR campaign.
    created = [create_campaign(client, **(IVR_OVERRIDES if n % 2 else {})) for n in range(25)]
    newest_first = created[::-1]
    assert ids(listing(client)) == newest_first[:10]
    page3 = listing(client, curPage=3)
    assert (page3["curPage"], page3["totalSize"], ids(page3)) == (3, 25, newest_first[20:])
    assert ids(listing(client, curPage=2, rowsPerPage=7)) == newest_first[7:14]
    assert ids(listing(client, curPage=9)) == []
    # curPage below 1 is 1; rowsPerPage above 100 is 100, below 1 the default 10.
    assert listing(client, curPage=0)["curPage"] == 1
    assert listing(client, curPage=-3, rowsPerPage=500)["rowsPerPage"] == 100
    assert listing(client, rowsPerPage=0)["rowsPerPage"] == 10


def test_filters_by_status_with_the_clock(client, clock) -> None:
    running = create_campaign(client)  # executing now, until 2026-11-24 23:59:59
    later = create_campaign(client, strBeginTime="2026-11-23 12:00:00", strEndTime="2026-11-23 13:00:00")
    paused = create_campaign(client, initStatus=1)
    assert ids(listing(client, status=0)) == [paused, later, running]
    assert ids(listing(client, status=1)) == [later]
    assert ids(listing(client, status=2)) == [running]
    assert ids(listing(client, status=3)) == [paused]
    assert ids(listing(client, status=4)) == []
    clock.advance(4 * 3600)  # 13:00: `later` has ended
    assert ids(listing(client, status=4)) == [later]
    assert ids(listing(client, status=2)) == [running]
    body = listing(client)
    assert body["curSkillQueueCount"] == 2  # running and paused; the completed one is not live


def test_filters_by_name_device_type_and_period(client) -> None:
    alpha = create_campaign(client, name="alpha sale", strBeginTime="2026-11-23 10:00:00")
    beta = create_campaign(client, name="beta_sale", **IVR_OVERRIDES)
    create_campaign(client, name="gamma", strEndTime="2026-11-30 00:00:00")
    assert ids(listing(client, name="sale")) == [beta, alpha]
    assert ids(listing(client, name="a_s")) == [beta]  # "_" is a character, not a wildcard
    assert ids(listing(client, name="%")) == []
    assert ids(listing(client, name="ALPHA")) == [alpha]  # case does not matter, on either database
    assert ids(listing(client, deviceType=3)) == [beta]
    assert ids(listing(client, deviceType=2, name="sale")) == [alpha]
    assert len(ids(listing(client, deviceType=0))) == 3
    # beginTime: campaigns that begin at or after it; endTime: that end at or before it (server zone UTC)
    assert ids(listing(client, beginTime="2026-11-23 10:00:00")) == [alpha]
    assert ids(listing(client, endTime="2026-11-24 23:59:59", name="a")) == [beta, alpha]


def test_bad_query_values_are_refused(client) -> None:
    assert client.list_campaigns(1, status=5).code == "02000007"
    assert client.list_campaigns(1, deviceType=4).code == "02000007"
    assert client.list_campaigns(1, curPage="two").code == "02000006"
    assert client.list_campaigns(1, beginTime="2026-11-23").code == "0200030"


def test_only_the_vdns_own_campaigns_are_listed(client, client_vdn2) -> None:
    create_campaign(client)
    theirs = create_campaign(client_vdn2, vdn_id=2)
    body = client_vdn2.list_campaigns(2).body
    assert (ids(body), body["totalSize"], body["curSkillQueueCount"]) == ([theirs], 1, 1)


# The list and the 20-campaign limit filter on effective_status_sql; it must agree with effective_status
# on every side of both boundaries.
def test_the_sql_status_agrees_with_effective_status(ctx) -> None:
    begin, end = 1_000, 2_000
    with ctx.db.write() as conn:
        rows = {
            stored: conn.execute(
                campaigns.insert()
                .values(
                    vdn_id=9,
                    name=f"s{stored}",
                    status=stored,
                    device_type=2,
                    begin_at=begin,
                    end_at=end,
                    timezone="UTC",
                    spec={},
                    created_at=0,
                    updated_at=0,
                )
                .returning(campaigns.c.id)
            ).scalar_one()
            for stored in (1, 2, 3, 4)
        }
    for now in (0, 999, 1_000, 1_001, 1_999, 2_000, 2_001, 10_000):
        with ctx.db.read() as conn:
            shown = dict(conn.execute(sa.select(campaigns.c.id, effective_status_sql(now))).all())
        for stored, campaign_id in rows.items():
            assert shown[campaign_id] == effective_status(stored, begin, end, now), (stored, now)
