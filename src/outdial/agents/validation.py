"""Pure checks of what an agent sends: its id, its phone's SIP URI, its skill queue ids."""

from __future__ import annotations

import re
from typing import Any

from outdial import errors
from outdial import validation as v

AGENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
AGENT_ID_CHARS = "letters, digits, '_', '.' and '-'"
URI_MAX = 255
MAX_SKILLS = 32
SKILL_ID_MAX = 1000  # as skill queues are numbered (POST .../skills)

# sip:[user[:password]@]host[:port][;params][?headers] (RFC 3261 section 19.1), host a name, IPv4 or [IPv6]
_SIP_URI = re.compile(
    r"(?P<scheme>sips?):"
    r"(?:[^@\s;?]+@)?"
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>\d{1,5}))?"
    r"(?:;[^\s?]*)?(?:\?\S*)?",
    re.IGNORECASE,
)


def check_agent_id(agent_id: str) -> str:
    v.check_text(agent_id, "agentId", min_len=1, max_len=32)
    v.check_text(agent_id, "agentId", allowed=AGENT_ID, allowed_desc=AGENT_ID_CHARS)
    return agent_id


def check_sip_uri(uri: str, path: str = "uri") -> str:
    """A `sip:` or `sips:` URI of at most 255 characters with a host and, if given, a port 1-65535."""
    v.check_text(uri, path, max_len=URI_MAX)
    if any(ch.isspace() or ord(ch) < 32 for ch in uri):
        raise v.fail(errors.INVALID_CHARS, path, "must not contain spaces or control characters")
    match = _SIP_URI.fullmatch(uri)
    if match is None:
        raise v.fail(
            errors.WRONG_VALUE, path, "must be a sip: or sips: URI such as sip:agent@192.0.2.10:5060"
        )
    port = match.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise v.fail(errors.WRONG_VALUE, path, "port must be between 1 and 65535")
    return uri


def skill_ids(body: dict[str, Any]) -> tuple[int, ...]:
    """`skillIds`: 1 to 32 distinct skill queue ids (whether they exist is the service's check)."""
    value = body.get("skillIds")
    if value is None or value == []:
        raise v.fail(errors.EMPTY, "skillIds", "is required")
    items = v.as_list(value, "skillIds")
    if len(items) > MAX_SKILLS:
        raise v.fail(errors.TOO_MANY, "skillIds", f"may list at most {MAX_SKILLS} skill queues")
    ids: list[int] = []
    for index, item in enumerate(items):
        path = f"skillIds[{index}]"
        skill_id = v.int_value(item, path)
        v.check_range(skill_id, path, 1, SKILL_ID_MAX)
        if skill_id in ids:
            raise v.fail(errors.WRONG_VALUE, path, f"repeats skill queue {skill_id}")
        ids.append(skill_id)
    return tuple(ids)


def optional_bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise v.fail(errors.WRONG_TYPE, key, "must be true or false")
    return value
