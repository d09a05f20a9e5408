"""A campaign as the runner sees it: its stored spec turned into the inputs of the pure decision functions
(schedule.py, callpolicy.py, retry.py, pacing/), loaded once per change of the campaign row."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, Row

from outdial.calldata import blacklist_rules
from outdial.clock import to_datetime
from outdial.engine import callpolicy, retry, schedule
from outdial.engine import repository as repo
from outdial.engine.pacing.ivr import ivr_pace
from outdial.engine.pacing.predictive import predictive_pace
from outdial.engine.pacing.preempted import preempted_pace
from outdial.engine.pacing.preview import preview_pace
from outdial.engine.pacing.state import TICK_MS, PacingState
from outdial.engine.telephony.port import AgentCounts, CallRequest
from outdial.models import calldata as cd

IVR_TYPES = (1, 3)
PREDICTED, PREVIEWED, PREEMPTED = 2, 5, 6
NEVER = -1  # blacklist_refusals: the number may never be called


@dataclass(frozen=True, slots=True)
class Number:
    called: str
    type: str | None
    delay_s: int


@dataclass(frozen=True, slots=True)
class Observed:
    """What pacing sees of one campaign at one instant."""

    now_ms: int
    calls_in_progress: int
    calls_ringing: int  # placed, not answered yet
    recent_dials: int
    recent_answers: int
    recent_abandons: int
    recent_talk_seconds: tuple[float, ...]
    agents: AgentCounts | None  # the port's counts for the campaign's skill queue; None for IVR campaigns


@dataclass
class PacingMemory:
    """What a pacer carries from one look to the next (IVR batches, the predictive level)."""

    last_batch_ms: int | None = None
    level: float = 1.0
    level_updated_ms: int = 0


@dataclass(frozen=True, slots=True)
class Wanted:
    count: int
    next_check_at: int


@dataclass(frozen=True, slots=True)
class Decision:
    state: int  # call_data state: WAITING again, FINISHED or RECYCLED
    due_ms: int
    number_index: int


def numbers_of(row: Any) -> list[Number]:
    """A record's called numbers in order. `numbers` is NULL for a single plain number."""
    if not row.numbers:
        return [Number(row.called, None, 0)]
    return [Number(str(n[0]), n[1], int(n[2] or 0)) for n in json.loads(row.numbers)]


def is_success(fail_code: str | None) -> bool:
    return fail_code in ("00000", "0")


class CampaignPlan:
    def __init__(
        self,
        row: Row,
        callers: list[tuple[str, int]],
        holidays: list[dict[str, Any]],
        result_code_overrides: dict[str, str],
    ) -> None:
        self.row = row
        self.campaign_id: int = row.id
        self.vdn_id: int = row.vdn_id
        self.timezone: str = row.timezone
        self.zone = ZoneInfo(row.timezone)
        self.begin_at: int = row.begin_at
        self.end_at: int = row.end_at
        self.updated_at: int = row.updated_at
        self.device_type: int = row.device_type
        self.skill_id: int | None = row.skill_id
        self.spec: dict[str, Any] = row.spec if isinstance(row.spec, dict) else json.loads(row.spec)
        self.callers = callers
        self.holidays = holidays
        self.result_code_overrides = result_code_overrides
        self.max_alerting_s: int = int(self.spec.get("maxAlertingTime") or 30)
        self.window = schedule.DialWindow.build(
            self.zone, self.begin_at, self.end_at, self.spec.get("scheduleParam") or {}, holidays
        )
        self.retry_policy: dict[str, Any] = (self.spec.get("retryPolicy") or {}).get("parsed") or {}
        self.call_policy: dict[str, Any] | None = self.spec.get("callPolicy")
        self.ivr: dict[str, Any] = self.spec.get("ivrParam") or {}
        skill = self.spec.get("skillParam") or {}
        self.predict: dict[str, Any] = skill.get("predictParam") or {}
        self.preview: dict[str, Any] = skill.get("previewParam") or {}
        self._stretch: tuple[int, int] | None = None  # the open stretch last found (cache of the window)

    @classmethod
    def load(cls, conn: Connection, row: Row) -> CampaignPlan:
        return cls(
            row,
            repo.callers(conn, row.id),
            repo.holidays(conn, row.id),
            repo.result_code_overrides(conn, row.vdn_id),
        )

    # --- time -----------------------------------------------------------------------------------------

    def local_day(self, now_ms: int) -> str:
        return to_datetime(now_ms).astimezone(self.zone).strftime("%Y-%m-%d")

    def local_time(self, now_ms: int) -> datetime:
        return to_datetime(now_ms).astimezone(self.zone)

    def is_open(self, now_ms: int) -> bool:
        stretch = self._stretch
        if stretch is None or not stretch[0] <= now_ms < stretch[1]:
            stretch = self._stretch = next(iter(self.window.intervals_from(now_ms)), None)
        return stretch is not None and stretch[0] <= now_ms < stretch[1]

    def next_open(self, now_ms: int) -> int | None:
        return schedule.next_open(now_ms, self.window)

    # --- whom to call ---------------------------------------------------------------------------------

    def numbers_of(self, row: Any) -> list[Number]:
        return numbers_of(row)

    def first_number(self, numbers: Sequence[Number]) -> int | None:
        return callpolicy.first_number(numbers, self.call_policy)

    def caller_for(self, attempt_no: int) -> str | None:
        return callpolicy.pick_caller(self.callers, attempt_no)

    def call_request(
        self, call_id: str, called: str, caller: str | None, attempt: int, agent_id: str | None = None
    ) -> CallRequest:
        ivr = self.device_type in IVR_TYPES
        return CallRequest(
            call_id=call_id,
            campaign_id=self.campaign_id,
            called=called,
            caller=caller,
            max_alerting_s=self.max_alerting_s,
            skill_id=None if ivr else self.skill_id,
            ivr_flow=str(self.ivr.get("deviceSign") or "ivr") if ivr else None,
            agent_id=agent_id,
            attempt=attempt,
        )

    def blacklist_refusals(self, conn: Connection, numbers: Iterable[str], now_ms: int) -> dict[str, int]:
        """Numbers that may not be called now: number -> the first instant they may be (NEVER: not at all).
        Read right before the calls are placed, in the transaction that writes their attempts."""
        entries = repo.blacklist_entries(conn, self.vdn_id, set(numbers))
        if not entries:
            return {}
        refusals: dict[str, int] = {}
        restricted = [n for n, e in entries.items() if e.restrict_period is not None]
        since = {
            n: blacklist_rules.period_bounds(now_ms, entries[n].restrict_period, self.timezone)[0]
            for n in restricted
        }
        calls = repo.call_times(conn, self.vdn_id, since)
        for number, entry in entries.items():
            made = calls.get(number, [])
            if blacklist_rules.may_call(entry, made, now_ms, self.timezone):
                continue
            allowed = blacklist_rules.next_allowed_at(entry, made, now_ms, self.timezone)
            refusals[number] = NEVER if allowed is None else allowed
        return refusals

    # --- how fast -------------------------------------------------------------------------------------

    def calls_to_place(self, seen: Observed, memory: PacingMemory) -> Wanted:
        now = seen.now_ms
        agents = seen.agents or AgentCounts()
        talk = seen.recent_talk_seconds
        state = PacingState(
            now,
            agents_idle=agents.idle,
            agents_talking=agents.talking,
            agents_wrapup=agents.wrapup,
            agents_offline=agents.offline,
            calls_ringing=seen.calls_ringing,
            calls_waiting=agents.waiting,
            calls_in_progress=seen.calls_in_progress,
            recent_dials=seen.recent_dials,
            recent_answers=seen.recent_answers,
            recent_abandons=seen.recent_abandons,
            avg_talk_s=sum(talk) / len(talk) if talk else None,
            level=memory.level,
            level_updated_ms=memory.level_updated_ms,
        )
        if self.device_type in IVR_TYPES:
            pace = ivr_pace(
                state, int(self.ivr["callCount"]), int(self.ivr["callInterval"]), memory.last_batch_ms
            )
            if pace.count > 0:
                memory.last_batch_ms = now
        elif self.device_type == PREDICTED:
            pace = predictive_pace(state, self.predict)
            memory.level, memory.level_updated_ms = pace.level, pace.level_updated_ms
        elif self.device_type == PREVIEWED:
            # reserved agents are no longer idle, so previews already open need no subtraction
            pace = preview_pace(
                state,
                int(self.preview.get("obCallCount") or 1),
                int(self.preview.get("failInterval") or 3),
                0,
            )
        elif self.device_type == PREEMPTED:
            # every ringing call holds a reserved agent (not idle): only queued persons are subtracted
            pace = preempted_pace(PacingState(now, agents_idle=agents.idle, calls_waiting=agents.waiting))
        else:
            return Wanted(0, now + TICK_MS)
        return Wanted(pace.count, max(pace.next_check_ms, now + 1))

    @property
    def reserves_agents(self) -> bool:
        return self.device_type in (PREVIEWED, PREEMPTED)

    @property
    def auto_call_ms(self) -> int:
        """Previewed: how long the agent sees the record before the call is placed."""
        if self.device_type != PREVIEWED:
            return 0
        return int(self.preview.get("autoCallTime") or 5) * 1000

    # --- after a call ---------------------------------------------------------------------------------

    def history(self, rows: Iterable[Any], extra: retry.Attempt | None = None) -> list[retry.Attempt]:
        attempts = [
            retry.Attempt(
                h.number_index,
                h.end_at if h.end_at is not None else h.created_at,
                h.local_day,
                h.result_type,
                h.result_code,
                is_success(h.fail_code),
            )
            for h in rows
        ]
        if extra is not None:
            attempts.append(extra)
        return attempts

    def decide(
        self, record: Any, history: Sequence[Any], number_index: int, local_day: str, event: Any, code: str
    ) -> Decision:
        """The record's next state after its attempt on `number_index` ended with `event`."""
        at = event.at_ms
        numbers = numbers_of(record)
        success = is_success(event.fail_code)
        just_ended = retry.Attempt(number_index, at, local_day, event.result_type, code, success)
        summary = retry.summarize(self.history(history, just_ended), len(numbers), self.local_day(at))
        decision = retry.decide_after_attempt(
            now_ms=at,
            current=number_index,
            success=success,
            numbers=numbers,
            history=summary,
            policy=self.retry_policy,
            call_policy=self.call_policy,
            zone=self.zone,
            campaign_end_ms=self.end_at,
            recycle_at_ms=record.recycle_at,
        )
        return _as_state(decision, at)

    def decide_business(
        self, record: Any, history: Sequence[Any], code: str, sub_code: str | None, now_ms: int
    ) -> Decision | None:
        numbers = numbers_of(record)
        summary = retry.summarize(self.history(history), len(numbers), self.local_day(now_ms))
        decision = retry.decide_after_business_result(
            now_ms=now_ms,
            current=min(record.number_index, len(numbers) - 1),
            busi_result_code=code,
            busi_sub_code=sub_code,
            numbers=numbers,
            history=summary,
            policy=self.retry_policy,
            call_policy=self.call_policy,
            zone=self.zone,
            campaign_end_ms=self.end_at,
            recycle_at_ms=record.recycle_at,
        )
        return None if decision is None else _as_state(decision, now_ms)


def _as_state(decision: retry.Decision, at: int) -> Decision:
    if decision.action == "finish":
        return Decision(cd.FINISHED, at, decision.number_index)
    if decision.action == "recycle":
        return Decision(cd.RECYCLED, at, decision.number_index)
    assert decision.due_ms is not None
    return Decision(cd.WAITING, decision.due_ms, decision.number_index)
