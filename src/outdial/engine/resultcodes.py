"""External result codes (the `resultCode` of call results) mapped from failCodes.

Each VDN may override any mapping (table result_code_map); without an override the default is used:
success maps to "OB99999" (as in the results document's example), and every other failCode maps to
"OB" followed by the failCode, e.g. busy 00537 -> "OB00537". noRetryPolicy lists these codes.
"""

from __future__ import annotations

SUCCESS_FAIL_CODE = "00000"
SUCCESS_RESULT_CODE = "OB99999"


def default_result_code(fail_code: str) -> str:
    if fail_code in (SUCCESS_FAIL_CODE, "0"):
        return SUCCESS_RESULT_CODE
    return "OB" + fail_code


def result_code(fail_code: str, overrides: dict[str, str]) -> str:
    return overrides.get(fail_code) or default_result_code(fail_code)
