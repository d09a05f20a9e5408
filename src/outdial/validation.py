"""Small field checkers shared by every interface. Each failure raises ApiError with the code of its kind
(empty 02000001, invalid characters 02000002, too long 02000003, ..., too many 02000011) and a resultDesc
that starts with the field's path, e.g. "skillParam.previewParam.autoCallTime must be between 5 and 17".

Type coercion follows what Jackson (the Java library behind iSales) accepts by default, so clients written
against iSales keep working: an integer field takes a JSON integer or a string of digits; a string field
takes a string or a JSON number (written back as its digits); booleans, objects and arrays are the wrong
type. A float with a fraction is never silently truncated.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from outdial import errors
from outdial.errors import ApiError

_INT_TEXT = re.compile(r"^[+-]?\d{1,18}$")


def fail(code: str, path: str, message: str) -> ApiError:
    return ApiError(code, f"{path} {message}")


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def as_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise fail(errors.WRONG_TYPE, path, "must be a JSON object")
    return value


def require_object(body: dict[str, Any], key: str, path: str | None = None) -> dict[str, Any]:
    path = path or key
    value = body.get(key)
    if value is None:
        raise fail(errors.EMPTY, path, "is required")
    return as_object(value, path)


def as_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise fail(errors.WRONG_TYPE, path, "must be a JSON array")
    return value


# Every integer field is stored in or compared with a 64-bit column at most: a value outside is refused
# here (02000007) whatever the field's own bounds, so none reaches a database that would raise.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def int_value(value: Any, path: str) -> int:
    """Coerce a JSON value to a 64-bit int, or raise 02000006 (not an integer) / 02000007 (out of range)."""
    if isinstance(value, bool):
        raise fail(errors.WRONG_TYPE, path, "must be an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INT_TEXT.match(value.strip()):
        number = int(value.strip())
    else:
        raise fail(errors.WRONG_TYPE, path, "must be an integer")
    if not INT64_MIN <= number <= INT64_MAX:
        raise fail(errors.WRONG_VALUE, path, f"must be between {INT64_MIN} and {INT64_MAX}")
    return number


def optional_int(
    body: dict[str, Any], key: str, path: str | None = None, *, lo: int | None = None, hi: int | None = None
) -> int | None:
    path = path or key
    value = body.get(key)
    if is_blank(value):
        return None
    number = int_value(value, path)
    check_range(number, path, lo, hi)
    return number


def require_int(
    body: dict[str, Any], key: str, path: str | None = None, *, lo: int | None = None, hi: int | None = None
) -> int:
    path = path or key
    number = optional_int(body, key, path, lo=lo, hi=hi)
    if number is None:
        raise fail(errors.EMPTY, path, "is required")
    return number


def check_range(number: int, path: str, lo: int | None, hi: int | None) -> None:
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        if lo is not None and hi is not None:
            raise fail(errors.WRONG_VALUE, path, f"must be between {lo} and {hi}")
        if lo is not None:
            raise fail(errors.WRONG_VALUE, path, f"must be at least {lo}")
        raise fail(errors.WRONG_VALUE, path, f"must be at most {hi}")


def str_value(value: Any, path: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(errors.WRONG_TYPE, path, "must be a string")
    if isinstance(value, float):
        if not value.is_integer():
            return repr(value)
        value = int(value)
    return str(value)


def optional_str(
    body: dict[str, Any],
    key: str,
    path: str | None = None,
    *,
    max_len: int | None = None,
    min_len: int | None = None,
    forbidden: str | None = None,
    allowed: re.Pattern[str] | None = None,
    allowed_desc: str = "",
) -> str | None:
    """A string field that may be absent or empty (returned as None)."""
    path = path or key
    value = body.get(key)
    if value is None or value == "":
        return None
    text = str_value(value, path)
    check_text(
        text,
        path,
        max_len=max_len,
        min_len=min_len,
        forbidden=forbidden,
        allowed=allowed,
        allowed_desc=allowed_desc,
    )
    return text


def require_str(
    body: dict[str, Any],
    key: str,
    path: str | None = None,
    *,
    max_len: int | None = None,
    min_len: int | None = None,
    forbidden: str | None = None,
    allowed: re.Pattern[str] | None = None,
    allowed_desc: str = "",
) -> str:
    path = path or key
    value = body.get(key)
    if is_blank(value):
        raise fail(errors.EMPTY, path, "is required")
    text = str_value(value, path)
    check_text(
        text,
        path,
        max_len=max_len,
        min_len=min_len,
        forbidden=forbidden,
        allowed=allowed,
        allowed_desc=allowed_desc,
    )
    return text


def check_text(
    text: str,
    path: str,
    *,
    max_len: int | None = None,
    min_len: int | None = None,
    forbidden: str | None = None,
    allowed: re.Pattern[str] | None = None,
    allowed_desc: str = "",
) -> None:
    if max_len is not None and min_len is not None and not (min_len <= len(text) <= max_len):
        raise fail(errors.LENGTH_RANGE, path, f"must be {min_len} to {max_len} characters long")
    if max_len is not None and len(text) > max_len:
        raise fail(errors.TOO_LONG, path, f"must be at most {max_len} characters long")
    if min_len is not None and len(text) < min_len:
        raise fail(errors.TOO_SHORT, path, f"must be at least {min_len} characters long")
    if forbidden is not None:
        bad = sorted({ch for ch in text if ch in forbidden})
        if bad:
            raise fail(errors.INVALID_CHARS, path, f"must not contain {''.join(bad)!r}")
    if allowed is not None and not allowed.fullmatch(text):
        raise fail(errors.INVALID_CHARS, path, f"may contain only {allowed_desc or allowed.pattern}")


DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_DATETIME_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def parse_local_datetime(text: str, path: str, code: str = errors.UNPARSABLE) -> datetime:
    """'yyyy-MM-dd HH:mm:ss' as a naive local datetime; `code` is raised for a malformed value."""
    if not _DATETIME_SHAPE.match(text):
        raise fail(code, path, "must be formatted yyyy-MM-dd HH:mm:ss")
    try:
        return datetime.strptime(text, DATETIME_FORMAT)
    except ValueError as exc:
        raise fail(code, path, f"is not a valid date and time ({exc})") from None
