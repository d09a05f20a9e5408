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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
