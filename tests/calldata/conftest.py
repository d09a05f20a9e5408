"""Fixtures of the call-data API tests. The clock starts at Mon 2026-11-23 09:00:00 UTC; the server's zone
is UTC. Numbers can be added only to a campaign that is not executing, so the default campaign here is
published for tomorrow."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from campaigns.factories import create_campaign
from outdial.client import Client
from outdial.context import AppContext
from outdial.models.calldata import blacklist, call_data

TOMORROW = {"strBeginTime": "2026-11-24 08:00:00", "strEndTime": "2026-11-25 20:00:00"}
DOCUMENT_EXAMPLE: list[dict[str, Any]] = [
    {"sessionId": "00750", "called": "80021"},
    {"sessionId": "00850", "called": "80022"},
    {"sessionId": "00950", "called": "80023"},
    {"sessionId": "01050", "called": "80024"},
]


@pytest.fixture
def campaign_id(client: Client) -> int:
    """A campaign of VDN 1, published, starting tomorrow 08:00 UTC."""
    return create_campaign(client, **TOMORROW)


def stored(ctx: AppContext, campaign_id: int | None = None) -> list[Any]:
    """The call_data rows (of one campaign, or all), in id order."""
    query = sa.select(call_data).order_by(call_data.c.id)
    if campaign_id is not None:
        query = query.where(call_data.c.campaign_id == campaign_id)
    with ctx.db.read() as conn:
        return list(conn.execute(query).all())


def blacklisted(ctx: AppContext, vdn_id: int = 1) -> dict[str, Any]:
    with ctx.db.read() as conn:
        rows = conn.execute(sa.select(blacklist).where(blacklist.c.vdn_id == vdn_id)).all()
    return {row.number: row for row in rows}
