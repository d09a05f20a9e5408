"""All SQL of the results domain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from outdial.models.calldata import call_data
from outdial.models.engine import ENDED, RECONCILED, attempts
from outdial.models.foundation import campaigns

if TYPE_CHECKING:
    from outdial.results.service import ResultQuery


def campaign_zone(conn: Connection, vdn_id: int, campaign_id: int) -> str | None:
    """The time zone of the VDN's live campaign, or None when it does not exist or is another VDN's."""
    return conn.execute(
        sa.select(campaigns.c.timezone).where(
            campaigns.c.id == campaign_id, campaigns.c.vdn_id == vdn_id, campaigns.c.deleted_at.is_(None)
        )
    ).scalar_one_or_none()


def find_results(conn: Connection, campaign_id: int, query: ResultQuery) -> tuple[int, Sequence[Row]]:
    """(total, page) of finished attempts; with showDetail 0 only each record's final attempt."""
    conditions = [attempts.c.campaign_id == campaign_id, attempts.c.state.in_((ENDED, RECONCILED))]
    if query.session_id is not None:
        conditions.append(attempts.c.session_id == query.session_id)
    if query.custom_field is not None:
        conditions.append(attempts.c.custom_field == query.custom_field)
    if query.first_day is not None:
        conditions.append(attempts.c.local_day.between(query.first_day, query.last_day))
    source: sa.FromClause = attempts
    if query.show_detail == 0:
        source = attempts.join(call_data, call_data.c.final_attempt_id == attempts.c.id)
    total = conn.execute(sa.select(sa.func.count()).select_from(source).where(*conditions)).scalar_one()
    rows = conn.execute(
        sa.select(attempts)
        .select_from(source)
        .where(*conditions)
        .order_by(attempts.c.end_at, attempts.c.id)
        .limit(query.page_size)
        .offset((query.page_num - 1) * query.page_size)
    ).all()
    return int(total), rows
