"""External result codes (the `resultCode` of call results) mapped from failCodes.

Each VDN may override any mapping (table result_code_map, set through `PUT /rest/outdial/v1/{vdnId}/
resultcodes` or `outdial resultcodes set`); without an override the default is used: success maps to
"OB99999" (as in the results document's example), and every other failCode maps to "OB" followed by the
failCode, e.g. busy 00537 -> "OB00537". noRetryPolicy lists these codes. An attempt keeps the code it
was given when it ended: a change applies to the calls that end after it.
"""

from __future__ import annotations

import re
from typing import Any

from outdial import errors
from outdial.engine.telephony.outcomes import OUTCOME_CODES
from outdial.validation import as_list, as_object, fail

SUCCESS_FAIL_CODE = "00000"
SUCCESS_RESULT_CODE = "OB99999"


def default_result_code(fail_code: str) -> str:
    if fail_code in (SUCCESS_FAIL_CODE, "0"):
        return SUCCESS_RESULT_CODE
    return "OB" + fail_code


def result_code(fail_code: str, overrides: dict[str, str]) -> str:
    return overrides.get(fail_code) or default_result_code(fail_code)


RECONCILED_FAIL_CODE = "34608"  # an attempt a dead worker left open: no result, written back after a timeout


def _success_first(code: str) -> tuple[bool, str]:
    return code != SUCCESS_FAIL_CODE, code


# Every failCode outdial's engine writes (docs/telephony.md), success first.
ENGINE_FAIL_CODES: tuple[str, ...] = tuple(
    sorted({code for _, code in OUTCOME_CODES.values()} | {RECONCILED_FAIL_CODE}, key=_success_first)
)
MAX_CHANGES = 100
_FAIL_CODE = re.compile(r"[0-9]{5}")
_RESULT_CODE = re.compile(r"[A-Za-z0-9_.-]{1,20}")


def result_code_table(overrides: dict[str, str]) -> list[dict[str, Any]]:
    """What each failCode becomes: every code the engine writes and every overridden one, in code order
    (success first), with the default beside the code in force."""
    codes = sorted(set(ENGINE_FAIL_CODES) | set(overrides), key=_success_first)
    return [
        {
            "failCode": code,
            "resultCode": result_code(code, overrides),
            "defaultResultCode": default_result_code(code),
            "overridden": code in overrides,
        }
        for code in codes
    ]


def parse_result_code_changes(body: dict[str, Any]) -> dict[str, str | None]:
    """{"resultCodes": [{"failCode": "00537", "resultCode": "BUSY"}, {"failCode": "01040",
    "resultCode": ""}]}: failCode five digits; resultCode 1-20 letters, digits, '_', '.' or '-', or ""
    / null / absent to go back to the default. At most MAX_CHANGES entries, each failCode once."""
    if body.get("resultCodes") in (None, []):
        raise fail(errors.EMPTY, "resultCodes", "is required (a list of {failCode, resultCode})")
    entries = as_list(body["resultCodes"], "resultCodes")
    if len(entries) > MAX_CHANGES:
        raise fail(errors.TOO_MANY, "resultCodes", f"may hold at most {MAX_CHANGES} entries")
    changes: dict[str, str | None] = {}
    for i, raw in enumerate(entries):
        entry = as_object(raw, f"resultCodes[{i}]")
        fail_code = entry.get("failCode")
        if fail_code in (None, ""):
            raise fail(errors.EMPTY, f"resultCodes[{i}].failCode", "is required")
        if not isinstance(fail_code, str) or not _FAIL_CODE.fullmatch(fail_code):
            raise fail(errors.WRONG_VALUE, f"resultCodes[{i}].failCode", "must be five digits, e.g. 00537")
        if fail_code in changes:
            raise fail(errors.WRONG_VALUE, f"resultCodes[{i}].failCode", f"{fail_code} is given twice")
        code = entry.get("resultCode")
        if code in (None, ""):
            changes[fail_code] = None
        elif not isinstance(code, str) or not _RESULT_CODE.fullmatch(code):
            raise fail(
                errors.WRONG_VALUE,
                f"resultCodes[{i}].resultCode",
                "must be 1-20 letters, digits, '_', '.' or '-' (\"\" goes back to the default)",
            )
        else:
            changes[fail_code] = code
    return changes
