"""The campaign runner: owns campaigns through leases, dials due records inside their windows at the pace
their device type sets, and closes every attempt with the decision of its retry policy.

Crash safety: an attempt is committed (state OPEN) before its call is placed, and its call_id is derived
from (record, attempt number), so the same attempt can never be placed twice. When a worker takes over a
campaign (after a restart, or another worker's lease expired) the campaign's OPEN attempts are closed as
RECONCILED (failCode 34608, "no result, written back after a timeout") and their records go on by policy.

Time: `step()` does everything due at the clock's now and returns when it next needs to run. Under
`serve` the loop sleeps until then (or until woken); `run_virtual()` jumps a VirtualClock from step to
step, so a day of dialing passes in seconds.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from outdial.campaigns.status import COMPLETED, EXECUTING, PUBLISHED, effective_status
from outdial.clock import VirtualClock
from outdial.context import AppContext
from outdial.engine import repository as repo
from outdial.engine.plan import CampaignPlan, Decision, Observed
from outdial.engine.resultcodes import result_code
from outdial.engine.telephony.port import CallEvent, CallRequest, TelephonyPort
from outdial.models import calldata as cd
from outdial.models.engine import ENDED, OPEN, RECONCILED
from outdial.results import outbox

log = logging.getLogger("outdial.engine")

LEASE_TTL_MS = 30_000
REFRESH_MS = 1_000  # how often leases are renewed and campaign changes (pause, modify) are picked up
TICK_MS = 1_000  # pacing looks again at most this long after placing calls
RECONCILED_FAIL_CODE = "34608"


@dataclass(slots=True)
class InFlight:
    attempt_id: int
    call_id: str
    campaign_id: int
    vdn_id: int
    data_id: int
    number_index: int
    called: str
    caller: str | None
    session_id: str | None
    custom_field: str | None
    created_at: int
    local_day: str


@dataclass
class LiveCampaign:
    plan: CampaignPlan
    calls: dict[str, InFlight] = field(default_factory=dict)
    dials: list[int] = field(default_factory=list)  # recent placement instants (pacing observes them)
    answers: list[int] = field(default_factory=list)
    abandons: list[int] = field(default_factory=list)
    talk_seconds: list[float] = field(default_factory=list)
    next_dial_at: int = 0
    exhausted: bool = False  # nothing due right now: wait for next_dial_at


class Engine:
    def __init__(self, ctx: AppContext, port: TelephonyPort, *, owner: str | None = None) -> None:
        self.ctx = ctx
        self.port = port
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.live: dict[int, LiveCampaign] = {}
        self.calls: dict[str, InFlight] = {}
        self._next_refresh = 0
        self.placed = 0
        self.ended = 0

    # --- the loop ---------------------------------------------------------------------------------------

    def step(self) -> int:
        now = self.ctx.clock.now_ms()
        if now >= self._next_refresh:
            self._refresh(now)
            self._next_refresh = now + REFRESH_MS
        events = self.port.poll_events(now)
        if events:
            self._handle(events, now)
        wake = [self._next_refresh]
        for live in list(self.live.values()):
            wake.append(self._dial(live, now))
        pending = self.port.next_event_at()
        if pending is not None:
            wake.append(pending)
        return max(min(wake), now + 1)

    def run(self, stop: threading.Event) -> None:
        wakeup = self.ctx.wakeup("engine")
        while not stop.is_set():
            next_at = self.step()
            wakeup.wait(self.ctx.clock.seconds_until(next_at))
            if wakeup.is_set():
                wakeup.clear()
                self._next_refresh = 0
        self.release_all()

    def run_virtual(self, until_ms: int) -> None:
        """Drive a VirtualClock from event to event until `until_ms` (tests, simulate, benchmarks)."""
        clock = self.ctx.clock
        assert isinstance(clock, VirtualClock), "run_virtual needs a VirtualClock"
        while clock.now_ms() < until_ms:
            next_at = self.step()
            clock.set(min(max(next_at, clock.now_ms()), until_ms))
        self.step()

    def release_all(self) -> None:
        with self.ctx.db.write() as conn:
            for campaign_id in self.live:
                repo.release_lease(conn, campaign_id, self.owner)
        self.live.clear()

    # --- campaigns and leases ---------------------------------------------------------------------------

    def _refresh(self, now: int) -> None:
        with self.ctx.db.write() as conn:
            rows = repo.dialable_campaigns(conn, now)
            wanted: set[int] = set()
            for row in rows:
                status = effective_status(row.status, row.begin_at, row.end_at, now)
                if not repo.claim_lease(conn, row.id, self.owner, now, LEASE_TTL_MS):
                    continue  # another worker dials it
                if status == COMPLETED:
                    repo.set_campaign_status(conn, row.id, COMPLETED, now)
                    repo.release_lease(conn, row.id, self.owner)
                    continue
                wanted.add(row.id)
                if row.status == PUBLISHED and status == EXECUTING:
                    repo.set_campaign_status(conn, row.id, EXECUTING, now)
                live = self.live.get(row.id)
                if live is None or live.plan.updated_at != row.updated_at:
                    plan = CampaignPlan.load(conn, row)
                    if live is None:
                        self._reconcile(conn, row.id, now)
                        self.live[row.id] = LiveCampaign(plan)
                    else:
                        live.plan = plan
            for campaign_id in list(self.live):
                if campaign_id not in wanted:  # paused, deleted or taken: stop dialing at once
                    repo.release_lease(conn, campaign_id, self.owner)
                    del self.live[campaign_id]

    def _reconcile(self, conn: Any, campaign_id: int, now: int) -> None:
        """Close attempts a dead worker left open: their calls' fates are unknown; never place them again."""
        stale = [a for a in repo.open_attempts(conn, campaign_id) if a.call_id not in self.calls]
        if not stale:
            return
        log.warning("campaign %s: reconciling %d attempts left open", campaign_id, len(stale))
        plan_row = repo.campaign_row(conn, campaign_id)
        plan = CampaignPlan.load(conn, plan_row)
        closed = []
        for a in stale:
            flight = InFlight(
                a.id,
                a.call_id,
                a.campaign_id,
                a.vdn_id,
                a.data_id,
                a.number_index,
                a.called,
                a.caller,
                a.session_id,
                a.custom_field,
                a.created_at,
                a.local_day,
            )
            closed.append((flight, _reconciled_event(a.call_id, now)))
        self._close(conn, plan, closed, now, state=RECONCILED)

    # --- placing calls ----------------------------------------------------------------------------------

    def _dial(self, live: LiveCampaign, now: int) -> int:
        plan = live.plan
        if now < live.next_dial_at:
            return live.next_dial_at
        if not plan.is_open(now):
            opens = plan.next_open(now)
            live.next_dial_at = opens if opens is not None else plan.end_at
            return live.next_dial_at
        wanted = plan.calls_to_place(self._observe(live, now))
        if wanted.count <= 0:
            live.next_dial_at = wanted.next_check_at
            return live.next_dial_at
        with self.ctx.db.write() as conn:
            rows = repo.pick_due(conn, plan.campaign_id, now, wanted.count)
            if not rows:
                due = repo.next_due_at(conn, plan.campaign_id)
                if due is None and not live.calls and repo.unfinished_count(conn, plan.campaign_id) == 0:
                    if repo.has_records(conn, plan.campaign_id):
                        self._complete(conn, plan.campaign_id, now)
                        return now + REFRESH_MS
                live.next_dial_at = due if due is not None and due > now else now + REFRESH_MS
                return live.next_dial_at
            requests = self._start(conn, live, rows, now)
        for request in requests:  # committed first: an attempt exists before its call
            self.port.place_call(request)
            live.dials.append(now)
        self.placed += len(requests)
        live.next_dial_at = wanted.next_check_at
        return live.next_dial_at

    def _start(self, conn: Any, live: LiveCampaign, rows: Iterable[Any], now: int) -> list[CallRequest]:
        plan = live.plan
        attempt_rows: list[dict[str, Any]] = []
        flights: list[InFlight] = []
        retire: dict[int, list[int]] = {}
        postpone: list[dict[str, Any]] = []
        refusals = plan.blacklist_refusals(conn, [r.called for r in rows] + _other_numbers(rows), now)
        local_day = plan.local_day(now)
        for row in rows:
            if row.recycle_at is not None and row.recycle_at <= now:
                retire.setdefault(cd.RECYCLED, []).append(row.id)
                continue
            numbers = plan.numbers_of(row)
            called = numbers[row.number_index].called if row.number_index < len(numbers) else row.called
            refused_until = refusals.get(called)
            if refused_until is not None:
                if refused_until < 0:  # blacklisted for good: the record ends without a call
                    retire.setdefault(cd.FINISHED, []).append(row.id)
                else:
                    postpone.append(
                        {
                            "b_id": row.id,
                            "state": cd.WAITING,
                            "next_due_at": refused_until,
                            "number_index": row.number_index,
                            "finished_at": None,
                            "final_attempt_id": None,
                        }
                    )
                continue
            attempt_no = row.attempt_count + 1
            call_id = f"{plan.vdn_id:04d}-{plan.campaign_id}-{row.id}-{attempt_no}"
            caller = row.caller or plan.caller_for(attempt_no)
            attempt_rows.append(
                {
                    "call_id": call_id,
                    "campaign_id": plan.campaign_id,
                    "vdn_id": plan.vdn_id,
                    "data_id": row.id,
                    "number_index": row.number_index,
                    "called": called,
                    "caller": caller,
                    "session_id": row.session_id,
                    "custom_field": row.custom_field,
                    "state": OPEN,
                    "created_at": now,
                    "local_day": local_day,
                    "abandoned": False,
                }
            )
            flights.append(
                InFlight(
                    0,
                    call_id,
                    plan.campaign_id,
                    plan.vdn_id,
                    row.id,
                    row.number_index,
                    called,
                    caller,
                    row.session_id,
                    row.custom_field,
                    now,
                    local_day,
                )
            )
        for state, ids in retire.items():
            repo.retire_records(conn, ids, state, now)
        repo.update_records(conn, postpone)
        ids = repo.start_attempts(conn, attempt_rows)
        requests = []
        for flight in flights:
            flight.attempt_id = ids[flight.call_id]
            self.calls[flight.call_id] = flight
            live.calls[flight.call_id] = flight
            requests.append(plan.call_request(flight.call_id, flight.called, flight.caller))
        return requests

    def _complete(self, conn: Any, campaign_id: int, now: int) -> None:
        log.info("campaign %s completed: nothing left to call", campaign_id)
        repo.set_campaign_status(conn, campaign_id, COMPLETED, now)
        repo.release_lease(conn, campaign_id, self.owner)
        self.live.pop(campaign_id, None)

    def _observe(self, live: LiveCampaign, now: int) -> Observed:
        horizon = now - 15 * 60 * 1000  # pacing looks at the last 15 minutes
        for samples in (live.dials, live.answers, live.abandons):
            while samples and samples[0] < horizon:
                samples.pop(0)
        del live.talk_seconds[:-200]
        return Observed(
            now_ms=now,
            calls_in_progress=len(live.calls),
            recent_dials=len(live.dials),
            recent_answers=len(live.answers),
            recent_abandons=len(live.abandons),
            recent_talk_seconds=tuple(live.talk_seconds),
            agents=self.port.agent_counts(live.plan.skill_id) if live.plan.skill_id is not None else None,
        )

    # --- events -----------------------------------------------------------------------------------------

    def _handle(self, events: list[CallEvent], now: int) -> None:
        by_campaign: dict[int, list[tuple[InFlight, CallEvent]]] = {}
        for event in events:
            flight = self.calls.get(event.call_id)
            if flight is None:
                continue  # a call this process did not place (e.g. before a restart): already reconciled
            live = self.live.get(flight.campaign_id)
            if event.kind == "answered" and live is not None:
                live.answers.append(event.at_ms)
            if event.kind != "ended":
                continue
            if live is not None:
                if event.abandoned:
                    live.abandons.append(event.at_ms)
                if event.talk_seconds:
                    live.talk_seconds.append(event.talk_seconds)
                live.calls.pop(flight.call_id, None)
            del self.calls[flight.call_id]
            by_campaign.setdefault(flight.campaign_id, []).append((flight, event))
        if not by_campaign:
            return
        with self.ctx.db.write() as conn:
            for campaign_id, closed in by_campaign.items():
                live = self.live.get(campaign_id)
                plan = (
                    live.plan
                    if live is not None
                    else CampaignPlan.load(conn, repo.campaign_row(conn, campaign_id))
                )
                self._close(conn, plan, closed, now, state=ENDED)
                if live is not None:
                    live.next_dial_at = min(live.next_dial_at, now)  # a freed line or agent: look again

    def _close(
        self, conn: Any, plan: CampaignPlan, closed: list[tuple[InFlight, CallEvent]], now: int, *, state: int
    ) -> None:
        """End attempts, decide each record's next step, queue the results for callback: one transaction."""
        history = repo.attempt_history(conn, [f.data_id for f, _ in closed])
        records = repo.record_rows(conn, [f.data_id for f, _ in closed])
        overrides = plan.result_code_overrides
        ended, updates = [], []
        for flight, event in closed:
            code = result_code(event.fail_code, overrides)
            success = event.fail_code in ("00000", "0")
            outcome = {
                "b_id": flight.attempt_id,
                "state": state,
                "answer_at": event.answer_at_ms,
                "end_at": event.at_ms,
                "outcome": event.outcome,
                "result_type": event.result_type,
                "fail_code": event.fail_code,
                "result_code": code,
                "call_status": 6 if success else 5,
                "agent_id": event.agent_id,
                "abandoned": bool(event.abandoned),
                "record_path": event.record_path,
            }
            ended.append(outcome)
            record = records.get(flight.data_id)
            if record is None:
                continue  # the record was deleted while its call ran
            decision: Decision = plan.decide(
                record, history.get(flight.data_id, []), flight, outcome, event.at_ms
            )
            finished = decision.state != cd.WAITING
            updates.append(
                {
                    "b_id": flight.data_id,
                    "state": decision.state,
                    "next_due_at": decision.due_ms,
                    "number_index": decision.number_index,
                    "finished_at": event.at_ms if finished else None,
                    "final_attempt_id": flight.attempt_id if finished else None,
                }
            )
            outbox.enqueue(
                conn,
                _result_view(flight, outcome, plan),
                campaign_id=plan.campaign_id,
                vdn_id=plan.vdn_id,
                now_ms=now,
            )
        repo.end_attempts(conn, ended)
        repo.update_records(conn, updates)
        self.ended += len(ended)


def _other_numbers(rows: Iterable[Any]) -> list[str]:
    numbers: list[str] = []
    for row in rows:
        if row.numbers:
            numbers.extend(n[0] for n in json.loads(row.numbers))
    return numbers


def _reconciled_event(call_id: str, now: int) -> CallEvent:
    return CallEvent(
        call_id=call_id,
        kind="ended",
        at_ms=now,
        outcome="unknown",
        result_type=9,
        fail_code=RECONCILED_FAIL_CODE,
    )


def _result_view(flight: InFlight, outcome: dict[str, Any], plan: CampaignPlan) -> dict[str, Any]:
    return {
        "attempt_id": flight.attempt_id,
        "call_id": flight.call_id,
        "campaign_id": flight.campaign_id,
        "vdn_id": flight.vdn_id,
        "data_id": flight.data_id,
        "called": flight.called,
        "caller": flight.caller,
        "session_id": flight.session_id,
        "custom_field": flight.custom_field,
        "created_at": flight.created_at,
        "timezone": plan.timezone,
        **{k: v for k, v in outcome.items() if k != "b_id"},
    }
