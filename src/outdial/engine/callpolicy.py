"""Whom to call inside one record, and from which calling number. Pure functions.

Decisions (recorded in docs/scheduling-and-retry.md):
- By sequence (callPolicy absent or callType 0): every number in the order given; number 1 until it has
  nothing left under the retry policy, then number 2, and so on.
- By round (callType 1): only the numbers the turns select are ever called, in the turns' order.
  chooseType 0 (by number category): for each turnType in order, the record's numbers of that type in the
  order given (a type listed twice is used once). chooseType 1 (by number sequence): the numbers at the
  listed 1-based positions (positions past the record's last number are skipped). Each round calls every
  selected number that still has an attempt left once, then the next round begins at the first again.
- Calling number: the lowest priority value wins; calling numbers of equal priority take turns by the
  record's attempt number (attempt 1 the first of the group in accessCode order, attempt 2 the second...),
  so load spreads across the group and one record sees its numbers in a fixed rotation. A record's own
  `caller` overrides this choice (the runner applies it). Calling numbers the caller marks unavailable are
  skipped, falling back to the next priority.
- A record none of whose numbers the turns select is never called: the campaign's explicit choice of
  types or positions is kept (calling numbers it did not select could reach people it meant to leave
  out), but never silently: `not_called_reason` says why, and the add answer, the record's read answer,
  the statistics and the log all say it (docs/scheduling-and-retry.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class HasType(Protocol):
    @property
    def type(self) -> str | None: ...


def is_round(call_policy: Mapping[str, Any] | None) -> bool:
    return bool(call_policy) and int(call_policy.get("callType") or 0) == 1  # type: ignore[union-attr]


def call_order(numbers: Sequence[HasType], call_policy: Mapping[str, Any] | None) -> tuple[int, ...]:
    """Indices (0-based) of the record's numbers that may be called, in calling order."""
    if not is_round(call_policy):
        return tuple(range(len(numbers)))
    assert call_policy is not None
    turns = call_policy.get("turns") or []
    order: list[int] = []
    if int(call_policy.get("chooseType") or 0) == 0:
        for turn in turns:
            wanted = turn.get("turnType")
            for i, number in enumerate(numbers):
                if number.type == wanted and i not in order:
                    order.append(i)
    else:
        for turn in turns:
            i = int(turn.get("turnOrder") or 0) - 1
            if 0 <= i < len(numbers) and i not in order:
                order.append(i)
    return tuple(order)


@dataclass(frozen=True, slots=True)
class Typed:
    type: str | None


def stored_types(numbers_json: str | None) -> list[Typed]:
    """The types of a stored record's numbers (call_data.numbers; NULL: one number without a type)."""
    if not numbers_json:
        return [Typed(None)]
    return [Typed(n[1]) for n in json.loads(numbers_json)]


def not_called_reason(numbers: Sequence[HasType], call_policy: Mapping[str, Any] | None) -> str | None:
    """Why the call policy will never call any of the record's numbers; None when it calls one."""
    if call_order(numbers, call_policy):
        return None
    assert call_policy is not None  # by sequence every record has a number to call
    turns = call_policy.get("turns") or []
    if int(call_policy.get("chooseType") or 0) == 0:
        listed = ", ".join(dict.fromkeys(str(t.get("turnType")) for t in turns))
        have = ", ".join(dict.fromkeys("none" if n.type is None else str(n.type) for n in numbers))
        return (
            f"callPolicy calls by round only numbers of type {listed}; this record's numbers have type {have}"
        )
    positions = ", ".join(dict.fromkeys(str(t.get("turnOrder")) for t in turns))
    return (
        f"callPolicy calls by round only the numbers at positions {positions}; "
        f"this record has {len(numbers)} number{'s' if len(numbers) != 1 else ''}"
    )


def first_number(numbers: Sequence[HasType], call_policy: Mapping[str, Any] | None) -> int | None:
    """The number a fresh record starts with (None: the policy selects none of its numbers)."""
    order = call_order(numbers, call_policy)
    return order[0] if order else None


def candidates_after(
    current: int, numbers: Sequence[HasType], call_policy: Mapping[str, Any] | None
) -> tuple[int, ...]:
    """Numbers to consider after an attempt on `current`, best first.

    By sequence: the current number, then the later ones. By round: the ones after it in the round, wrapping
    to the next round, with the current number last (it is called again only when the round comes back)."""
    order = call_order(numbers, call_policy)
    if current not in order:
        return order
    pos = order.index(current)
    if is_round(call_policy):
        return order[pos + 1 :] + order[:pos] + (current,)
    return order[pos:]


def pick_caller(
    callers: Sequence[tuple[str, int]], attempt_no: int, unavailable: frozenset[str] = frozenset()
) -> str | None:
    """The calling number for a record's `attempt_no`-th attempt (1-based); callers are (accessCode, priority)."""
    usable = sorted((p, code) for code, p in callers if code not in unavailable)
    if not usable:
        return None
    best = usable[0][0]
    group = [code for p, code in usable if p == best]
    return group[(max(attempt_no, 1) - 1) % len(group)]
