"""Validation of the "Adding an Outbound Campaign (V2)" body (pure; no database checks).

Decisions (for the docs):
- callerNo: 1..100 entries, duplicate accessCode -> 02000009 (bad combination).
- scheduleParam: each segment needs begin < end (equal or reversed -> 02000009).
- ivrParam.deviceSign: at most 64 characters.
- callBackUrl: required, http:// or https://, at most 1024 characters.
- ccId: optional integer (the document requires it only "in the OP environment").
- timeZone: optional IANA name, default is the server zone given by the caller; unknown -> 02000007.
- JSON-in-string fields accept single quotes and numbers written as strings.
- Unknown top-level fields are ignored and left out of spec.
- Database checks (0200003/4/5/17) belong to the campaign service.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from outdial import errors
from outdial.validation import (
    as_list,
    as_object,
    check_range,
    check_text,
    fail,
    int_value,
    is_blank,
    optional_int,
    optional_str,
    parse_local_datetime,
    require_int,
    require_object,
    require_str,
    str_value,
)

_DESC_FORBIDDEN = '"[]=;<>'
_DIGITS = re.compile(r"\d+")
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_NAME_SAFE = re.compile(r"[A-Za-z0-9_\-. ]+")
_SCHEDULE_KEYS = [
    f"{day}{part}Time{n}" for day in ("workday", "holiday") for n in (1, 2, 3) for part in ("Begin", "End")
]


@dataclass(frozen=True)
class ValidatedCampaign:
    spec: dict[str, Any]
    name: str
    device_type: int
    begin_ms: int
    end_ms: int
    skill_id: int | None
    priority: int | None
    callback_url: str
    init_status: int


def _parse_json_text(value: Any, path: str) -> Any:
    """JSON strings as the document writes them: maybe single-quoted."""
    if not isinstance(value, str):
        if isinstance(value, dict | list):
            return value
        raise fail(errors.WRONG_TYPE, path, "must be a JSON string")
    try:
        return json.loads(value)
    except ValueError:
        pass
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise fail(errors.UNPARSABLE, path, "is not parsable JSON") from None


def _schedule(raw: Any) -> dict[str, str | None]:
    obj = as_object(raw, "scheduleParam") if raw is not None else {}
    out: dict[str, str | None] = {}
    for key in _SCHEDULE_KEYS:
        path = f"scheduleParam.{key}"
        value = obj.get(key)
        if is_blank(value):
            out[key] = None
            continue
        text = str_value(value, path)
        if not _HHMM.fullmatch(text):
            raise fail(errors.UNPARSABLE, path, "must be HH:mm between 00:00 and 23:59")
        out[key] = text
    for day in ("workday", "holiday"):
        for seg in (1, 2, 3):
            b, e = out[f"{day}BeginTime{seg}"], out[f"{day}EndTime{seg}"]
            if (b is None) != (e is None):
                raise fail(
                    errors.HOUR_MINUTE_PAIR,
                    f"scheduleParam.{day}BeginTime{seg}",
                    "and its end must both be set or both be empty",
                )
            if b is not None and e is not None and time.fromisoformat(b) >= time.fromisoformat(e):
                raise fail(
                    errors.BAD_COMBINATION, f"scheduleParam.{day}BeginTime{seg}", "must be before its end"
                )
    if all(out[f"workdayBeginTime{n}"] is None for n in (1, 2, 3)):
        raise fail(
            errors.EMPTY, "scheduleParam.workdayBeginTime1", "at least one workday segment is required"
        )
    return out


def _result_list(items: Any, path: str, result_lo: int) -> list[dict[str, int]]:
    out = []
    for i, item in enumerate(as_list(items, path)):
        p = f"{path}[{i}]"
        obj = as_object(item, p)
        out.append(
            {
                "result": require_int(obj, "result", f"{p}.result", lo=result_lo, hi=9),
                "retryNumber": require_int(obj, "retryNumber", f"{p}.retryNumber", lo=0, hi=9),
                "callInterval": require_int(obj, "callInterval", f"{p}.callInterval", lo=1, hi=86400),
            }
        )
    if not out:
        raise fail(errors.EMPTY, path, "must not be empty")
    return out


def _retry_policy(raw: Any, call_type: int) -> dict[str, Any]:
    rp = require_object({"retryPolicy": raw}, "retryPolicy")
    policy_type = require_int(rp, "policyType", "retryPolicy.policyType", lo=0, hi=1)
    common_keys = [k for k in ("retryDay", "retryTimes", "callInterval") if not is_blank(rp.get(k))]
    has_result = not is_blank(rp.get("resultRetry"))
    has_json = not is_blank(rp.get("policyJson"))
    parsed: dict[str, Any] = {
        "policyType": policy_type,
        "common": None,
        "byResult": None,
        "byNumberType": None,
    }
    if policy_type == 0:
        if has_json:
            raise fail(errors.BAD_COMBINATION, "retryPolicy.policyJson", "cannot be set with policyType 0")
        if common_keys and has_result:
            raise fail(
                errors.BAD_COMBINATION,
                "retryPolicy.resultRetry",
                "cannot be set with retryDay/retryTimes/callInterval",
            )
        if has_result:
            parsed["byResult"] = _result_list(
                _parse_json_text(rp["resultRetry"], "retryPolicy.resultRetry"), "retryPolicy.resultRetry", 1
            )
        else:
            parsed["common"] = {
                "retryDay": require_int(rp, "retryDay", "retryPolicy.retryDay", lo=1, hi=5),
                "retryTimes": require_int(rp, "retryTimes", "retryPolicy.retryTimes", lo=1, hi=6),
                "callInterval": require_int(rp, "callInterval", "retryPolicy.callInterval", lo=1, hi=86400),
            }
    else:
        if common_keys or has_result:
            raise fail(errors.BAD_COMBINATION, "retryPolicy.policyJson", "policyType 1 takes only policyJson")
        if not has_json:
            raise fail(errors.EMPTY, "retryPolicy.policyJson", "is required when policyType is 1")
        items = as_list(
            _parse_json_text(rp["policyJson"], "retryPolicy.policyJson"), "retryPolicy.policyJson"
        )
        by_type = []
        for i, item in enumerate(items):
            p = f"retryPolicy.policyJson[{i}]"
            obj = as_object(item, p)
            data_type = require_str(
                obj,
                "dataType",
                f"{p}.dataType",
                max_len=20,
                allowed=_NAME_SAFE,
                allowed_desc="letters, digits, _-. and space",
            )
            kind = require_int(obj, "type", f"{p}.type", lo=0, hi=1)
            entry: dict[str, Any] = {"dataType": data_type, "type": kind, "common": None, "byResult": None}
            if kind == 0:
                pol = require_object(obj, "policy", f"{p}.policy")
                entry["common"] = {
                    "retryDay": require_int(pol, "retryDay", f"{p}.policy.retryDay", lo=1, hi=5),
                    "retryTimes": require_int(pol, "retryTimes", f"{p}.policy.retryTimes", lo=1, hi=6),
                }
            else:
                if obj.get("policy") is None:
                    raise fail(errors.EMPTY, f"{p}.policy", "is required")
                entry["byResult"] = _result_list(obj["policy"], f"{p}.policy", 0)
            by_type.append(entry)
        if not by_type:
            raise fail(errors.EMPTY, "retryPolicy.policyJson", "must not be empty")
        parsed["byNumberType"] = by_type
    no_retry: list[str] = []
    if rp.get("noRetryPolicy") is not None:
        if policy_type == 1:
            raise fail(errors.BAD_COMBINATION, "retryPolicy.noRetryPolicy", "cannot be set with policyType 1")
        value = rp["noRetryPolicy"]
        if isinstance(value, str):
            value = _parse_json_text(value, "retryPolicy.noRetryPolicy")
        no_retry = [
            str_value(v, f"retryPolicy.noRetryPolicy[{i}]")
            for i, v in enumerate(as_list(value, "retryPolicy.noRetryPolicy"))
        ]
    business: list[dict[str, Any]] = []
    if not is_blank(rp.get("busiPolicy")):
        value = _parse_json_text(rp["busiPolicy"], "retryPolicy.busiPolicy")
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            p = f"retryPolicy.busiPolicy[{i}]" if isinstance(value, list) else "retryPolicy.busiPolicy"
            obj = as_object(item, p)
            busi_policy = require_int(obj, "busiResultPolicy", f"{p}.busiResultPolicy", lo=0, hi=2)
            interval = optional_int(obj, "callInterval", f"{p}.callInterval", lo=1, hi=3600)
            if busi_policy != 0 and interval is None:
                raise fail(errors.EMPTY, f"{p}.callInterval", "is required unless busiResultPolicy is 0")
            business.append(
                {
                    "busiResultCode": require_str(obj, "busiResultCode", f"{p}.busiResultCode"),
                    "busiResultSubCode": optional_str(obj, "busiResultSubCode", f"{p}.busiResultSubCode"),
                    "busiResultPolicy": busi_policy,
                    "callInterval": interval,
                }
            )
    parsed["business"] = business
    parsed["noRetry"] = no_retry
    if call_type == 1 and policy_type != 1:
        raise fail(errors.BAD_COMBINATION, "callPolicy.callType", "1 requires retryPolicy.policyType 1")
    out = {k: v for k, v in rp.items() if k != "parsed"}
    out["parsed"] = parsed
    return out


def _call_policy(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    cp = as_object(raw, "callPolicy")
    call_type = optional_int(cp, "callType", "callPolicy.callType", lo=0, hi=1) or 0
    if call_type == 0:
        return {"callType": 0, "chooseType": None, "turns": []}
    choose = require_int(cp, "chooseType", "callPolicy.chooseType", lo=0, hi=1)
    turns_raw = cp.get("turns")
    if turns_raw is None:
        raise fail(errors.EMPTY, "callPolicy.turns", "is required when callType is 1")
    turns: list[dict[str, Any]] = []
    for i, t in enumerate(as_list(turns_raw, "callPolicy.turns")):
        p = f"callPolicy.turns[{i}]"
        obj = as_object(t, p)
        if choose == 0:
            turns.append({"turnType": require_str(obj, "turnType", f"{p}.turnType", max_len=20)})
        else:
            turns.append({"turnOrder": require_int(obj, "turnOrder", f"{p}.turnOrder", lo=1, hi=10)})
    if not turns:
        raise fail(errors.EMPTY, "callPolicy.turns", "must not be empty")
    return {"callType": 1, "chooseType": choose, "turns": turns}


def _skill(body: dict[str, Any], device_type: int, max_alerting: int) -> dict[str, Any]:
    sp = require_object(body, "skillParam")
    out: dict[str, Any] = {
        "skillId": require_int(sp, "skillId", "skillParam.skillId", lo=1, hi=1000),
        "skillName": optional_str(sp, "skillName", "skillParam.skillName", max_len=100),
    }
    ob_type = require_int(sp, "outBoundType", "skillParam.outBoundType")
    expected = {2: 2, 5: 5, 6: 6}[device_type]
    if ob_type != expected:
        raise fail(
            errors.BAD_COMBINATION,
            "skillParam.outBoundType",
            f"must be {expected} for deviceType {device_type}",
        )
    out["outBoundType"] = ob_type
    if ob_type == 2:
        pp = require_object(sp, "predictParam", "skillParam.predictParam")
        base = "skillParam.predictParam"
        method = require_int(pp, "predictMethod", f"{base}.predictMethod")
        if method not in (1, 2, 3, 5):
            raise fail(errors.WRONG_VALUE, f"{base}.predictMethod", "must be 1, 2, 3 or 5")
        key = {
            1: "expPredictParam",
            2: "agentPredictParam",
            3: "connectPredictParam",
            5: "offhookPredictParam",
        }[method]
        sub = require_object(pp, key, f"{base}.{key}")
        sub_path = f"{base}.{key}"
        norm: dict[str, Any] = {}
        for field, (lo, hi) in _PREDICT_RANGES[key].items():
            value = optional_int(sub, field, f"{sub_path}.{field}", lo=lo, hi=hi)
            if value is not None:
                norm[field] = value
        if (
            "minAvgCallTime" in norm
            and "maxAvgCallTime" in norm
            and norm["minAvgCallTime"] > norm["maxAvgCallTime"]
        ):
            raise fail(errors.BAD_COMBINATION, f"{sub_path}.minAvgCallTime", "must not exceed maxAvgCallTime")
        out["predictParam"] = {"predictMethod": method, key: norm}
    if ob_type == 5:
        pv = require_object(sp, "previewParam", "skillParam.previewParam")
        base = "skillParam.previewParam"
        out["previewParam"] = {
            "failInterval": require_int(pv, "failInterval", f"{base}.failInterval", lo=3, hi=60),
            "obCallCount": require_int(pv, "obCallCount", f"{base}.obCallCount", lo=1, hi=100),
            "autoCallTime": optional_int(
                pv, "autoCallTime", f"{base}.autoCallTime", lo=5, hi=max_alerting - 3
            ),
        }
    return out


# Ranges from seed 004 tables 11.4.2-11.4.5. Fields marked "Yes" there but with a documented default
# are accepted when absent (omitted from spec; the engine applies the default).
_AVG = {"maxAvgCallTime": (50, 200), "minAvgCallTime": (50, 200)}
_PREDICT_RANGES: dict[str, dict[str, tuple[int | None, int | None]]] = {
    "expPredictParam": {**_AVG, "outBoundRate": (0, 100)},
    "agentPredictParam": {**_AVG, "lossRate": (0, 100), "utilRate": (0, 100), "utilRateMethod": (1, 2)},
    "connectPredictParam": {**_AVG, "lossRate": (0, 100), "waitTime": (0, 16), "connRate": (0, 100)},
    "offhookPredictParam": {"offHookRate": (50, 200)},
}


def validate_campaign_v2(body: object, *, now_ms: int, default_tz: str) -> ValidatedCampaign:
    if not isinstance(body, dict):
        raise fail(errors.WRONG_TYPE, "body", "must be a JSON object")
    tz_name = optional_str(body, "timeZone", "timeZone") or default_tz
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail(errors.WRONG_VALUE, "timeZone", f"{tz_name!r} is not a known IANA zone") from None
    name = require_str(body, "name", max_len=32)
    description = optional_str(body, "description", max_len=200, forbidden=_DESC_FORBIDDEN)
    begin_text = require_str(body, "strBeginTime")
    end_text = require_str(body, "strEndTime")
    begin = parse_local_datetime(begin_text, "strBeginTime").replace(tzinfo=zone)
    end = parse_local_datetime(end_text, "strEndTime").replace(tzinfo=zone)
    today = datetime.fromtimestamp(now_ms / 1000, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    if begin < today:
        raise fail(errors.BEGIN_BEFORE_TODAY, "strBeginTime", "must not be earlier than today")
    if end <= begin:
        raise fail(errors.BAD_COMBINATION, "strEndTime", "must be after strBeginTime")
    device_type = require_int(body, "deviceType")
    if device_type not in (1, 2, 3, 5, 6):
        raise fail(errors.WRONG_VALUE, "deviceType", "must be 1, 2, 3, 5 or 6")
    callers_raw = body.get("callerNo")
    if callers_raw is None:
        raise fail(errors.EMPTY, "callerNo", "is required")
    callers_list = as_list(callers_raw, "callerNo")
    if not callers_list:
        raise fail(errors.EMPTY, "callerNo", "must not be empty")
    if len(callers_list) > 100:
        raise fail(errors.TOO_MANY, "callerNo", "must have at most 100 entries")
    callers, seen = [], set()
    for i, c in enumerate(callers_list):
        p = f"callerNo[{i}]"
        obj = as_object(c, p)
        code = require_str(
            obj, "accessCode", f"{p}.accessCode", max_len=32, allowed=_DIGITS, allowed_desc="digits"
        )
        if code in seen:
            raise fail(errors.BAD_COMBINATION, f"{p}.accessCode", "is duplicated")
        seen.add(code)
        callers.append(
            {"accessCode": code, "priority": optional_int(obj, "priority", f"{p}.priority", lo=1, hi=5)}
        )
    max_alerting = require_int(body, "maxAlertingTime", lo=9 if device_type == 5 else 5, hi=120)
    priority = optional_int(body, "priority", lo=1, hi=5)
    schedule = _schedule(body.get("scheduleParam"))
    spec: dict[str, Any] = {
        "name": name,
        "description": description,
        "strBeginTime": begin_text,
        "strEndTime": end_text,
        "deviceType": device_type,
        "callerNo": callers,
        "maxAlertingTime": max_alerting,
        "priority": priority,
        "scheduleParam": schedule,
        "timeZone": tz_name,
    }
    skill_id = None
    if device_type in (1, 3):
        ivr = require_object(body, "ivrParam")
        spec["ivrParam"] = {
            "deviceSign": require_str(ivr, "deviceSign", "ivrParam.deviceSign", max_len=64),
            "callCount": require_int(ivr, "callCount", "ivrParam.callCount", lo=1, hi=100),
            "callInterval": require_int(ivr, "callInterval", "ivrParam.callInterval", lo=1, hi=9999),
        }
    else:
        spec["skillParam"] = _skill(body, device_type, max_alerting)
        skill_id = spec["skillParam"]["skillId"]
    init_status = optional_int(body, "initStatus", lo=0, hi=1) or 0
    url = require_str(body, "callBackUrl", max_len=1024)
    if not url.startswith(("https://", "http://")):
        raise fail(errors.WRONG_VALUE, "callBackUrl", "must start with https:// or http://")
    try:
        if not urlsplit(url).hostname:
            raise ValueError
    except ValueError:
        raise fail(errors.UNPARSABLE, "callBackUrl", "is not a valid URL") from None
    spec["initStatus"] = init_status
    spec["callBackUrl"] = url
    spec["ccId"] = optional_int(body, "ccId")
    call_policy = _call_policy(body.get("callPolicy"))
    spec["callPolicy"] = call_policy
    spec["retryPolicy"] = _retry_policy(
        body.get("retryPolicy"), call_policy["callType"] if call_policy else 0
    )
    return ValidatedCampaign(
        spec=spec,
        name=name,
        device_type=device_type,
        begin_ms=int(begin.timestamp() * 1000),
        end_ms=int(end.timestamp() * 1000),
        skill_id=skill_id,
        priority=priority,
        callback_url=url,
        init_status=init_status,
    )


__all__ = ["ValidatedCampaign", "validate_campaign_v2", "check_range", "check_text", "int_value"]
