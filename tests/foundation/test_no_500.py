"""Whatever a client sends to any signed route, the answer is an envelope with a documented status, never
a 5xx. Every route of the app is walked twice: with bodies of every JSON shape and a few malformed ones,
and by a hypothesis fuzz over its body fields, path parameters and query strings, whose values include
the classes that once answered 500 (lone surrogates, integers past 64 bits, floats where integers are
expected, integer literals of thousands of digits, ids of 5,000 digits, far-future dates).

Bounded so the module stays well under a minute on both databases; OUTDIAL_FUZZ_EXAMPLES raises the
number of examples per route for a longer hunt."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.factories import create_campaign, example_body
from outdial.app import create_app
from outdial.client import Client
from outdial.clock import VirtualClock

BODIES: list[object] = [
    None,
    {},
    [],
    "text",
    12,
    {"unknown": 1},
    {"offset": "a", "limit": -1, "pageSize": "x", "pageNum": 0, "name": 5, "showDetail": 9},
    {"data": [{"called": None}], "blocklist": [None], "importTaskIds": "x", "callerNo": {"a": 1}},
]
RAW_BODIES = [b'{"unclosed": ', b"\xff\xfe\x00", b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"]
DOCUMENTED_STATUSES = {200, 401, 404, 405, 413, 415}


def _signed_routes() -> list[tuple[str, str]]:
    app = create_app(None)  # type: ignore[arg-type]  # only the route table is read
    routes = []
    pending = list(app.routes)
    while pending:
        route = pending.pop(0)
        if hasattr(route, "original_router"):  # FastAPI >= 0.16x keeps included routers as one entry
            pending.extend(route.original_router.routes)
        elif isinstance(route, APIRoute) and route.path.startswith("/rest/"):
            routes.extend((method, route.path) for method in sorted(route.methods))
    return routes


def _fill(path: str, campaign_id: int | str, other: str = "1") -> str:
    path = path.replace("{vdnId}", "1").replace("{campaignId}", str(campaign_id))
    path = path.replace("{campaignId:digits}", str(campaign_id))
    return re.sub(r"\{[^}]+\}", other, path)


ROUTES = _signed_routes()


def _assert_envelope(response: Any) -> None:
    assert response.status_code in DOCUMENTED_STATUSES, response.body
    assert isinstance(response.body, dict) and "resultCode" in response.body, response.body


def test_the_walk_covers_every_domain() -> None:
    paths = " ".join(path for _, path in ROUTES)
    for part in ("/calldata/", "/blocklist", "/calldatafile/", "/callresult/", "/holiday/", "/skills"):
        assert part in paths


def test_no_body_makes_a_route_answer_500(client: Client, clock) -> None:
    # Every route in one test: a test's set-up (database, app, keys, campaign) costs more than its requests.
    campaign_id = create_campaign(client)
    for method, path in ROUTES:
        target = _fill(path, campaign_id)
        answers = []
        for body in BODIES:
            clock.advance(0.001)  # a new timestamp: the same signed request twice would be a replay
            answers.append(client.request(method, target, body))
        for raw in RAW_BODIES:
            clock.advance(0.001)
            answers.append(client.request(method, target, raw_body=raw))
        for huge in ("99999999999999999999", "-1"):  # past BIGINT, and negative: ids a database may refuse
            clock.advance(0.001)
            answers.append(client.request(method, _fill(path, huge, other=huge), {}))
        for response in answers:
            assert response.status_code in DOCUMENTED_STATUSES, (method, path, response.body)
            assert isinstance(response.body, dict) and "resultCode" in response.body, (method, path)


# --- the fuzz -------------------------------------------------------------------------------------------

# Stands for an integer literal of 5,000 digits, which json.dumps cannot write (Python's int-string limit):
# encode() puts the digits in its place.
HUGE_LITERAL = "\x00huge-literal\x00"
FIVE_THOUSAND_DIGITS = "9" * 5000

# The values that once answered 500, and their neighbours.
TROUBLE_TEXT = [
    "\ud800",
    "a\udfffz",
    "\udc00\ud800",
    "x" * 5000,
    "",
    " ",
    "\x00",
    "١٢٣",
    "9999-12-31 23:59:59",
    "9999-12-31",
    "0001-01-01 00:00:00",
    "2026-02-30 10:00:00",
    "99:99",
    FIVE_THOUSAND_DIGITS,
    "9223372036854775808",
    HUGE_LITERAL,
]
TROUBLE_NUMBERS: list[Any] = [
    2**63,
    2**64,
    -(2**63) - 1,
    2**63 - 1,
    2**31,
    -(2**31) - 1,
    -1,
    0,
    1e308,
    -1e308,
    1.5,
    float("inf"),
    float("nan"),
    10**100,
]
# Every field name the documents and outdial's own interfaces use in a body or a query.
FIELDS = sorted(
    set(
        [
            "archiveHistory",
            "batchId",
            "beginTime",
            "blocklist",
            "blocklistNo",
            "busiResult",
            "busiResultCode",
            "busiResultDesc",
            "busiResultPolicy",
            "busiResultSubCode",
            "callBackUrl",
            "callCount",
            "callDataList",
            "callInterval",
            "callPolicy",
            "callType",
            "called",
            "calledNo",
            "callerNo",
            "campaignId",
            "ccId",
            "chooseType",
            "customField",
            "dataType",
            "delayTime",
            "description",
            "deviceSign",
            "deviceType",
            "endTime",
            "failInterval",
            "failedOnly",
            "fileName",
            "filePath",
            "hostKey",
            "hour",
            "id",
            "importTaskIds",
            "initStatus",
            "ip",
            "isCoverDupNo",
            "ivrParam",
            "limit",
            "maxAlertingTime",
            "maxPushes",
            "minute",
            "name",
            "noRetryPolicy",
            "obCallCount",
            "offset",
            "outBoundType",
            "pageNum",
            "pageSize",
            "policy",
            "policyJson",
            "policyType",
            "port",
            "predictMethod",
            "predictParam",
            "previewParam",
            "priority",
            "privateKey",
            "recycleTime",
            "recycleType",
            "restrictPeriod",
            "restrictTimes",
            "result",
            "retryDay",
            "retryNumber",
            "retryPolicy",
            "retryTimes",
            "scheduleParam",
            "serverId",
            "serverInfo",
            "serverPwd",
            "sessionId",
            "showDetail",
            "skillId",
            "skillName",
            "skillParam",
            "state",
            "strBeginTime",
            "strEndTime",
            "subStatus",
            "timeZone",
            "turnOrder",
            "turnType",
            "turns",
            "type",
            "userName",
            "validityExpirationTime",
            "validityTime",
            "validityTimeUnit",
            "week",
            "workNo",
            "accessCode",
        ]
    )
)

text_with_surrogates = st.text(st.characters(categories=["Cs", "Lu", "Nd"]), min_size=1, max_size=6)
leaves = st.one_of(
    st.sampled_from(TROUBLE_TEXT),
    st.sampled_from(TROUBLE_NUMBERS),
    text_with_surrogates,
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4),
    max_leaves=8,
)

# Valid bodies of the routes whose checks run deep, keyed by the route's path ending: the fuzz replaces one
# of their values at a time, so a trouble value meets the checker of a field that is otherwise well-formed.
SEED_BODIES: dict[str, list[Any]] = {
    "/rest/isales/v2/openapi/campaigns/{vdnId}": [example_body()],
    "/{campaignId}": [example_body()],
    "/calldata/{campaignId}": [
        {
            "callDataList": [
                {
                    "sessionId": "s1",
                    "called": [{"calledNo": "80021", "delayTime": 0, "type": "SI"}],
                    "customField": "c",
                    "recycleTime": "2026-12-01 10:00:00",
                    "callData": "d",
                },
                {"called": "80022"},
            ]
        }
    ],
    "/calldata/{campaignId}/delete": [
        {"recycleTime": "9999-12-31 23:59:59", "recycleType": "2", "archiveHistory": 1},
        {"sessionId": "s1", "called": "80021", "customField": "c"},
    ],
    "/blocklist/add": [
        {
            "blocklist": ["80021"],
            "validityTime": 1,
            "validityTimeUnit": 1,
            "restrictTimes": 1,
            "restrictPeriod": 1,
            "isCoverDupNo": 1,
        }
    ],
    "/blocklist/query": [{"blocklist": ["80021"]}, {"offset": 0, "limit": 10}],
    "/blocklist/delete": [{"blocklistNo": "80021"}],
    "/file/addServer": [
        {
            "userName": "u",
            "serverPwd": "p",
            "serverInfo": {"ip": "203.0.113.7", "port": 22, "filePath": "/in"},
        }
    ],
    "/file/{serverId}/updateServer": [
        {
            "userName": "u",
            "serverPwd": "p",
            "serverInfo": {"ip": "203.0.113.7", "port": 22, "filePath": "/in"},
        }
    ],
    "/file/queryServer": [{"offset": 0, "limit": 10}],
    "/calldatafile/uploadFileServer/{campaignId}": [
        {"serverId": "1", "fileName": "numbers.csv", "filePath": "/in", "hour": 10, "minute": 30}
    ],
    "/calldatafile/queryDataImportTask/{campaignId}": [{"offset": 0, "limit": 10, "importTaskIds": ["1"]}],
    "/holiday/{campaignId}": [{"id": 1, "name": "h", "beginTime": "2026-12-24", "endTime": "2026-12-26"}],
    "/callresult/{campaignId}": [
        {"beginTime": "2026-11-20 00:00:00", "endTime": "2026-11-23 00:00:00", "pageNum": 1, "pageSize": 10}
    ],
    "/callerNo/{campaignId}": [{"callerNo": [{"accessCode": "88889527", "priority": 3}]}],
    "/retryPolicy/{campaignId}": [example_body()["retryPolicy"]],
    "/callBusiResult/{dataId}": [{"busiResult": "1", "busiResultCode": "1", "busiResultDesc": "d"}],
}
QUERY_KEYS = ["offset", "limit", "pageNum", "pageSize", "beginTime", "endTime", "campaignId", "state", "name"]
# path values as sent: percent-escapes of a lone surrogate and of a byte that is not UTF-8 included
ID_VALUES = [
    "1",
    "0",
    "2147483648",
    "99999999999999999999",
    FIVE_THOUSAND_DIGITS,
    "abc",
    "١",
    "%ED%A0%80",
    "%ff",
]


def _paths_in(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths_in(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths_in(child, (*prefix, index)))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = value.copy()
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Any]) -> Any:
    seed = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 2))):
        paths = _paths_in(seed)  # again after each change: a replaced subtree takes its paths with it
        seed = _replaced(seed, draw(st.sampled_from(paths)), draw(values)) if paths else seed
    return seed


def bodies_for(path: str) -> st.SearchStrategy[Any]:
    seeds = [s for ending, s in SEED_BODIES.items() if path.endswith(ending)]
    generic = st.dictionaries(st.sampled_from(FIELDS), values, max_size=5) | values
    if not seeds:
        return generic
    return st.one_of(mutated([b for group in seeds for b in group]), generic)


def encode(body: Any) -> bytes:
    """JSON as a hostile client may write it: lone surrogates as \\u escapes (json.dumps' ensure_ascii),
    NaN and Infinity (which Python's decoder accepts), and integer literals of 5,000 digits."""
    if body is None:
        return b""
    text = json.dumps(body)
    return text.replace(json.dumps(HUGE_LITERAL), FIVE_THOUSAND_DIGITS).encode()


EXAMPLES = int(os.environ.get("OUTDIAL_FUZZ_EXAMPLES", "15"))


def test_the_fuzz_finds_no_5xx(client: Client, clock: VirtualClock) -> None:
    campaign_id = str(create_campaign(client))
    for method, path in ROUTES:  # each route gets its examples (one set-up for all: see above)
        _fuzz_route(client, clock, campaign_id, method, path)


def _fuzz_route(client: Client, clock: VirtualClock, campaign_id: str, method: str, path: str) -> None:
    path_ids = st.sampled_from([campaign_id, *ID_VALUES])
    queries = st.dictionaries(
        st.sampled_from(QUERY_KEYS),
        st.sampled_from([t for t in TROUBLE_TEXT if t.isascii() and t != HUGE_LITERAL]) | st.text(max_size=5),
        max_size=3,
    )
    names = re.findall(r"\{([^}:]+)", path)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples on every run and machine; raise EXAMPLES to explore more
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        ids=st.fixed_dictionaries({name: path_ids for name in names if name != "vdnId"}),
        vdn=st.sampled_from(["1", "1", "1", FIVE_THOUSAND_DIGITS]),
        body=bodies_for(path),
        query=queries,
    )
    def one_request(ids: dict[str, str], vdn: str, body: Any, query: dict[str, str]) -> None:
        target = path.replace("{vdnId}", vdn)
        for name, value in ids.items():
            target = re.sub(r"\{" + name + r"(:[a-z]+)?\}", value, target)
        clock.advance(0.001)  # a new timestamp: the same signed request twice would be a replay
        response = client.request(method, target, raw_body=encode(body), query=query or None)
        assert response.status_code < 500, (method, target, body, response.body)
        _assert_envelope(response)

    one_request()


# --- the examples, one by one (each answered 500 before) ------------------------------------------

V1 = "/rest/isales/v1/openapi/campaigns/1"
SURROGATE = '"\\ud800"'  # as a client writes it in JSON


SURROGATE_CASES = [
    ("POST", "/rest/isales/v2/openapi/campaigns/1", '{"name": %s}', "name"),
    ("POST", V1 + "/file/addServer", '{"userName": %s}', "userName"),
    (
        "POST",
        V1 + "/calldata/{c}",
        '{"callDataList": [{"called": "1", "sessionId": %s}]}',
        "callDataList[0].sessionId",
    ),
    (
        "POST",
        V1 + "/calldata/{c}",
        '{"callDataList": [{"called": "1", "customField": %s}]}',
        "callDataList[0].customField",
    ),
    ("POST", V1 + "/calldatafile/uploadFileServer/{c}", '{"serverId": "1", "fileName": %s}', "fileName"),
    (
        "POST",
        V1 + "/calldatafile/uploadFileServer/{c}",
        '{"serverId": "1", "fileName": "a.csv", "filePath": %s}',
        "filePath",
    ),
    (
        "POST",
        V1 + "/calldatafile/uploadFileServer/{c}",
        '{"serverId": %s, "fileName": "a.csv"}',
        "serverId",
    ),
    (
        "POST",
        V1 + "/calldatafile/queryDataImportTask/{c}",
        '{"offset": 0, "limit": 1, "importTaskIds": [%s]}',
        "importTaskIds[0]",
    ),
]


def test_a_lone_surrogate_is_refused_naming_the_field(client: Client, clock) -> None:
    campaign_id = create_campaign(client)
    for method, path, raw, field in SURROGATE_CASES:
        clock.advance(0.001)
        answer = client.request(
            method, path.replace("{c}", str(campaign_id)), raw_body=(raw % SURROGATE).encode()
        )
        assert answer.code == "02000002", (field, answer.body)
        assert answer.body["resultDesc"].startswith(f"{field} "), answer.body


NUMBERS_PAST_64_BITS = ["9223372036854775808", "18446744073709551616", "1e+308", "-9223372036854775809"]
NUMBER_CASES = [
    (V1 + "/blocklist/query", '{"offset": %s, "limit": 10}', "offset"),
    (V1 + "/file/queryServer", '{"offset": %s, "limit": 10}', "offset"),
    (V1 + "/calldatafile/queryDataImportTask/{c}", '{"offset": %s, "limit": 10}', "offset"),
    (V1 + "/blocklist/query", '{"offset": 0, "limit": %s}', "limit"),
]


def test_numbers_beyond_64_bits_are_refused_naming_the_field(client: Client, clock) -> None:
    campaign_id = create_campaign(client)
    for path, template, field in NUMBER_CASES:
        for number in NUMBERS_PAST_64_BITS:
            clock.advance(0.001)
            answer = client.request(
                "POST", path.replace("{c}", str(campaign_id)), raw_body=(template % number).encode()
            )
            assert answer.code == "02000007", (path, number, answer.body)
            assert answer.body["resultDesc"].startswith(f"{field} "), answer.body


def test_a_holiday_id_past_64_bits_is_refused_naming_it(client: Client) -> None:
    campaign_id = create_campaign(client)
    body = b'{"id": -9223372036854775809, "name": "h", "beginTime": "2026-12-24", "endTime": "2026-12-26"}'
    answer = client.request("PUT", f"{V1}/holiday/{campaign_id}", raw_body=body)
    assert answer.code == "02000007" and answer.body["resultDesc"].startswith("id "), answer.body


def test_an_integer_literal_of_5000_digits_is_refused_naming_the_field(client: Client) -> None:
    body = b'{"offset": ' + FIVE_THOUSAND_DIGITS.encode() + b', "limit": 10}'
    answer = client.request("POST", V1 + "/blocklist/query", raw_body=body)
    assert answer.code == "02000007", answer.body
    assert answer.body["resultDesc"].startswith("offset is a number of 5000 digits"), answer.body


def test_ids_and_vdn_ids_of_5000_digits(client: Client, clock) -> None:
    for path, field in (
        (f"{V1}/{FIVE_THOUSAND_DIGITS}", "campaignId"),
        (f"{V1}/calldata/1/{FIVE_THOUSAND_DIGITS}", "dataId"),
    ):
        clock.advance(0.001)
        answer = client.request("GET", path)
        assert answer.code == "02000007" and answer.body["resultDesc"].startswith(field), answer.body
    answer = client.request("GET", f"/rest/isales/v1/openapi/campaigns/{FIVE_THOUSAND_DIGITS}/1")
    assert answer.status_code == 401  # no key is bound to such a VDN


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Tokyo"])
def test_numbers_recycled_at_the_last_second_of_9999_are_read_and_deleted(
    client: Client, clock, ctx, zone
) -> None:
    import sqlalchemy as sa

    from outdial.models.calldata import call_data

    campaign_id = create_campaign(client, timeZone=zone)
    assert client.pause_campaign(1, campaign_id).ok  # numbers are added and deleted while paused
    for recycle_type in ("3", "2", "1"):  # exactly that second, that day, up to that day
        clock.advance(1)
        assert client.add_call_data(
            1, campaign_id, [{"called": "80021", "recycleTime": "9999-12-31 23:59:59"}]
        ).ok
        with ctx.db.read() as conn:
            data_id = conn.execute(sa.select(sa.func.max(call_data.c.id))).scalar_one()
        clock.advance(1)
        read = client.get_call_data(1, campaign_id, data_id)
        assert read.ok, read.body
        assert {"propCode": "recycleTime", "propValue": "9999-12-31 23:59:59"}.items() <= next(
            p for p in _props(read.body) if p.get("propCode") == "recycleTime"
        ).items()
        clock.advance(1)
        answer = client.delete_call_data(
            1, campaign_id, {"recycleTime": "9999-12-31 23:59:59", "recycleType": recycle_type}
        )
        assert answer.ok and answer.body["returnObject"]["deleteCount"] == 1, answer.body


def _props(body: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    pending: list[Any] = [body]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if "propCode" in item:
                found.append(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def test_a_nul_in_a_body_string_a_query_or_a_path_is_refused_naming_it(client: Client, clock) -> None:
    # PostgreSQL refuses NUL in any text, even compared in a WHERE: once a 500 on the list's `name`
    campaign_id = create_campaign(client)
    body = b'{"callDataList": [{"called": "1", "sessionId": "a\\u0000b"}]}'
    answer = client.request("POST", f"{V1}/calldata/{campaign_id}", raw_body=body)
    assert answer.code == "02000002", answer.body
    assert answer.body["resultDesc"].startswith("callDataList[0].sessionId must not contain NUL"), answer.body
    clock.advance(0.001)
    answer = client.list_campaigns(1, name="a\x00")
    assert answer.code == "02000002" and answer.body["resultDesc"].startswith("name "), answer.body
    clock.advance(0.001)
    answer = client.request("POST", f"{V1}/file/a%00b/deleteServer")
    assert answer.code == "02000002" and answer.body["resultDesc"].startswith("serverId "), answer.body
