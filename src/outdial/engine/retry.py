"""What happens to a record after an attempt ends (or after an agent writes a business result). Pure.

The caller passes what happened and the record's attempt history as plain data; these functions answer
with a Decision: finish the record, retry the same number at due_ms, move to another number at due_ms, or
recycle the record. The window (schedule.py) is applied by the runner afterwards: a due time inside a closed
stretch simply waits for the next open one.

Decisions where the document is silent (recorded in docs/scheduling-and-retry.md):
- A successful call finishes the record.
- Every attempt counts, the first call included: retryTimes is attempts per local day, retryDay the number of
  local days *with attempts* on that number (days the campaign did not dial do not use up the allowance).
  retryNumber (by result) counts retries: a number whose last result was type t gets another attempt while
  the number has had at most retryNumber attempts ending in type t.
- Under a by-result policy a result type not listed (always the case for 0 "others" in the global form, whose
  `result` ranges 1-9) gives that number no retry; the record moves on to its next number.
- policyJson common policies have no callInterval: outdial waits DEFAULT_COMMON_INTERVAL_S (60 s) between
  attempts on the same number. When a number's allowance for today is used up but it has days left, its next
  attempt is due at the next local midnight (the window then decides the hour).
- A number whose type matches no policyJson entry is called once and not retried.
- noRetryPolicy: a number whose last resultCode is listed gets no retry; the record still moves on to its
  next number.
- delayTime (a number's delay_s): the minimum wait, after the record's previous attempt, before this number
  is dialed, for its first call and its retries alike.
- A record whose next attempt would fall at or after its recycle time is recycled; one whose next attempt
  would fall after the campaign's end is finished (reason "campaign_end").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from outdial.engine.callpolicy import candidates_after

DEFAULT_COMMON_INTERVAL_S = 60

Action = Literal["finish", "retry", "next", "recycle"]


class NumberLike(Protocol):
    @property
    def type(self) -> str | None: ...

    @property
    def delay_s(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """One closed attempt of a record, as the history builder needs it."""

    number_index: int
    ended_ms: int
    local_day: str  # "yyyy-MM-dd" in the campaign's zone, the day the attempt was placed
    result_type: int | None  # 0-9; None for a success
    result_code: str | None = None
    success: bool = False


@dataclass(frozen=True, slots=True)
class NumberHistory:
    """One number's attempts so far (including the one that just ended)."""

    attempts: int = 0
    attempts_today: int = 0
    days_with_attempts: int = 0
    last_end_ms: int | None = None
    last_result_type: int | None = None
    last_result_code: str | None = None
    by_result_type: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    number_index: int  # the number to call next (the current one for finish/recycle)
    due_ms: int | None  # None for finish/recycle
    reason: str


def local_day(ms: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, zone).date().isoformat()


def next_local_midnight(ms: int, zone: ZoneInfo) -> int:
    day = datetime.fromtimestamp(ms / 1000, zone).date() + timedelta(days=1)
    return int(datetime.combine(day, time(), tzinfo=zone).timestamp() * 1000)


def summarize(attempts: Iterable[Attempt], n_numbers: int, today: str) -> tuple[NumberHistory, ...]:
    """Per-number history from a record's closed attempts, oldest first."""
    acc: list[dict[str, Any]] = [
        {"attempts": 0, "today": 0, "days": set(), "end": None, "rt": None, "rc": None, "by": {}}
        for _ in range(n_numbers)
    ]
    for a in attempts:
        if not 0 <= a.number_index < n_numbers:
            continue
        s = acc[a.number_index]
        s["attempts"] += 1
        s["today"] += a.local_day == today
        s["days"].add(a.local_day)
        s["end"], s["rt"], s["rc"] = a.ended_ms, a.result_type, a.result_code
        if a.result_type is not None:
            s["by"][a.result_type] = s["by"].get(a.result_type, 0) + 1
    return tuple(
        NumberHistory(s["attempts"], s["today"], len(s["days"]), s["end"], s["rt"], s["rc"], dict(s["by"]))
        for s in acc
    )


def _rule_for(number: NumberLike, policy: Mapping[str, Any]) -> tuple[str, Any] | None:
    if int(policy.get("policyType") or 0) == 0:
        if policy.get("common"):
            return "common", policy["common"]
        return "result", policy.get("byResult") or []
    for entry in policy.get("byNumberType") or []:
        if entry.get("dataType") == number.type:
            if int(entry.get("type") or 0) == 0:
                return "common", entry.get("common") or {}
            return "result", entry.get("byResult") or []
    return None


def earliest_for(
    index: int,
    numbers: Sequence[NumberLike],
    history: Sequence[NumberHistory],
    policy: Mapping[str, Any],
    zone: ZoneInfo,
    now_ms: int,
) -> int | None:
    """When number `index` may next be dialed, or None when it has nothing left."""
    number, h = numbers[index], history[index]
    floor = now_ms + int(number.delay_s or 0) * 1000
    if h.attempts == 0:
        return floor
    if h.last_result_code is not None and h.last_result_code in (policy.get("noRetry") or []):
        return None
    rule = _rule_for(number, policy)
    if rule is None:
        return None
    last_end = h.last_end_ms if h.last_end_ms is not None else now_ms
    kind, spec = rule
    if kind == "common":
        assert isinstance(spec, Mapping)
        interval = int(spec.get("callInterval") or DEFAULT_COMMON_INTERVAL_S)
        due = max(last_end + interval * 1000, floor)
        same_day = local_day(due, zone) == local_day(now_ms, zone)
        if same_day and h.attempts_today < int(spec.get("retryTimes") or 0):
            return due
        if h.days_with_attempts < int(spec.get("retryDay") or 0):
            return due if not same_day else max(due, next_local_midnight(now_ms, zone))
        return None
    for entry in spec:
        if int(entry.get("result")) == h.last_result_type:
            if h.by_result_type.get(h.last_result_type, 0) <= int(entry.get("retryNumber") or 0):
                return max(last_end + int(entry.get("callInterval") or 0) * 1000, floor)
            return None
    return None


def _bounded(
    action: Action, index: int, due: int, reason: str, campaign_end_ms: int, recycle_at_ms: int | None
) -> Decision:
    if recycle_at_ms is not None and due >= recycle_at_ms:
        return Decision("recycle", index, None, "recycle_time")
    if due > campaign_end_ms:
        return Decision("finish", index, None, "campaign_end")
    return Decision(action, index, due, reason)


def decide_after_attempt(
    *,
    now_ms: int,
    current: int,
    success: bool,
    numbers: Sequence[NumberLike],
    history: Sequence[NumberHistory],
    policy: Mapping[str, Any],
    call_policy: Mapping[str, Any] | None,
    zone: ZoneInfo,
    campaign_end_ms: int,
    recycle_at_ms: int | None = None,
) -> Decision:
    """The record's next step after the attempt on number `current` ended at now_ms.

    `history` is per number and already includes the attempt that just ended; `policy` is the parsed retry
    policy (spec["retryPolicy"]["parsed"]); `call_policy` the normalized callPolicy (None: by sequence)."""
    if success:
        return Decision("finish", current, None, "success")
    if recycle_at_ms is not None and now_ms >= recycle_at_ms:
        return Decision("recycle", current, None, "recycle_time")
    for index in candidates_after(current, numbers, call_policy):
        due = earliest_for(index, numbers, history, policy, zone, now_ms)
        if due is not None:
            action: Action = "retry" if index == current else "next"
            return _bounded(action, index, due, action, campaign_end_ms, recycle_at_ms)
    return Decision("finish", current, None, "exhausted")


def business_rule(policy: Mapping[str, Any], code: str, sub_code: str | None) -> Mapping[str, Any] | None:
    """The busiPolicy entry for a business result: an exact (code, subcode) entry wins over a code-only one."""
    fallback = None
    for entry in policy.get("business") or []:
        if entry.get("busiResultCode") != code:
            continue
        entry_sub = entry.get("busiResultSubCode")
        if entry_sub is not None and entry_sub == sub_code:
            return entry
        if entry_sub is None and fallback is None:
            fallback = entry
    return fallback


def decide_after_business_result(
    *,
    now_ms: int,
    current: int,
    busi_result_code: str,
    busi_sub_code: str | None,
    numbers: Sequence[NumberLike],
    history: Sequence[NumberHistory],
    policy: Mapping[str, Any],
    call_policy: Mapping[str, Any] | None,
    zone: ZoneInfo,
    campaign_end_ms: int,
    recycle_at_ms: int | None = None,
) -> Decision | None:
    """busiPolicy: 0 stop calling the record, 1 call the next number that has attempts left, 2 call the
    current number again; 1 and 2 after callInterval. None when no busiPolicy entry matches (nothing changes)."""
    rule = business_rule(policy, busi_result_code, busi_sub_code)
    if rule is None:
        return None
    what = int(rule.get("busiResultPolicy") or 0)
    if what == 0:
        return Decision("finish", current, None, "business_stop")
    due = now_ms + int(rule.get("callInterval") or 0) * 1000
    if what == 2:
        return _bounded(
            "retry",
            current,
            max(due, now_ms + int(numbers[current].delay_s or 0) * 1000),
            "business_same",
            campaign_end_ms,
            recycle_at_ms,
        )
    for index in candidates_after(current, numbers, call_policy):
        if index == current:
            continue
        earliest = earliest_for(index, numbers, history, policy, zone, now_ms)
        if earliest is not None:
            return _bounded(
                "next", index, max(due, earliest), "business_next", campaign_end_ms, recycle_at_ms
            )
    return Decision("finish", current, None, "business_no_next")
