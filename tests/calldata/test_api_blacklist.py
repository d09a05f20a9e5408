"""The VDN's blacklist through the signed client: POST …/blocklist/add, /delete, /query and DELETE
…/blocklist (reference isales-api.md section 6; decisions in docs/calldata.md and blacklist_rules.py).
The clock starts at Mon 2026-11-23 09:00:00 UTC; the server's zone is UTC."""

from __future__ import annotations

import pytest

from calldata.conftest import blacklisted


def query(client, vdn_id: int = 1, **body):
    return client.query_blocklist(vdn_id, **body)


# --- add -----------------------------------------------------------------------------------------------


def test_add_stores_each_number_with_its_validity_and_restriction(client, ctx, clock) -> None:
    response = client.add_blocklist(
        1, ["80021", "80022*#"], validityTime=2, restrictTimes=3, restrictPeriod="1"
    )
    assert response.ok, response.body
    assert response.body["returnObject"] == {"addCount": 2, "skipCount": 0}
    rows = blacklisted(ctx)
    assert sorted(rows) == ["80021", "80022*#"]
    two_hours_later = clock.now_ms() + 2 * 3_600_000
    assert {(r.expires_at, r.restrict_times, r.restrict_period) for r in rows.values()} == {
        (two_hours_later, 3, "1")
    }


def test_without_validity_the_entry_is_permanent(client, ctx) -> None:
    assert client.add_blocklist(1, ["80021"]).ok
    assert blacklisted(ctx)["80021"].expires_at is None


def test_validity_expiration_time_wins_over_validity_time(client, ctx) -> None:
    response = client.add_blocklist(
        1, ["80021"], validityTime=5, validityExpirationTime="2026-11-24 12:00:00"
    )
    assert response.ok
    # 2026-11-24 12:00:00 UTC = the tests' start (2026-11-23 09:00:00 UTC) + 27 h
    assert blacklisted(ctx)["80021"].expires_at == 1795424400000 + 27 * 3_600_000


BAD_ADDS = [
    pytest.param({"blocklist": []}, "02000001", "blocklist", id="empty"),
    pytest.param({}, "02000001", "blocklist", id="missing"),
    pytest.param({"blocklist": "80021"}, "02000006", "blocklist", id="not-list"),
    pytest.param({"blocklist": [str(80000 + n) for n in range(21)]}, "0200029", "blocklist", id="21"),
    pytest.param({"blocklist": ["80021", "80022", "80021"]}, "0200018", "blocklist[2]", id="dup"),
    pytest.param({"blocklist": ["8002a"]}, "02000002", "blocklist[0]", id="chars"),
    pytest.param({"blocklist": ["1" * 25]}, "02000003", "blocklist[0]", id="long"),
    pytest.param({"blocklist": ["1"], "validityTime": 121}, "02000007", "validityTime", id="validity-121"),
    pytest.param({"blocklist": ["1"], "validityTime": 0}, "02000007", "validityTime", id="validity-0"),
    pytest.param(
        {"blocklist": ["1"], "validityExpirationTime": "2026-11-24"},
        "0200030",
        "validityExpirationTime",
        id="date",
    ),
    pytest.param(
        {"blocklist": ["1"], "validityExpirationTime": "2026-11-23 08:00:00"},
        "02000007",
        "validityExpirationTime",
        id="past",
    ),
    pytest.param({"blocklist": ["1"], "restrictTimes": 2}, "02000009", "restrictTimes", id="times-alone"),
    pytest.param({"blocklist": ["1"], "restrictPeriod": "0"}, "02000009", "restrictTimes", id="period-alone"),
    pytest.param(
        {"blocklist": ["1"], "restrictTimes": 101, "restrictPeriod": "0"},
        "02000007",
        "restrictTimes",
        id="101",
    ),
    pytest.param(
        {"blocklist": ["1"], "restrictTimes": 1, "restrictPeriod": "2"},
        "02000007",
        "restrictPeriod",
        id="period-2",
    ),
]


@pytest.mark.parametrize(("body", "code", "field"), BAD_ADDS)
def test_a_bad_add_is_refused_with_its_code_and_stores_nothing(client, ctx, body, code, field) -> None:
    response = client.request("POST", "/rest/isales/v1/openapi/campaigns/1/blocklist/add", body)
    assert response.code == code, response.body
    assert response.body["resultDesc"].startswith(field), response.body
    assert blacklisted(ctx) == {}


def test_twenty_numbers_are_accepted(client, ctx) -> None:
    assert client.add_blocklist(1, [str(80000 + n) for n in range(20)]).ok
    assert len(blacklisted(ctx)) == 20


def test_an_already_blacklisted_number_is_0200007_and_nothing_of_the_request_is_stored(client, ctx) -> None:
    assert client.add_blocklist(1, ["80021"], validityTime=1).ok
    response = client.add_blocklist(1, ["80030", "80021"], validityTime=5)
    assert (response.code, response.body["resultDesc"]) == (
        "0200007",
        "blocklist[1] 80021 is already in the blacklist",
    )
    assert sorted(blacklisted(ctx)) == ["80021"]


def test_is_cover_dup_no_0_skips_and_1_overwrites_existing_numbers(client, ctx, clock) -> None:
    now = clock.now_ms()
    assert client.add_blocklist(1, ["80021"], validityTime=1).ok
    skipped = client.add_blocklist(1, ["80030", "80021"], validityTime=5, isCoverDupNo=0)
    assert skipped.body["returnObject"] == {"addCount": 1, "skipCount": 1}
    rows = blacklisted(ctx)
    assert (rows["80021"].expires_at, rows["80030"].expires_at) == (now + 3_600_000, now + 5 * 3_600_000)
    clock.advance(1)
    covered = client.add_blocklist(
        1, ["80021"], validityTime=7, restrictTimes=1, restrictPeriod="0", isCoverDupNo=1
    )
    assert covered.body["returnObject"] == {"addCount": 1, "skipCount": 0}
    entry = blacklisted(ctx)["80021"]
    assert (entry.expires_at, entry.restrict_times, entry.restrict_period) == (
        now + 1000 + 7 * 3_600_000,
        1,
        "0",
    )


def test_an_expired_entry_can_be_added_again(client, ctx, clock) -> None:
    assert client.add_blocklist(1, ["80021"], validityTime=1).ok
    clock.advance(3600)  # it ended at 10:00:00
    assert client.add_blocklist(1, ["80021"]).ok
    assert blacklisted(ctx)["80021"].expires_at is None


# --- query ---------------------------------------------------------------------------------------------


def test_query_by_numbers_flags_each_number_asked(client) -> None:
    assert client.add_blocklist(1, ["80021"], validityExpirationTime="2026-11-30 18:00:00").ok
    assert client.add_blocklist(1, ["80022"], restrictTimes=2, restrictPeriod="1").ok
    response = query(client, numbers=["80022", "99999", "80021", "80022"])
    assert response.ok, response.body
    assert response.body["totalCount"] == 3
    assert response.body["data"] == [
        {
            "blockNum": "80022",
            "validityExpirationTime": None,
            "restrictTimes": 2,
            "restrictPeriod": "1",
            "flag": True,
        },
        {
            "blockNum": "99999",
            "validityExpirationTime": None,
            "restrictTimes": None,
            "restrictPeriod": None,
            "flag": False,
        },
        {
            "blockNum": "80021",
            "validityExpirationTime": "2026-11-30 18:00:00",
            "restrictTimes": None,
            "restrictPeriod": None,
            "flag": True,
        },
    ]


def test_query_pages_the_list_in_number_order(client) -> None:
    first = [f"8{n:04d}" for n in range(0, 40, 2)]  # 20 even numbers 80000..80038
    second = [f"8{n:04d}" for n in range(1, 10, 2)]  # 80001..80009
    assert client.add_blocklist(1, first).ok
    assert client.add_blocklist(1, second).ok
    everything = sorted(first + second)
    page = query(client, offset=0, limit=10)
    assert page.body["totalCount"] == 25
    assert [item["blockNum"] for item in page.body["data"]] == everything[:10]
    assert "flag" not in page.body["data"][0]
    last = query(client, offset=20, limit=10)
    assert [item["blockNum"] for item in last.body["data"]] == everything[20:]
    beyond = query(client, offset=25, limit=100)
    assert (beyond.body["totalCount"], beyond.body["data"]) == (25, [])


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"offset": 0}, "02000001", "limit"),
        ({"limit": 10}, "02000001", "offset"),
        ({"offset": 0, "limit": 101}, "02000007", "limit"),
        ({"offset": 0, "limit": 0}, "02000007", "limit"),
        ({"offset": -1, "limit": 10}, "02000007", "offset"),
        ({"blocklist": [str(n) for n in range(21)]}, "0200029", "blocklist"),
        ({"blocklist": ["12a"]}, "02000002", "blocklist[0]"),
    ],
)
def test_a_bad_query_is_refused(client, body, code, field) -> None:
    response = client.request("POST", "/rest/isales/v1/openapi/campaigns/1/blocklist/query", body)
    assert response.code == code, response.body
    assert response.body["resultDesc"].startswith(field)


def test_an_expired_entry_is_not_listed(client, clock) -> None:
    assert client.add_blocklist(1, ["80021"], validityTime=1).ok
    assert client.add_blocklist(1, ["80022"]).ok
    clock.advance(3600)
    page = query(client, offset=0, limit=10)
    assert [item["blockNum"] for item in page.body["data"]] == ["80022"]
    assert query(client, numbers=["80021"]).body["data"][0]["flag"] is False


# --- delete --------------------------------------------------------------------------------------------


def test_delete_one_number(client, ctx, clock) -> None:
    assert client.add_blocklist(1, ["80021", "80022"]).ok
    assert client.delete_blocklist_number(1, "80021").ok
    assert sorted(blacklisted(ctx)) == ["80022"]
    clock.advance(1)  # the same signed request again within the second would be a replay (401)
    response = client.delete_blocklist_number(1, "80021")
    assert (response.code, response.body["resultDesc"]) == (
        "0200007",
        "blocklistNo 80021 is not in the blacklist",
    )
    assert sorted(blacklisted(ctx)) == ["80022"]


def test_delete_one_needs_a_valid_number(client) -> None:
    response = client.request("POST", "/rest/isales/v1/openapi/campaigns/1/blocklist/delete", {})
    assert response.code == "02000001"
    assert response.body["resultDesc"].startswith("blocklistNo")


def test_delete_all_clears_only_this_vdns_list(client, client_vdn2, ctx) -> None:
    assert client.add_blocklist(1, ["80021", "80022"]).ok
    assert client_vdn2.add_blocklist(2, ["80021"]).ok
    response = client.delete_blocklist(1)
    assert response.body["returnObject"] == {"deleteCount": 2}
    assert blacklisted(ctx, 1) == {}
    assert sorted(blacklisted(ctx, 2)) == ["80021"]


# --- tenants -------------------------------------------------------------------------------------------


def test_each_vdn_has_its_own_list_and_cannot_touch_another(client, client_vdn2, ctx) -> None:
    assert client.add_blocklist(1, ["80021"]).ok
    assert client_vdn2.add_blocklist(2, ["80021"]).ok  # not "already blacklisted": another list
    assert client_vdn2.query_blocklist(1, offset=0, limit=10).status_code == 401
    assert client_vdn2.add_blocklist(1, ["80030"]).status_code == 401
    assert client_vdn2.delete_blocklist_number(1, "80021").status_code == 401
    assert client_vdn2.delete_blocklist(1).status_code == 401
    assert sorted(blacklisted(ctx, 1)) == ["80021"]
    page = client_vdn2.query_blocklist(2, offset=0, limit=10)
    assert [item["blockNum"] for item in page.body["data"]] == ["80021"]
