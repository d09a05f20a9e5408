"""Decoding a request body into JSON values every validator can handle: what Python's json module would
let through but nothing downstream can store or answer is refused here, once, naming the field.

- a string holding a lone surrogate (JSON "\\ud800"): not text, it cannot be encoded as UTF-8;
- a string holding NUL (JSON "\\u0000"): no field holds one, and PostgreSQL refuses it even in a WHERE;
- an integer literal of more digits than Python converts (4,300): json.loads raises a bare ValueError.
Numbers that are merely large are left to the field checkers (validation.int_value bounds them)."""

from __future__ import annotations

import json
import re
from typing import Any

from outdial import errors
from outdial.errors import ApiError

# Longer integer literals name no value any field holds; kept as a marker so the walk can name the field.
MAX_INT_DIGITS = 1000
# A lone surrogate or a NUL can only come from a \u escape (as raw bytes a surrogate is invalid UTF-8 and
# a NUL an invalid control character, both refused by decoding).
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F]|0000)")


class _HugeInteger:
    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _parse_int(text: str) -> int | _HugeInteger:
    if len(text) > MAX_INT_DIGITS:
        return _HugeInteger(len(text.lstrip("-")))
    return int(text)


def decode(body: bytes) -> Any:
    """The JSON value of a request body. ApiError 02000008 when it is not JSON, 02000002 for a string with
    a lone surrogate or a NUL, 02000007 for an integer literal of more than MAX_INT_DIGITS digits."""
    huge = False

    def parse_int(text: str) -> int | _HugeInteger:
        nonlocal huge
        value = _parse_int(text)
        huge = huge or isinstance(value, _HugeInteger)
        return value

    try:
        value = json.loads(body, parse_int=parse_int)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(errors.UNPARSABLE, f"request body is not valid JSON ({exc})") from None
    except RecursionError:
        raise ApiError(errors.UNPARSABLE, "request body is nested too deeply") from None
    if huge or _SUSPECT_ESCAPE.search(body):
        _check(value, "request body")
    return value


def _check(value: Any, path: str) -> None:
    """Walk the value (only when decoding saw a reason to) and refuse the first unusable leaf."""
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if not _is_text(item):
                raise ApiError(
                    errors.INVALID_CHARS, f"{where} must not contain a lone surrogate (\\ud800-\\udfff)"
                )
            if "\x00" in item:
                raise ApiError(errors.INVALID_CHARS, f"{where} must not contain NUL (\\u0000)")
        elif isinstance(item, _HugeInteger):
            raise ApiError(
                errors.WRONG_VALUE, f"{where} is a number of {item.digits} digits, more than any field holds"
            )
        elif isinstance(item, dict):
            for key, child in item.items():
                if not _is_text(key) or "\x00" in key:
                    raise ApiError(errors.INVALID_CHARS, f"{where} has a key with a lone surrogate or NUL")
                pending.append((child, key if where == "request body" else f"{where}.{key}"))
        elif isinstance(item, list):
            pending.extend((child, f"{where}[{i}]") for i, child in enumerate(item))


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
