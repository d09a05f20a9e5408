"""SQL for campaigns, their calling numbers and their holidays."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from outdial.campaigns.status import COMPLETED, EXECUTING, PAUSED, PUBLISHED
from outdial.models.calldata import call_data
from outdial.models.engine import attempts, business_results, campaign_leases
from outdial.models.foundation import campaign_callers, campaign_holidays, campaigns
from outdial.models.imports import import_failures, import_tasks
from outdial.models.results import callback_deliveries, callback_outbox

SKILL_DEVICE_TYPES = (2, 5, 6)
IVR_DEVICE_TYPES = (1, 3)

# pg_advisory_xact_lock(class, vdnId): serializes the adds and modifies of one VDN's campaigns, so the
# "at most 20 live campaigns" count cannot be passed by two concurrent adds. SQLite writers are serial.
_CAMPAIGN_LOCK_CLASS = 0x0CA4


def get_campaign(conn: Connection, vdn_id: int, campaign_id: int, *, for_update: bool = False) -> Row | None:
    """The live (not deleted) campaign `campaign_id` of VDN `vdn_id`, or None. `for_update` locks the row
    on PostgreSQL (SQLite write transactions are already exclusive)."""
    query = sa.select(campaigns).where(
        campaigns.c.id == campaign_id, campaigns.c.vdn_id == vdn_id, campaigns.c.deleted_at.is_(None)
    )
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).first()


def effective_status_sql(now_ms: int) -> sa.ColumnElement[int]:
    """campaigns/status.py's effective_status as SQL (a test checks that the two agree)."""
    status = campaigns.c.status
    return sa.case(
        (status.in_((PAUSED, COMPLETED)), status),
        (campaigns.c.end_at <= now_ms, sa.literal(COMPLETED)),
        (campaigns.c.begin_at <= now_ms, sa.literal(EXECUTING)),
        else_=sa.literal(PUBLISHED),
    )


def lock_vdn_campaigns(conn: Connection, vdn_id: int) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CAMPAIGN_LOCK_CLASS, vdn_id)))


def name_taken(conn: Connection, vdn_id: int, name: str, *, except_id: int | None = None) -> bool:
    query = sa.select(campaigns.c.id).where(
        campaigns.c.vdn_id == vdn_id, campaigns.c.name == name, campaigns.c.deleted_at.is_(None)
    )
    if except_id is not None:
        query = query.where(campaigns.c.id != except_id)
    return conn.execute(query.limit(1)).first() is not None


def find_by_name(conn: Connection, vdn_id: int, name: str) -> Row | None:
    """The VDN's campaign (not deleted) with this name; names are unique among those."""
    return conn.execute(
        sa.select(campaigns).where(
            campaigns.c.vdn_id == vdn_id, campaigns.c.name == name, campaigns.c.deleted_at.is_(None)
        )
    ).first()


@dataclass(frozen=True, slots=True)
class LiveCounts:
    skill_queue: int
    ivr: int


def live_counts(conn: Connection, vdn_id: int, now_ms: int) -> LiveCounts:
    """Campaigns that are neither deleted nor completed, per device class."""
    device = campaigns.c.device_type
    row = conn.execute(
        sa.select(
            sa.func.count().filter(device.in_(SKILL_DEVICE_TYPES)),
            sa.func.count().filter(device.in_(IVR_DEVICE_TYPES)),
        ).where(
            campaigns.c.vdn_id == vdn_id,
            campaigns.c.deleted_at.is_(None),
            effective_status_sql(now_ms) != COMPLETED,
        )
    ).one()
    return LiveCounts(int(row[0]), int(row[1]))


def insert_campaign(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(campaigns.insert().values(**values).returning(campaigns.c.id)).scalar_one())


def update_campaign(conn: Connection, campaign_id: int, values: dict[str, Any]) -> None:
    conn.execute(campaigns.update().where(campaigns.c.id == campaign_id).values(**values))


def archive_campaign(conn: Connection, campaign_id: int, now_ms: int) -> None:
    conn.execute(
        campaigns.update().where(campaigns.c.id == campaign_id).values(deleted_at=now_ms, updated_at=now_ms)
    )


def purge_campaign(conn: Connection, campaign_id: int) -> None:
    """Remove a campaign and everything recorded for it. Tables without a foreign key to campaigns are
    cleared by hand; the others would cascade, but are cleared explicitly too so nothing depends on
    SQLite's foreign_keys pragma."""
    task_ids = sa.select(import_tasks.c.id).where(import_tasks.c.campaign_id == campaign_id)
    conn.execute(import_failures.delete().where(import_failures.c.task_id.in_(task_ids)))
    for table in (
        import_tasks,
        callback_deliveries,
        callback_outbox,
        business_results,
        attempts,
        campaign_leases,
        call_data,
        campaign_callers,
        campaign_holidays,
    ):
        conn.execute(table.delete().where(table.c.campaign_id == campaign_id))
    conn.execute(campaigns.delete().where(campaigns.c.id == campaign_id))


# --- list -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignFilter:
    name: str | None = None  # substring, case-insensitive
    status: int | None = None  # effective status; None: all
    device_type: int | None = None  # None: all
    begin_from: int | None = None  # begin_at >= this
    end_until: int | None = None  # end_at <= this


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_campaigns(
    conn: Connection, vdn_id: int, where: CampaignFilter, now_ms: int, offset: int, limit: int
) -> tuple[int, Sequence[Row]]:
    """(total matching, one page of rows newest first), each row with an `effective_status` column."""
    effective = effective_status_sql(now_ms)
    conditions: list[sa.ColumnElement[bool]] = [
        campaigns.c.vdn_id == vdn_id,
        campaigns.c.deleted_at.is_(None),
    ]
    if where.name:
        conditions.append(campaigns.c.name.ilike(f"%{_like_escape(where.name)}%", escape="\\"))
    if where.status is not None:
        conditions.append(effective == where.status)
    if where.device_type is not None:
        conditions.append(campaigns.c.device_type == where.device_type)
    if where.begin_from is not None:
        conditions.append(campaigns.c.begin_at >= where.begin_from)
    if where.end_until is not None:
        conditions.append(campaigns.c.end_at <= where.end_until)
    total = conn.execute(sa.select(sa.func.count()).select_from(campaigns).where(*conditions)).scalar_one()
    rows = conn.execute(
        sa.select(campaigns, effective.label("effective_status"))
        .where(*conditions)
        .order_by(campaigns.c.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return int(total), rows


# --- calling numbers ------------------------------------------------------------------------------------


def callers_of(conn: Connection, campaign_ids: Iterable[int]) -> dict[int, list[tuple[str, int]]]:
    """Calling numbers per campaign, highest priority (smallest number) first."""
    ids = list(campaign_ids)
    found: dict[int, list[tuple[str, int]]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = conn.execute(
        sa.select(campaign_callers)
        .where(campaign_callers.c.campaign_id.in_(ids))
        .order_by(campaign_callers.c.campaign_id, campaign_callers.c.priority, campaign_callers.c.access_code)
    )
    for r in rows:
        found[r.campaign_id].append((r.access_code, r.priority))
    return found


def upsert_callers(conn: Connection, campaign_id: int, callers: Iterable[tuple[str, int]]) -> None:
    for access_code, priority in callers:
        conn.execute(
            campaign_callers.delete().where(
                campaign_callers.c.campaign_id == campaign_id, campaign_callers.c.access_code == access_code
            )
        )
        conn.execute(
            campaign_callers.insert().values(
                campaign_id=campaign_id, access_code=access_code, priority=priority
            )
        )


def replace_callers(conn: Connection, campaign_id: int, callers: Iterable[tuple[str, int]]) -> None:
    conn.execute(campaign_callers.delete().where(campaign_callers.c.campaign_id == campaign_id))
    upsert_callers(conn, campaign_id, callers)


def delete_callers(conn: Connection, campaign_id: int, access_codes: Iterable[str]) -> None:
    conn.execute(
        campaign_callers.delete().where(
            campaign_callers.c.campaign_id == campaign_id,
            campaign_callers.c.access_code.in_(list(access_codes)),
        )
    )


# --- holidays -------------------------------------------------------------------------------------------


def holidays_of(conn: Connection, campaign_id: int) -> Sequence[Row]:
    return conn.execute(
        sa.select(campaign_holidays)
        .where(campaign_holidays.c.campaign_id == campaign_id)
        .order_by(campaign_holidays.c.id)
    ).all()


def holiday_count(conn: Connection, campaign_id: int) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(campaign_holidays)
            .where(campaign_holidays.c.campaign_id == campaign_id)
        ).scalar_one()
    )


def holiday_name_taken(
    conn: Connection, campaign_id: int, name: str, *, except_id: int | None = None
) -> bool:
    query = sa.select(campaign_holidays.c.id).where(
        campaign_holidays.c.campaign_id == campaign_id, campaign_holidays.c.name == name
    )
    if except_id is not None:
        query = query.where(campaign_holidays.c.id != except_id)
    return conn.execute(query.limit(1)).first() is not None


def get_holiday(conn: Connection, campaign_id: int, holiday_id: int) -> Row | None:
    return conn.execute(
        sa.select(campaign_holidays).where(
            campaign_holidays.c.campaign_id == campaign_id, campaign_holidays.c.id == holiday_id
        )
    ).first()


def insert_holiday(conn: Connection, campaign_id: int, values: dict[str, Any]) -> int:
    return int(
        conn.execute(
            campaign_holidays.insert()
            .values(campaign_id=campaign_id, **values)
            .returning(campaign_holidays.c.id)
        ).scalar_one()
    )


def update_holiday(conn: Connection, holiday_id: int, values: dict[str, Any]) -> None:
    conn.execute(campaign_holidays.update().where(campaign_holidays.c.id == holiday_id).values(**values))


def delete_holidays(conn: Connection, campaign_id: int, holiday_id: int | None = None) -> int:
    query = campaign_holidays.delete().where(campaign_holidays.c.campaign_id == campaign_id)
    if holiday_id is not None:
        query = query.where(campaign_holidays.c.id == holiday_id)
    return conn.execute(query).rowcount


# --- skill queues in use --------------------------------------------------------------------------------


def live_campaigns_using_skill(conn: Connection, vdn_id: int, skill_id: int, now_ms: int) -> list[int]:
    rows = conn.execute(
        sa.select(campaigns.c.id)
        .where(
            campaigns.c.vdn_id == vdn_id,
            campaigns.c.skill_id == skill_id,
            campaigns.c.deleted_at.is_(None),
            effective_status_sql(now_ms) != COMPLETED,
        )
        .order_by(campaigns.c.id)
    )
    return [r.id for r in rows]
