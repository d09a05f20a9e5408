"""All SQL of the results domain: the result queries, the callback listings and the delivery worker's
claims and updates (the outbox insert itself is outbox.enqueue, called by the engine)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from outdial.db import insert_ignore
from outdial.models import calldata as cd
from outdial.models.calldata import call_data
from outdial.models.engine import attempts
from outdial.models.foundation import campaigns, vdn_settings
from outdial.models.results import DELIVERED, GAVE_UP, PENDING, callback_deliveries, callback_outbox

if TYPE_CHECKING:
    from outdial.results.service import ResultQuery

# An attempt is finished once the engine wrote its end (ENDED and RECONCILED both set end_at). The partial
# index ix_attempts_finished (campaign_id, local_day, id) WHERE end_at IS NOT NULL holds exactly the
# finished calls in the order they are listed, so counts and pages are read from the index alone; the
# partial index ix_attempts_final the same for the final calls (attempts.final, set with
# call_data.final_attempt_id by the engine).
FINISHED = attempts.c.end_at.is_not(None)


# what a callresult item shows (outbox.result_item)
ITEM_COLUMNS = [
    attempts.c[name]
    for name in (
        "id", "call_id", "session_id", "called", "created_at", "call_status", "fail_code", "result_code", "record_path"
    )
]  # fmt: skip


def campaign_zone(conn: Connection, vdn_id: int, campaign_id: int) -> str | None:
    """The time zone of the VDN's live campaign, or None when it does not exist or is another VDN's."""
    return conn.execute(
        sa.select(campaigns.c.timezone).where(
            campaigns.c.id == campaign_id, campaigns.c.vdn_id == vdn_id, campaigns.c.deleted_at.is_(None)
        )
    ).scalar_one_or_none()


def find_results(conn: Connection, campaign_id: int, query: ResultQuery) -> tuple[int, Sequence[Row]]:
    """(total, page) of finished calls in the order they were placed (local day, then attempt id); with
    showDetail 0 only each record's final one. The page's ids are found first (from indexes, in a
    subquery), then only those rows are read: a deep page costs an index walk, not a table walk."""
    filters: list[Any] = []
    if query.session_id is not None:
        filters.append(attempts.c.session_id == query.session_id)
    if query.custom_field is not None:
        filters.append(attempts.c.custom_field == query.custom_field)
    if query.first_day is not None:
        filters.append(attempts.c.local_day.between(query.first_day, query.last_day))
    all_days = attempts.c.local_day.between("0000-01-01", "9999-12-31")
    offset = (query.page_num - 1) * query.page_size
    # showDetail 0 lists each record's final call: the attempts flagged final (ix_attempts_final holds exactly
    # those, in listing order); showDetail 1 every finished call (ix_attempts_finished)
    listed: list[Any] = [attempts.c.final] if query.show_detail == 0 else [FINISHED]
    if query.custom_field is not None and query.show_detail == 0:
        # final calls are finished: saying so lets ix_attempts_campaign_custom (which holds `final`) answer alone
        listed.append(FINISHED)
    # without a date filter, "every day" keeps the count on the partial index (SQLite would otherwise count
    # through ix_attempts_campaign_session and read every row)
    days = [] if query.first_day is not None else [all_days]
    source = sa.select(attempts.c.id).where(attempts.c.campaign_id == campaign_id, *listed, *days, *filters)
    order = [attempts.c.local_day, attempts.c.id]
    total = int(conn.execute(sa.select(sa.func.count()).select_from(source.subquery())).scalar_one())
    if offset >= total:
        return total, []
    page = source.order_by(*order).limit(query.page_size).offset(offset).subquery()
    items = sa.select(*ITEM_COLUMNS).join(page, page.c.id == attempts.c.id).order_by(*order)
    return total, conn.execute(items).all()


def finished_attempt(conn: Connection, vdn_id: int, call_id: str) -> Row | None:
    """A finished attempt of the VDN by callId, with its campaign's zone."""
    return conn.execute(
        sa.select(attempts, campaigns.c.timezone)
        .join(campaigns, campaigns.c.id == attempts.c.campaign_id)
        .where(attempts.c.call_id == call_id, attempts.c.vdn_id == vdn_id, FINISHED)
    ).first()


def fail_counts(conn: Connection, campaign_id: int, first_day: str, last_day: str) -> Sequence[Row]:
    """(local_day, fail_code, count) of the campaign's failed calls between two days (both included)."""
    return conn.execute(
        sa.select(attempts.c.local_day, attempts.c.fail_code, sa.func.count())
        .where(
            attempts.c.campaign_id == campaign_id,
            FINISHED,
            attempts.c.call_status == 5,
            attempts.c.local_day.between(first_day, last_day),
        )
        .group_by(attempts.c.local_day, attempts.c.fail_code)
    ).all()


def _count_if(condition: Any) -> Any:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def campaign_counts(
    conn: Connection, campaign_id: int, today: str, today_ms: tuple[int, int], custom_field: str | None
) -> dict[str, int]:
    """The statistics counters of a campaign (or of its records whose customField is `custom_field`)."""
    start, end = today_ms
    record_filter = [call_data.c.campaign_id == campaign_id, call_data.c.state != cd.DELETED]
    attempt_filter = [attempts.c.campaign_id == campaign_id, FINISHED]
    if custom_field is not None:
        record_filter.append(call_data.c.custom_field == custom_field)
        attempt_filter.append(attempts.c.custom_field == custom_field)
    unfinished = call_data.c.state.in_(cd.UNFINISHED_STATES)
    finished_today = call_data.c.finished_at.between(start, end - 1)
    records = conn.execute(
        sa.select(
            sa.func.count(),
            _count_if(sa.and_(unfinished, call_data.c.attempt_count == 0)),
            _count_if(call_data.c.attempt_count > 0),
            _count_if(call_data.c.state == cd.FINISHED),
            _count_if(call_data.c.state.in_((cd.FINISHED, cd.RECYCLED))),
            _count_if(sa.and_(call_data.c.state.in_((cd.FINISHED, cd.RECYCLED)), finished_today)),
            _count_if(call_data.c.created_at.between(start, end - 1)),
        ).where(*record_filter)
    ).one()
    calls = conn.execute(
        sa.select(
            sa.func.count(),
            _count_if(attempts.c.call_status == 6),
            _count_if(attempts.c.local_day == today),
            _count_if(sa.and_(attempts.c.local_day == today, attempts.c.call_status == 6)),
        ).where(*attempt_filter)
    ).one()
    total, uncalled, called, finished, total_finished, finished_today_n, added_today = (
        int(v) for v in records
    )
    calls_n, calls_ok, calls_today, calls_ok_today = (int(v) for v in calls)
    return {
        "unCallCount": uncalled,
        "calledCount": called,
        "finishCount": finished,
        "totalCalledCount": calls_n,
        "totalCallSucc": calls_ok,
        "totalFinishCount": total_finished,
        "totalCount": total,
        "dailyCalledCount": calls_today,
        "dailyCallSucc": calls_ok_today,
        "dailyFinishCount": finished_today_n,
        "dailyCount": added_today,
    }


# --- callback outbox and delivery log, as outdial's own listing interfaces show them ---


def delivery_page(
    conn: Connection, vdn_id: int, campaign_id: int | None, failed_only: bool, offset: int, limit: int
) -> tuple[int, Sequence[Row]]:
    conditions: list[Any] = [campaigns.c.vdn_id == vdn_id]
    if campaign_id is not None:
        conditions.append(callback_deliveries.c.campaign_id == campaign_id)
    if failed_only:
        conditions.append(callback_deliveries.c.ok.is_(False))
    source = callback_deliveries.join(campaigns, campaigns.c.id == callback_deliveries.c.campaign_id)
    total = conn.execute(sa.select(sa.func.count()).select_from(source).where(*conditions)).scalar_one()
    rows = conn.execute(
        sa.select(callback_deliveries)
        .select_from(source)
        .where(*conditions)
        .order_by(callback_deliveries.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return int(total), rows


def outbox_page(
    conn: Connection, vdn_id: int, campaign_id: int | None, state: int | None, offset: int, limit: int
) -> tuple[int, Sequence[Row]]:
    conditions: list[Any] = [callback_outbox.c.vdn_id == vdn_id]
    if campaign_id is not None:
        conditions.append(callback_outbox.c.campaign_id == campaign_id)
    if state is not None:
        conditions.append(callback_outbox.c.state == state)
    total = conn.execute(
        sa.select(sa.func.count()).select_from(callback_outbox).where(*conditions)
    ).scalar_one()
    rows = conn.execute(
        sa.select(callback_outbox, attempts.c.call_id)
        .join(attempts, attempts.c.id == callback_outbox.c.attempt_id, isouter=True)
        .where(*conditions)
        .order_by(callback_outbox.c.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return int(total), rows


def prune_delivered(conn: Connection, before_ms: int, limit: int) -> int:
    """Delete up to `limit` delivered results delivered before `before_ms`, and up to `limit` entries of the
    delivery log written before it (given-up results stay until redelivered). Returns how many rows went."""
    outbox_ids = (
        sa.select(callback_outbox.c.id)
        .where(callback_outbox.c.state == DELIVERED, callback_outbox.c.delivered_at < before_ms)
        .order_by(callback_outbox.c.id)
        .limit(limit)
    )
    log_ids = (
        sa.select(callback_deliveries.c.id)
        .where(callback_deliveries.c.at < before_ms)
        .order_by(callback_deliveries.c.id)
        .limit(limit)
    )
    removed = conn.execute(callback_outbox.delete().where(callback_outbox.c.id.in_(outbox_ids))).rowcount
    removed += conn.execute(
        callback_deliveries.delete().where(callback_deliveries.c.id.in_(log_ids))
    ).rowcount
    return int(removed)


def requeue_given_up(conn: Connection, vdn_id: int, campaign_id: int, now_ms: int) -> int:
    """Given-up results of the campaign back to pending with a fresh push count; returns how many."""
    ids = (
        conn.execute(
            sa.select(callback_outbox.c.id).where(
                callback_outbox.c.vdn_id == vdn_id,
                callback_outbox.c.campaign_id == campaign_id,
                callback_outbox.c.state == GAVE_UP,
            )
        )
        .scalars()
        .all()
    )
    if ids:
        conn.execute(
            sa.update(callback_outbox)
            .where(callback_outbox.c.id.in_(ids))
            .values(state=PENDING, pushes=0, next_push_at=now_ms)
        )
    return len(ids)


# --- delivery worker ---


def pending_heads(conn: Connection, now_ms: int) -> list[tuple[int, int]]:
    """(campaign_id, oldest pending outbox id) of every campaign whose oldest pending result is due."""
    heads = (
        sa.select(callback_outbox.c.campaign_id, sa.func.min(callback_outbox.c.id).label("head_id"))
        .where(callback_outbox.c.state == PENDING)
        .group_by(callback_outbox.c.campaign_id)
        .subquery()
    )
    rows = conn.execute(
        sa.select(heads.c.campaign_id, heads.c.head_id)
        .join(callback_outbox, callback_outbox.c.id == heads.c.head_id)
        .where(callback_outbox.c.next_push_at <= now_ms)
        .order_by(heads.c.head_id)
    ).all()
    return [(int(r.campaign_id), int(r.head_id)) for r in rows]


def claim_head(conn: Connection, head_id: int, now_ms: int, lease_ms: int) -> bool:
    """Take the campaign's head for one push: move its next_push_at past the lease, only if it is still
    pending and due. A second worker then sees the head not due and leaves the campaign alone, which keeps
    the campaign's order; a worker that dies mid-push lets the lease run out and the batch is pushed again."""
    claimed = conn.execute(
        sa.update(callback_outbox)
        .where(
            callback_outbox.c.id == head_id,
            callback_outbox.c.state == PENDING,
            callback_outbox.c.next_push_at <= now_ms,
        )
        .values(next_push_at=now_ms + lease_ms)
        .returning(callback_outbox.c.id)
    ).first()
    return claimed is not None


def pending_batch(conn: Connection, campaign_id: int, limit: int) -> Sequence[Row]:
    return conn.execute(
        sa.select(callback_outbox.c.id, callback_outbox.c.vdn_id, callback_outbox.c.payload)
        .where(callback_outbox.c.campaign_id == campaign_id, callback_outbox.c.state == PENDING)
        .order_by(callback_outbox.c.id)
        .limit(limit)
    ).all()


def pushes_of(conn: Connection, outbox_id: int) -> int:
    return int(
        conn.execute(
            sa.select(callback_outbox.c.pushes).where(callback_outbox.c.id == outbox_id)
        ).scalar_one()
    )


def callback_target(
    conn: Connection, campaign_id: int, vdn_id: int
) -> tuple[str | None, str | None, int | None]:
    """(campaign URL, tenant URL, tenant max pushes)."""
    url = conn.execute(sa.select(campaigns.c.callback_url).where(campaigns.c.id == campaign_id)).scalar()
    vdn = conn.execute(sa.select(vdn_settings).where(vdn_settings.c.vdn_id == vdn_id)).first()
    return url, (vdn.callback_url if vdn else None), (vdn.callback_max_pushes if vdn else None)


def record_push(
    conn: Connection,
    *,
    campaign_id: int,
    url: str,
    ids: list[int],
    push_no: int,
    now_ms: int,
    http_status: int | None,
    error: str | None,
    max_pushes: int,
    retry_at: int,
) -> None:
    """Log one push and move its results on: delivered, or one push more (given up at max_pushes)."""
    conn.execute(
        sa.insert(callback_deliveries).values(
            campaign_id=campaign_id,
            url=url,
            first_outbox_id=ids[0],
            last_outbox_id=ids[-1],
            result_count=len(ids),
            push_no=push_no,
            at=now_ms,
            http_status=http_status,
            ok=error is None,
            error=error,
        )
    )
    batch = callback_outbox.c.id.in_(ids)
    if error is None:
        conn.execute(
            sa.update(callback_outbox)
            .where(batch)
            .values(
                state=DELIVERED, pushes=callback_outbox.c.pushes + 1, delivered_at=now_ms, last_error=None
            )
        )
        return
    # each result counts its own pushes: one that joined the batch late still gets its full share
    conn.execute(
        sa.update(callback_outbox)
        .where(batch, callback_outbox.c.pushes + 1 >= max_pushes)
        .values(state=GAVE_UP, pushes=callback_outbox.c.pushes + 1, last_error=error)
    )
    conn.execute(
        sa.update(callback_outbox)
        .where(batch, callback_outbox.c.state == PENDING)
        .values(pushes=callback_outbox.c.pushes + 1, last_error=error, next_push_at=retry_at)
    )


def tenant_callback(conn: Connection, vdn_id: int) -> tuple[str | None, int | None]:
    row = conn.execute(sa.select(vdn_settings).where(vdn_settings.c.vdn_id == vdn_id)).first()
    return (row.callback_url, row.callback_max_pushes) if row else (None, None)


def save_tenant_callback(conn: Connection, vdn_id: int, values: dict[str, Any]) -> None:
    if conn.execute(sa.select(vdn_settings.c.vdn_id).where(vdn_settings.c.vdn_id == vdn_id)).first() is None:
        insert_ignore(conn, vdn_settings, {"vdn_id": vdn_id})
    conn.execute(sa.update(vdn_settings).where(vdn_settings.c.vdn_id == vdn_id).values(**values))
