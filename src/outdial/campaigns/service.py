"""The campaign interfaces' rules that need the database. Every function takes the request's Connection and
never commits; `wake` (when given) runs after the commit to tell the engine a campaign changed.
The state machine and the decisions are in docs/campaign-lifecycle.md."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from outdial import errors
from outdial import validation as v
from outdial.campaigns import parts
from outdial.campaigns import repository as repo
from outdial.campaigns.status import COMPLETED, EXECUTING, PAUSED, PUBLISHED, effective_status
from outdial.campaigns.validation import ValidatedCampaign, validate_campaign_v2
from outdial.campaigns.validation import _retry_policy as parse_retry_policy  # see the report: make it public
from outdial.db import after_commit
from outdial.errors import ApiError
from outdial.tenants import repository as tenants

Wake = Callable[[], None] | None

# max.liveliest.taskCount of the document: live (not deleted, not completed) campaigns per device class
MAX_LIVE_PER_CLASS = 20

STATUS_NAMES = {PUBLISHED: "published", EXECUTING: "executing", PAUSED: "paused", COMPLETED: "completed"}


def not_found(campaign_id: int) -> ApiError:
    # The same answer whether the id never existed, was deleted or belongs to another VDN.
    return ApiError(errors.NOT_FOUND, f"campaign {campaign_id} does not exist")


def require_campaign(conn: Connection, vdn_id: int, campaign_id: int, *, for_update: bool = False) -> Row:
    row = repo.get_campaign(conn, vdn_id, campaign_id, for_update=for_update)
    if row is None:
        raise not_found(campaign_id)
    return row


def status_of(row: Row, now_ms: int) -> int:
    return effective_status(row.status, row.begin_at, row.end_at, now_ms)


def _wake_after_commit(conn: Connection, wake: Wake) -> None:
    if wake is not None:
        after_commit(conn, wake)


# --- add and modify -------------------------------------------------------------------------------------


def _callers_of_spec(spec: dict[str, Any]) -> list[tuple[str, int]]:
    callers: list[tuple[str, int]] = []
    seen: set[str] = set()
    for i, item in enumerate(spec.get("callerNo") or []):
        code = str(item["accessCode"])
        if code in seen:
            raise v.fail(errors.BAD_COMBINATION, f"callerNo[{i}].accessCode", f"{code} is given twice")
        seen.add(code)
        # The document makes priority mandatory; should the validator let it through empty, it is lowest.
        priority = item.get("priority")
        callers.append((code, 5 if priority is None else int(priority)))
    return callers


def _check_database_rules(
    conn: Connection, vdn_id: int, campaign: ValidatedCampaign, now_ms: int, *, except_id: int | None
) -> None:
    if repo.name_taken(conn, vdn_id, campaign.name, except_id=except_id):
        raise ApiError(errors.DUPLICATE_NAME, f"name: a campaign named {campaign.name!r} already exists")
    if except_id is None:  # a modify keeps its device class, so its slot is already counted
        counts = repo.live_counts(conn, vdn_id, now_ms)
        if campaign.device_type in repo.SKILL_DEVICE_TYPES and counts.skill_queue >= MAX_LIVE_PER_CLASS:
            raise ApiError(
                errors.SKILL_CAMPAIGN_LIMIT,
                f"at most {MAX_LIVE_PER_CLASS} skill-queue campaigns may be live; delete one first",
            )
        if campaign.device_type in repo.IVR_DEVICE_TYPES and counts.ivr >= MAX_LIVE_PER_CLASS:
            raise ApiError(
                errors.IVR_CAMPAIGN_LIMIT,
                f"at most {MAX_LIVE_PER_CLASS} IVR campaigns may be live; delete one first",
            )
    if campaign.skill_id is not None and not tenants.skill_queue_exists(conn, vdn_id, campaign.skill_id):
        raise ApiError(
            errors.SKILL_NOT_FOUND, f"skillParam.skillId: skill queue {campaign.skill_id} does not exist"
        )


def _row_values(campaign: ValidatedCampaign, default_tz: str) -> dict[str, Any]:
    return {
        "name": campaign.name,
        "device_type": campaign.device_type,
        "priority": campaign.priority,
        "begin_at": campaign.begin_ms,
        "end_at": campaign.end_ms,
        "timezone": campaign.spec.get("timeZone") or default_tz,
        "skill_id": campaign.skill_id,
        "callback_url": campaign.callback_url,
        "spec": campaign.spec,
    }


def add_campaign(
    conn: Connection, vdn_id: int, body: dict[str, Any], *, now_ms: int, default_tz: str, wake: Wake = None
) -> int:
    campaign = validate_campaign_v2(body, now_ms=now_ms, default_tz=default_tz)
    callers = _callers_of_spec(campaign.spec)
    repo.lock_vdn_campaigns(conn, vdn_id)
    _check_database_rules(conn, vdn_id, campaign, now_ms, except_id=None)
    values = _row_values(campaign, default_tz)
    values.update(
        vdn_id=vdn_id,
        # initStatus 0 publishes the campaign, 1 creates it paused (reference section 2)
        status=PAUSED if campaign.init_status == 1 else PUBLISHED,
        created_at=now_ms,
        updated_at=now_ms,
    )
    try:
        campaign_id = repo.insert_campaign(conn, values)
    except IntegrityError:
        # The partial unique index (vdn_id, name) caught a concurrent add of the same name.
        raise ApiError(
            errors.DUPLICATE_NAME, f"name: a campaign named {campaign.name!r} already exists"
        ) from None
    repo.replace_callers(conn, campaign_id, callers)
    _wake_after_commit(conn, wake)
    return campaign_id


def modify_campaign(
    conn: Connection,
    vdn_id: int,
    campaign_id: int,
    body: dict[str, Any],
    *,
    now_ms: int,
    default_tz: str,
    wake: Wake = None,
) -> None:
    """Replace the campaign's V2 body. Allowed while published or paused; the status is kept (initStatus
    of a modify is stored but does not pause or publish)."""
    repo.lock_vdn_campaigns(conn, vdn_id)
    row = require_campaign(conn, vdn_id, campaign_id, for_update=True)
    status = status_of(row, now_ms)
    if status in (EXECUTING, COMPLETED):
        hint = "pause it first" if status == EXECUTING else "add a new campaign instead"
        raise ApiError(errors.RANGE_TOO_LONG, f"a {STATUS_NAMES[status]} campaign cannot be modified; {hint}")
    # "Not earlier than today" is measured from the campaign's own first day, so a paused campaign that
    # began on an earlier day can be modified without moving its strBeginTime.
    campaign = validate_campaign_v2(body, now_ms=min(now_ms, row.begin_at), default_tz=default_tz)
    if campaign.device_type != row.device_type:
        raise v.fail(errors.WRONG_VALUE, "deviceType", f"cannot change (it is {row.device_type})")
    callers = _callers_of_spec(campaign.spec)
    _check_database_rules(conn, vdn_id, campaign, now_ms, except_id=campaign_id)
    values = _row_values(campaign, default_tz)
    values["updated_at"] = now_ms
    try:
        repo.update_campaign(conn, campaign_id, values)
    except IntegrityError:
        raise ApiError(
            errors.DUPLICATE_NAME, f"name: a campaign named {campaign.name!r} already exists"
        ) from None
    repo.replace_callers(conn, campaign_id, callers)
    _wake_after_commit(conn, wake)


# --- details and list -----------------------------------------------------------------------------------


def _public_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The stored V2 body as the caller sent it, without outdial's internal parsed forms."""
    shown = copy.deepcopy(spec)
    retry = shown.get("retryPolicy")
    if isinstance(retry, dict):
        retry.pop("parsed", None)
    return shown


def _callers_view(callers: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"accessCode": code, "priority": priority} for code, priority in callers]


def details_view(row: Row, callers: list[tuple[str, int]], now_ms: int) -> dict[str, Any]:
    spec = _public_spec(row.spec)
    shown: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "description": spec.pop("description", None),
        "status": status_of(row, now_ms),
        "strBeginTime": parts.format_local(row.begin_at, row.timezone),
        "strEndTime": parts.format_local(row.end_at, row.timezone),
        "deviceType": row.device_type,
        "callerNo": _callers_view(callers),
        "maxAlertingTime": spec.pop("maxAlertingTime", None),
        "scheduleParam": spec.pop("scheduleParam", None),
        "ivrParam": spec.pop("ivrParam", None),
        "skillParam": spec.pop("skillParam", None),
        "callBackUrl": row.callback_url,
    }
    for key in (
        "name",
        "strBeginTime",
        "strEndTime",
        "deviceType",
        "callerNo",
        "callBackUrl",
        "status",
        "id",
    ):
        spec.pop(key, None)
    shown.update(spec)
    return shown


def campaign_details(conn: Connection, vdn_id: int, campaign_id: int, now_ms: int) -> dict[str, Any]:
    row = require_campaign(conn, vdn_id, campaign_id)
    return details_view(row, repo.callers_of(conn, [row.id])[row.id], now_ms)


def list_campaigns(conn: Connection, vdn_id: int, query: parts.ListQuery, now_ms: int) -> dict[str, Any]:
    total, rows = repo.list_campaigns(conn, vdn_id, query.where, now_ms, query.offset, query.rows)
    callers = repo.callers_of(conn, [r.id for r in rows])
    counts = repo.live_counts(conn, vdn_id, now_ms)
    return {
        "curPage": query.page,
        "totalSize": total,
        "rowsPerPage": query.rows,
        "curSkillQueueCount": counts.skill_queue,
        "curIvrCount": counts.ivr,
        "data": [
            {
                "id": r.id,
                "name": r.name,
                "status": r.effective_status,
                "strBeginTime": parts.format_local(r.begin_at, r.timezone),
                "strEndTime": parts.format_local(r.end_at, r.timezone),
                "deviceType": r.device_type,
                "callerNo": _callers_view(callers[r.id]),
            }
            for r in rows
        ],
    }


# --- pause, resume, delete ------------------------------------------------------------------------------


def _refuse_status(action: str, status: int) -> ApiError:
    return ApiError(errors.RANGE_TOO_LONG, f"a {STATUS_NAMES[status]} campaign cannot be {action}")


def pause_campaign(conn: Connection, vdn_id: int, campaign_id: int, now_ms: int, wake: Wake = None) -> None:
    row = require_campaign(conn, vdn_id, campaign_id, for_update=True)
    status = status_of(row, now_ms)
    if status not in (PUBLISHED, EXECUTING):
        raise _refuse_status("paused", status)
    repo.update_campaign(conn, campaign_id, {"status": PAUSED, "updated_at": now_ms})
    _wake_after_commit(conn, wake)


def resume_campaign(conn: Connection, vdn_id: int, campaign_id: int, now_ms: int, wake: Wake = None) -> None:
    """Paused → published; the clock then shows it executing inside its period (or completed after it)."""
    row = require_campaign(conn, vdn_id, campaign_id, for_update=True)
    status = status_of(row, now_ms)
    if status != PAUSED:
        raise _refuse_status("resumed", status)
    values: dict[str, Any] = {"status": PUBLISHED, "updated_at": now_ms}
    if now_ms >= row.end_at:
        values["completed_at"] = now_ms
    repo.update_campaign(conn, campaign_id, values)
    _wake_after_commit(conn, wake)


def parse_archive_history(body: dict[str, Any]) -> bool:
    value = v.optional_int(body, "archiveHistory", lo=0, hi=1)
    return value == 1


def delete_campaign(
    conn: Connection, vdn_id: int, campaign_id: int, *, archive: bool, now_ms: int, wake: Wake = None
) -> None:
    row = require_campaign(conn, vdn_id, campaign_id, for_update=True)
    if status_of(row, now_ms) == EXECUTING:
        raise ApiError(
            errors.BAD_TIME_FORMAT_RESULT, "an executing campaign cannot be deleted; pause it first"
        )
    if archive:
        repo.archive_campaign(conn, campaign_id, now_ms)
    else:
        repo.purge_campaign(conn, campaign_id)
    _wake_after_commit(conn, wake)


# --- calling numbers ------------------------------------------------------------------------------------


def _sync_spec_callers(conn: Connection, row: Row, now_ms: int) -> None:
    """Keep spec["callerNo"] equal to the campaign_callers rows, so details and the stored body agree."""
    callers = repo.callers_of(conn, [row.id])[row.id]
    spec = dict(row.spec)
    spec["callerNo"] = _callers_view(callers)
    repo.update_campaign(conn, row.id, {"spec": spec, "updated_at": now_ms})


def add_callers(
    conn: Connection, vdn_id: int, campaign_id: int, body: dict[str, Any], now_ms: int, wake: Wake = None
) -> None:
    """Add calling numbers; one already there takes the new priority."""
    callers = parts.parse_callers(body, with_priority=True)
    row = require_campaign(conn, vdn_id, campaign_id, for_update=True)
    existing = {code for code, _ in repo.callers_of(conn, [campaign_id])[campaign_id]}
    total = len(existing | {code for code, _ in callers})
    if total > parts.MAX_CALLERS:
        raise v.fail(
            errors.TOO_MANY, "callerNo", f"a campaign may have at most {parts.MAX_CALLERS} calling numbers"
        )
    repo.upsert_callers(conn, campaign_id, callers)
    _sync_spec_callers(conn, row, now_ms)
    _wake_after_commit(conn, wake)


def delete_callers(
    conn: Connection, vdn_id: int, campaign_id: int, body: dict[str, Any], now_ms: int, wake: Wake = None
) -> None:
    codes = [code for code, _ in parts.parse_callers(body, with_priority=False)]
    row = require_campaign(conn, vdn_id, campaign_id, for_update=True)
    existing = {code for code, _ in repo.callers_of(conn, [campaign_id])[campaign_id]}
    for i, code in enumerate(codes):
        if code not in existing:
            raise v.fail(
                errors.WRONG_VALUE,
                f"callerNo[{i}].accessCode",
                f"{code} is not a calling number of the campaign",
            )
    if not existing - set(codes):
        raise ApiError(errors.PARAMETER_ERROR, "callerNo: at least one calling number must remain")
    repo.delete_callers(conn, campaign_id, codes)
    _sync_spec_callers(conn, row, now_ms)
    _wake_after_commit(conn, wake)


# --- retry policy ---------------------------------------------------------------------------------------

RETRY_FIELDS = ("policyType", "retryDay", "retryTimes", "callInterval", "resultRetry", "policyJson")


def set_retry_policy(
    conn: Connection, vdn_id: int, campaign_id: int, body: dict[str, Any], now_ms: int, wake: Wake = None
) -> None:
    """Replace the campaign's retry policy (the V2 body's retryPolicy object, checked the same way)."""
    row = require_campaign(conn, vdn_id, campaign_id, for_update=True)
    spec = dict(row.spec)
    call_policy = spec.get("callPolicy") or {}
    spec["retryPolicy"] = parse_retry_policy(body, int(call_policy.get("callType") or 0))
    repo.update_campaign(conn, campaign_id, {"spec": spec, "updated_at": now_ms})
    _wake_after_commit(conn, wake)


def get_retry_policy(conn: Connection, vdn_id: int, campaign_id: int) -> dict[str, Any]:
    """The policy as it was sent; one policy per campaign, so retryPolicyId is the campaign's id."""
    row = require_campaign(conn, vdn_id, campaign_id)
    policy = {k: val for k, val in (row.spec.get("retryPolicy") or {}).items() if k != "parsed"}
    shown: dict[str, Any] = {"retryPolicyId": row.id}
    shown.update({key: policy.get(key) for key in RETRY_FIELDS + ("noRetryPolicy", "busiPolicy")})
    return shown


# --- holidays -------------------------------------------------------------------------------------------


def list_holidays(conn: Connection, vdn_id: int, campaign_id: int) -> list[dict[str, Any]]:
    require_campaign(conn, vdn_id, campaign_id)
    return [parts.holiday_view(r) for r in repo.holidays_of(conn, campaign_id)]


def _touch(conn: Connection, campaign_id: int, now_ms: int) -> None:
    repo.update_campaign(conn, campaign_id, {"updated_at": now_ms})


def _duplicate_holiday(name: str) -> ApiError:
    return ApiError(errors.DUPLICATE_NAME, f"name: the campaign already has a holiday named {name!r}")


def add_holiday(
    conn: Connection, vdn_id: int, campaign_id: int, body: dict[str, Any], now_ms: int, wake: Wake = None
) -> int:
    holiday = parts.parse_holiday(body)
    require_campaign(conn, vdn_id, campaign_id, for_update=True)
    if repo.holiday_count(conn, campaign_id) >= parts.MAX_HOLIDAYS:
        raise ApiError(errors.TOO_MANY, f"a campaign may have at most {parts.MAX_HOLIDAYS} holidays")
    if repo.holiday_name_taken(conn, campaign_id, holiday.name):
        raise _duplicate_holiday(holiday.name)
    holiday_id = repo.insert_holiday(conn, campaign_id, holiday.columns())
    _touch(conn, campaign_id, now_ms)
    _wake_after_commit(conn, wake)
    return holiday_id


def update_holiday(
    conn: Connection, vdn_id: int, campaign_id: int, body: dict[str, Any], now_ms: int, wake: Wake = None
) -> None:
    holiday_id = v.require_int(body, "id")
    holiday = parts.parse_holiday(body)
    require_campaign(conn, vdn_id, campaign_id, for_update=True)
    if repo.get_holiday(conn, campaign_id, holiday_id) is None:
        raise ApiError(errors.NOT_FOUND, f"holiday {holiday_id} does not exist")
    if repo.holiday_name_taken(conn, campaign_id, holiday.name, except_id=holiday_id):
        raise _duplicate_holiday(holiday.name)
    repo.update_holiday(conn, holiday_id, holiday.columns())
    _touch(conn, campaign_id, now_ms)
    _wake_after_commit(conn, wake)


def delete_holidays(
    conn: Connection,
    vdn_id: int,
    campaign_id: int,
    now_ms: int,
    holiday_id: int | None = None,
    wake: Wake = None,
) -> None:
    """All holidays of the campaign, or the one `holiday_id`."""
    require_campaign(conn, vdn_id, campaign_id, for_update=True)
    removed = repo.delete_holidays(conn, campaign_id, holiday_id)
    if holiday_id is not None and removed == 0:
        raise ApiError(errors.NOT_FOUND, f"holiday {holiday_id} does not exist")
    _touch(conn, campaign_id, now_ms)
    _wake_after_commit(conn, wake)


# --- skill queues (outdial's own interface) -------------------------------------------------------------


def add_skill_queue(conn: Connection, vdn_id: int, body: dict[str, Any], now_ms: int) -> int:
    skill_id = v.require_int(body, "skillId", lo=1, hi=1000)
    name = v.require_str(body, "skillName", max_len=100)
    if tenants.skill_queue_exists(conn, vdn_id, skill_id):
        raise v.fail(errors.WRONG_VALUE, "skillId", f"skill queue {skill_id} already exists")
    tenants.add_skill_queue(conn, vdn_id, skill_id, name, now_ms)
    return skill_id


def delete_skill_queue(conn: Connection, vdn_id: int, skill_id: int, now_ms: int) -> None:
    if not tenants.skill_queue_exists(conn, vdn_id, skill_id):
        raise ApiError(errors.SKILL_NOT_FOUND, f"skill queue {skill_id} does not exist")
    users = repo.live_campaigns_using_skill(conn, vdn_id, skill_id, now_ms)
    if users:
        raise ApiError(
            errors.PARAMETER_ERROR,
            f"skill queue {skill_id} is used by live campaigns {', '.join(map(str, users))}",
        )
    tenants.delete_skill_queue(conn, vdn_id, skill_id)
