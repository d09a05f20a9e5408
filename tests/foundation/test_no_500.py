"""Whatever a client sends to any signed route, the answer is an envelope with a documented status, never
a 500. Every route of the app is walked with bodies of every JSON shape and a few malformed ones."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from campaigns.factories import create_campaign
from outdial.app import create_app
from outdial.client import Client

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
    path = path.replace("{campaignId:int}", str(campaign_id))
    return re.sub(r"\{[^}]+\}", other, path)


ROUTES = _signed_routes()


def test_the_walk_covers_every_domain() -> None:
    paths = " ".join(path for _, path in ROUTES)
    for part in ("/calldata/", "/blocklist", "/calldatafile/", "/callresult/", "/holiday/", "/skills"):
        assert part in paths


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_body_makes_a_route_answer_500(client: Client, clock, method: str, path: str) -> None:
    campaign_id = create_campaign(client)
    target = _fill(path, campaign_id)
    answers = []
    for body in BODIES:
        clock.advance(1)  # a new timestamp: the same signed request twice would be a replay
        answers.append(client.request(method, target, body))
    for raw in RAW_BODIES:
        clock.advance(1)
        answers.append(client.request(method, target, raw_body=raw))
    for huge in ("99999999999999999999", "-1"):  # past BIGINT, and negative: ids a database may refuse
        clock.advance(1)
        answers.append(client.request(method, _fill(path, huge, other=huge), {}))
    for response in answers:
        assert response.status_code in DOCUMENTED_STATUSES, response.body
        assert isinstance(response.body, dict) and "resultCode" in response.body, response.body
