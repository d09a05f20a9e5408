"""Rules of the engine's interfaces that need the database: writing a business result back for a record
(and applying the campaign's business result policy). Takes a Connection; never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from outdial import errors
from outdial.campaigns.status import COMPLETED, PUBLISHED
from outdial.engine import repository as repo
from outdial.engine import resultcodes
from outdial.engine.plan import CampaignPlan
from outdial.errors import ApiError
from outdial.models import calldata as cd
from outdial.validation import as_object, optional_str, require_str

MAX_BUSI_RESULT = 50
MAX_SUB_STATUS = 50
MAX_DESC = 1024
MAX_WORK_NO = 32


def write_business_result(conn: Connection, vdn_id: int, data_id: int, body: object, now_ms: int) -> str:
    """Store a business result for record `data_id` and apply the busiPolicy entry it matches.

    Returns what happened: "stored" (no entry matches, or the record can no longer be called), "pending"
    (its call is in progress: the runner applies the policy when the call ends) or "applied"."""
    data = as_object(body, "request body")
    busi_result = require_str(data, "busiResult", max_len=MAX_BUSI_RESULT)
    sub_status = optional_str(data, "subStatus", max_len=MAX_SUB_STATUS)
    desc = optional_str(data, "busiResultDesc", max_len=MAX_DESC)
    work_no = optional_str(data, "workNo", max_len=MAX_WORK_NO)
    record = repo.record_of_vdn(conn, vdn_id, data_id)
    if record is None or record.state == cd.DELETED:
        raise ApiError(errors.DATA_NOT_FOUND, f"dataId: no record {data_id} in VDN {vdn_id}")
    row = repo.campaign_row(conn, record.campaign_id)
    if row is None or row.deleted_at is not None:
        raise ApiError(errors.DATA_NOT_FOUND, f"dataId: record {data_id} belongs to a deleted campaign")
    plan = CampaignPlan.load(conn, row)
    _check_sub_status(plan.retry_policy.get("business") or [], busi_result, sub_status)
    repo.insert_business_result(
        conn,
        {
            "data_id": data_id,
            "campaign_id": record.campaign_id,
            "busi_result": busi_result,
            "sub_status": sub_status,
            "busi_result_desc": desc,
            "work_no": work_no,
            "created_at": now_ms,
        },
    )
    if record.state == cd.IN_PROGRESS:
        return "pending"
    if record.state not in (cd.WAITING, cd.FINISHED):
        return "stored"  # recycled: its recycle time has passed, nothing may call it again
    history = repo.attempt_history(conn, [data_id]).get(data_id, [])
    decision = plan.decide_business(record, history, busi_result, sub_status, now_ms)
    if decision is None:
        return "stored"
    waiting = decision.state == cd.WAITING
    values: dict[str, Any] = {
        "state": decision.state,
        "next_due_at": decision.due_ms,
        "number_index": decision.number_index,
    }
    if waiting:
        values.update(finished_at=None, final_attempt_id=None)
    elif record.state == cd.WAITING:
        values["finished_at"] = now_ms
    repo.set_record(conn, data_id, values)
    if waiting and row.status == COMPLETED and now_ms < row.end_at:
        # completed only because nothing was left: the record to call again makes it run again
        repo.set_campaign_status(conn, row.id, PUBLISHED, now_ms)
    return "applied"


def _check_sub_status(entries: list[dict[str, Any]], code: str, sub_status: str | None) -> None:
    """0200034: the campaign's busiPolicy knows this result only with sub-statuses, and this one is not
    among them (a result it does not list at all is stored without consequence)."""
    subs = [e.get("busiResultSubCode") for e in entries if e.get("busiResultCode") == code]
    if not subs or sub_status is None or None in subs:
        return
    if sub_status not in subs:
        raise ApiError(
            errors.SUB_STATUS_MISMATCH,
            f"subStatus: {sub_status!r} is not a sub-status of business result {code!r} ({', '.join(str(s) for s in subs)})",
        )


# --- outdial's own: the VDN's failCode -> resultCode map -------------------------------------------------


def result_codes(conn: Connection, vdn_id: int) -> list[dict[str, Any]]:
    return resultcodes.result_code_table(repo.result_code_overrides(conn, vdn_id))


def set_result_codes(conn: Connection, vdn_id: int, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Apply the changes (all or none: they are checked first) and answer the map in force."""
    repo.set_result_codes(conn, vdn_id, resultcodes.parse_result_code_changes(body))
    return result_codes(conn, vdn_id)
