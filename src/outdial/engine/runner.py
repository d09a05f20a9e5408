"""The campaign runner: owns campaigns through leases, dials due records inside their windows at the pace
their device type sets, and closes every attempt with the decision of its retry policy.

Crash safety: an attempt is committed (state OPEN) before its call is placed, and its call_id is derived
from (record, attempt number), so the same attempt can never be placed twice. When a worker takes over a
campaign (after a restart, or another worker's lease expired) the campaign's OPEN attempts are closed as
RECONCILED (failCode 34608, "no result, written back after a timeout") and their records go on by policy.
The pick statement itself checks that this worker still holds the lease and that the campaign may still dial,
in the very transaction that writes the attempts, so a worker that lost its lease (or whose campaign was
paused) never writes another attempt for that campaign. The lease is renewed in that transaction once less
than half of its TTL is left, so another worker can never find it expired while this one dials.

Containment: one campaign's trouble never ends another's calls. Each campaign's share of a step's
transaction (closing its calls, picking its records, taking it up) runs in a savepoint: an error rolls back
that campaign's part only, is logged naming it, and the campaign is taken up again at the next refresh
(its attempts left open are then reconciled). A call the port refuses to place (an adapter error) ends its
own attempt as "not_placed". The calls of a campaign deleted while they ran are hung up.

Time: `step()` does everything due at the clock's now and returns when it next needs to run. Under
`serve` the loop sleeps until then (or until woken); `run_virtual()` jumps a VirtualClock from step to
step, so a day of dialing passes in seconds.
"""

from __future__ import annotations

import functools
import heapq
import json
import logging
import os
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from outdial.campaigns.status import COMPLETED, EXECUTING, PUBLISHED, effective_status
from outdial.clock import VirtualClock
from outdial.context import AppContext
from outdial.db import after_commit
from outdial.engine import repository as repo
from outdial.engine.plan import NEVER, CampaignPlan, Decision, Observed, PacingMemory, Wanted, is_success
from outdial.engine.resultcodes import RECONCILED_FAIL_CODE, result_code
from outdial.engine.telephony import outcomes
from outdial.engine.telephony.port import ANSWERED, ENDED, FAILED, CallEvent, CallRequest, TelephonyPort
from outdial.models import calldata as cd
from outdial.models.engine import ENDED as ATTEMPT_ENDED
from outdial.models.engine import OPEN, RECONCILED
from outdial.results import outbox

log = logging.getLogger("outdial.engine")

LEASE_TTL_MS = 30_000
REFRESH_MS = 1_000  # how often leases are renewed and campaign changes (pause, modify) are picked up
OBSERVE_MS = 15 * 60 * 1000  # pacing looks at the last 15 minutes
NO_LINES_RETRY_MS = 1_000  # a port with no free line (a SIP trunk down, all lines busy) is asked again after


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
    agent_id: str | None = None


@dataclass
class LiveCampaign:
    plan: CampaignPlan
    calls: dict[str, InFlight] = field(default_factory=dict)
    unanswered: set[str] = field(default_factory=set)
    dials: deque[int] = field(default_factory=deque)  # recent placement instants (pacing observes them)
    answers: deque[int] = field(default_factory=deque)  # person answers
    abandons: deque[int] = field(default_factory=deque)
    talk_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    memory: PacingMemory = field(default_factory=PacingMemory)
    next_dial_at: int = 0
    lease_until: int = 0  # the expiry this worker last wrote to its lease


@dataclass(slots=True)
class EngineStats:
    placed: int = 0
    ended: int = 0
    reconciled: int = 0
    abandoned: int = 0
    person_answered: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        ctx: AppContext,
        port: TelephonyPort,
        *,
        owner: str | None = None,
        refresh_ms: int = REFRESH_MS,
    ) -> None:
        """`refresh_ms`: how often campaigns and leases are looked at again. Changes made in this process
        wake the runner at once, and every dialing transaction re-checks lease and status; a longer period
        (virtual-time runs with one engine) only delays noticing other processes' changes."""
        self.ctx = ctx
        self.refresh_ms = refresh_ms
        self.port = port
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.live: dict[int, LiveCampaign] = {}
        self.calls: dict[str, InFlight] = {}
        self.previews: list[tuple[int, int, CallRequest]] = []  # (place at, seq, request): heap
        self._preview_seq = 0
        self._next_refresh = 0
        self.stats = EngineStats()
        self._not_placed: list[tuple[InFlight, CallEvent]] = []  # refused by the port, closed after placing
        self.lock = threading.Lock()  # held around step(): other threads (the agents API) read the port
        self._lines_left: int | None = None  # lines the port has free in this step (None: it does not say)
        self._wakeup = ctx.wakeup("engine")  # set after a commit that changes campaigns (pause, resume...)

    @property
    def placed(self) -> int:
        return self.stats.placed

    @property
    def ended(self) -> int:
        return self.stats.ended

    # --- the loop ---------------------------------------------------------------------------------------

    def step(self) -> int:
        with self.lock:
            return self._step()

    def _step(self) -> int:
        now = self.ctx.clock.now_ms()
        if self._wakeup.is_set():  # something changed here (campaign, records): look at everything again
            self._wakeup.clear()
            self._next_refresh = now
            for live in self.live.values():
                live.next_dial_at = min(live.next_dial_at, now)
        if now >= self._next_refresh:
            self._refresh(now)
            self._next_refresh = now + self.refresh_ms
        events = self.port.poll_events(now)
        closing = self._collect_ended(events) if events else {}
        self._place_previews(now)
        wake = [self._next_refresh]
        # a port that knows its lines (a SIP trunk: 0 while it is down) bounds what this step places, so no
        # attempt is spent on a call the port would refuse
        lines_free = getattr(self.port, "lines_free", None)
        self._lines_left = lines_free() if lines_free is not None else None
        dialing: list[tuple[LiveCampaign, Wanted]] = []
        for live in list(self.live.values()):
            wanted, at = self._look(live, now)
            if wanted is not None:
                dialing.append((live, wanted))
            else:
                wake.append(at)
        placing: list[tuple[LiveCampaign, CallRequest]] = []
        if closing or dialing:
            # one transaction per step: the calls that ended are closed and the new attempts written, then
            # committed; only then are the new calls placed
            with self.ctx.db.write() as conn:
                if closing:
                    self._close_ended(conn, closing, now)
                for live, wanted in dialing:
                    picked: list[tuple[LiveCampaign, CallRequest]] = []
                    cid = live.plan.campaign_id
                    ok, next_at = _isolated(
                        conn, cid, "picking records", self._pick, conn, live, wanted, now, picked
                    )
                    if ok:
                        placing.extend(picked)
                        wake.append(next_at)
                    else:
                        self._drop(cid, now)
        for live, request in placing:
            delay = live.plan.auto_call_ms
            if delay:
                self._preview_seq += 1
                heapq.heappush(self.previews, (now + delay, self._preview_seq, request))
            else:
                self._place(live, request, now)
        self._close_not_placed(now)
        if self.previews:
            wake.append(self.previews[0][0])
        pending = self.port.next_event_at()
        if pending is not None:
            wake.append(pending)
        return max(min(wake), now + 1)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            next_at = self.step()
            # at least 1 ms: a clock that does not move by itself (virtual) must not make this spin
            self._wakeup.wait(max(self.ctx.clock.seconds_until(next_at), 0.001))
        self.release_all()

    def run_virtual(self, until_ms: int, *, tick_ms: int = 0) -> None:
        """Drive a VirtualClock from event to event until `until_ms` (tests, simulate, benchmarks).

        `tick_ms` > 0 makes the runner look at most once per tick, as a busy real-time loop does: events of
        one tick are closed in one transaction (each with its own instant), calls are placed on ticks."""
        clock = self.ctx.clock
        assert isinstance(clock, VirtualClock), "run_virtual needs a VirtualClock"
        while clock.now_ms() < until_ms:
            next_at = max(self.step(), clock.now_ms() + tick_ms)
            clock.set(min(next_at, until_ms))
        self.step()

    def release_all(self) -> None:
        with self.lock, self.ctx.db.write() as conn:
            for campaign_id in self.live:
                repo.release_lease(conn, campaign_id, self.owner)
            self.live.clear()

    # --- campaigns and leases ---------------------------------------------------------------------------

    def _refresh(self, now: int) -> None:
        with self.ctx.db.write() as conn:
            rows = repo.dialable_campaigns(conn, now)
            wanted: set[int] = set()
            for row in rows:
                ok, dials = _isolated(conn, row.id, "taking it up", self._take_up, conn, row, now)
                if ok and dials:
                    wanted.add(row.id)
            for campaign_id in list(self.live):
                if campaign_id not in wanted:  # paused, deleted, completed or taken: stop dialing at once
                    repo.release_lease(conn, campaign_id, self.owner)
                    del self.live[campaign_id]
            self._end_calls_of_deleted(conn, now)
            if self.live:  # a VDN's result code map changes without touching its campaigns: one look for all
                maps = repo.result_code_overrides_of(conn, {live.plan.vdn_id for live in self.live.values()})
                for live in self.live.values():
                    live.plan.result_code_overrides = maps.get(live.plan.vdn_id, {})

    def _take_up(self, conn: Any, row: Any, now: int) -> bool:
        """Claim or renew one dialable campaign's lease and (re)load its plan; True when this worker dials it."""
        status = effective_status(row.status, row.begin_at, row.end_at, now)
        if not repo.claim_lease(conn, row.id, self.owner, now, LEASE_TTL_MS):
            return False  # another worker dials it
        if status == COMPLETED:
            log.info("campaign %s completed: its period ended", row.id)
            repo.set_campaign_status(conn, row.id, COMPLETED, now)
            repo.release_lease(conn, row.id, self.owner)
            return False
        if row.status == PUBLISHED and status == EXECUTING:
            repo.set_campaign_status(conn, row.id, EXECUTING, now)
        live = self.live.get(row.id)
        if live is None or live.plan.updated_at != row.updated_at:
            plan = CampaignPlan.load(conn, row)
            if live is None:
                self._reconcile(conn, plan, now)
                live = self.live[row.id] = LiveCampaign(plan)
            else:
                live.plan = plan
                live.next_dial_at = now  # a changed window or pace applies at once
        live.lease_until = now + LEASE_TTL_MS
        return True

    def _end_calls_of_deleted(self, conn: Any, now: int) -> None:
        """Hang up the calls of campaigns deleted while they ran (a paused campaign's calls run to their end,
        a deleted one's do not); a previewed call not placed yet is dropped and its attempt closed."""
        others = {f.campaign_id for f in self.calls.values()} - set(self.live)
        if not others:
            return
        gone = others - repo.undeleted_campaign_ids(conn, others)
        if not gone:
            return
        flights = [f for f in self.calls.values() if f.campaign_id in gone]
        log.warning(
            "campaigns %s deleted with %d calls in progress: hanging them up", sorted(gone), len(flights)
        )
        unplaced = {request.call_id for _, _, request in self.previews}
        dropped = [f for f in flights if f.call_id in unplaced]
        dropped_ids = {f.call_id for f in dropped}
        if dropped:
            self.previews = [p for p in self.previews if p[2].call_id not in dropped_ids]
            heapq.heapify(self.previews)
            self._release([f.agent_id for f in dropped if f.agent_id is not None])
            by_campaign: dict[int, list[tuple[InFlight, CallEvent]]] = {}
            for flight in dropped:
                del self.calls[flight.call_id]
                event = _ended_without_call(flight.call_id, now, outcomes.CANCELLED)
                by_campaign.setdefault(flight.campaign_id, []).append((flight, event))
            self._close_ended(conn, by_campaign, now)
        for flight in flights:
            if flight.call_id in unplaced:
                continue
            try:
                self.port.hangup(flight.call_id)  # its ended event closes the attempt (if it is still kept)
            except Exception:  # an adapter's error: this call only
                log.exception("campaign %s: call %s could not be hung up", flight.campaign_id, flight.call_id)

    def _reconcile(self, conn: Any, plan: CampaignPlan, now: int) -> None:
        """Close attempts a dead worker left open: their calls' fates are unknown; never place them again."""
        stale = [a for a in repo.open_attempts(conn, plan.campaign_id) if a.call_id not in self.calls]
        if not stale:
            return
        log.warning("campaign %s: reconciling %d attempts left open", plan.campaign_id, len(stale))
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
        self.stats.reconciled += len(stale)

    # --- placing calls ----------------------------------------------------------------------------------

    def _observe(self, live: LiveCampaign, now: int) -> Observed:
        horizon = now - OBSERVE_MS
        for samples in (live.dials, live.answers, live.abandons):
            while samples and samples[0] < horizon:
                samples.popleft()
        plan = live.plan
        return Observed(
            now_ms=now,
            calls_in_progress=len(live.calls),
            calls_ringing=len(live.unanswered),
            recent_dials=len(live.dials),
            recent_answers=len(live.answers),
            recent_abandons=len(live.abandons),
            recent_talk_seconds=tuple(live.talk_seconds),
            agents=self.port.agent_counts(plan.skill_id) if plan.skill_id is not None else None,
        )

    def _look(self, live: LiveCampaign, now: int) -> tuple[Wanted | None, int]:
        """Whether the campaign dials now (how many calls), else when to look again. No database."""
        plan = live.plan
        if now > plan.end_at:  # its period is over: the refresh completes it
            self._next_refresh = min(self._next_refresh, now)
            return None, now
        if now < live.next_dial_at:
            return None, live.next_dial_at
        if not plan.is_open(now):
            opens = plan.next_open(now)
            live.next_dial_at = opens if opens is not None else plan.end_at + 1
            return None, live.next_dial_at
        lines = self._lines_left
        if lines is not None and lines <= 0:
            live.next_dial_at = now + NO_LINES_RETRY_MS
            return None, live.next_dial_at
        wanted = plan.calls_to_place(self._observe(live, now), live.memory)
        if wanted.count <= 0:
            live.next_dial_at = wanted.next_check_at
            return None, live.next_dial_at
        if lines is not None:
            if wanted.count > lines:
                wanted = replace(wanted, count=lines)
            self._lines_left = lines - wanted.count
        return wanted, now

    def _pick(
        self,
        conn: Any,
        live: LiveCampaign,
        wanted: Wanted,
        now: int,
        placing: list[tuple[LiveCampaign, CallRequest]],
    ) -> int:
        """Pick due records and write their attempts (calls to place go to `placing`); when to look again."""
        plan = live.plan
        renew = live.lease_until - now < LEASE_TTL_MS // 2
        if renew and not self._hold_lease(conn, live, now):
            return now + 1
        rows, blacklist_in_use = repo.pick_due(
            conn, plan.campaign_id, plan.vdn_id, self.owner, now, wanted.count
        )
        if not rows and not renew and not self._hold_lease(conn, live, now):
            return now + 1  # not "nothing due": the campaign may no longer dial
        if not rows:
            due = repo.next_due_at(conn, plan.campaign_id)
            if (
                due is None
                and not live.calls
                and repo.unfinished_count(conn, plan.campaign_id) == 0
                and repo.has_records(conn, plan.campaign_id)
            ):
                self._complete(conn, plan.campaign_id, now)
                return now + REFRESH_MS
            live.next_dial_at = due if due is not None and due > now else now + self.refresh_ms
            return live.next_dial_at
        agents = self._reserve(plan, len(rows))
        if agents is not None:
            rows = rows[: len(agents)]
        requests = self._start(conn, live, rows, now, agents, blacklist_in_use)
        if agents is not None and len(agents) > len(requests):  # records retired without a call
            after_commit(conn, functools.partial(self._release, agents[len(requests) :]))
        placing.extend((live, request) for request in requests)
        live.next_dial_at = wanted.next_check_at
        return live.next_dial_at

    def _hold_lease(self, conn: Any, live: LiveCampaign, now: int) -> bool:
        """Renew the lease; False (and the campaign dropped) when it was paused, deleted or completed
        meanwhile, or the lease went to another worker."""
        campaign_id = live.plan.campaign_id
        if not repo.hold_lease(conn, campaign_id, self.owner, now, LEASE_TTL_MS):
            self.live.pop(campaign_id, None)
            self._next_refresh = now + 1
            return False
        live.lease_until = now + LEASE_TTL_MS
        return True

    def _release(self, agent_ids: list[str]) -> None:
        for agent_id in agent_ids:
            self.port.release_agent(agent_id)

    def _reserve(self, plan: CampaignPlan, count: int) -> list[str] | None:
        """Previewed and preempted calls each take an idle agent first. None: this mode reserves nobody."""
        if not plan.reserves_agents or plan.skill_id is None:
            return None
        agents = []
        for _ in range(count):
            agent_id = self.port.reserve_agent(plan.skill_id)
            if agent_id is None:
                break
            agents.append(agent_id)
        return agents

    def _place(self, live: LiveCampaign | None, request: CallRequest, now: int) -> None:
        try:
            self.port.place_call(request)
        except Exception:  # an adapter's error, not a network outcome: it ends this attempt only
            log.exception("campaign %s: call %s could not be placed", request.campaign_id, request.call_id)
            self._refused(live, request, now)
            return
        self.stats.placed += 1
        if live is not None:
            live.dials.append(now)
            live.unanswered.add(request.call_id)

    def _refused(self, live: LiveCampaign | None, request: CallRequest, now: int) -> None:
        flight = self.calls.pop(request.call_id, None)
        if flight is None:
            return
        if live is not None:
            live.calls.pop(request.call_id, None)
        if request.agent_id is not None:
            self.port.release_agent(request.agent_id)
        self._not_placed.append((flight, _ended_without_call(request.call_id, now, outcomes.NOT_PLACED)))

    def _close_not_placed(self, now: int) -> None:
        if not self._not_placed:
            return
        by_campaign: dict[int, list[tuple[InFlight, CallEvent]]] = {}
        for flight, event in self._not_placed:
            by_campaign.setdefault(flight.campaign_id, []).append((flight, event))
        self._not_placed = []
        with self.ctx.db.write() as conn:
            self._close_ended(conn, by_campaign, now)

    def _drop(self, campaign_id: int, now: int) -> None:
        """Forget a campaign whose step failed: the next refresh takes it up again and reconciles it."""
        self.live.pop(campaign_id, None)
        self._next_refresh = min(self._next_refresh, now + self.refresh_ms)

    def _place_previews(self, now: int) -> None:
        """Previewed records whose autoCallTime is over are dialed (even if the campaign was paused since:
        the agent has the record on screen and its attempt is written)."""
        while self.previews and self.previews[0][0] <= now:
            _, _, request = heapq.heappop(self.previews)
            flight = self.calls.get(request.call_id)
            if flight is None:
                continue
            self._place(self.live.get(flight.campaign_id), request, now)

    def _start(
        self,
        conn: Any,
        live: LiveCampaign,
        rows: Iterable[Any],
        now: int,
        agents: list[str] | None,
        blacklist_in_use: bool,
    ) -> list[CallRequest]:
        plan = live.plan
        attempt_rows: list[dict[str, Any]] = []
        flights: list[InFlight] = []
        retire: dict[int, list[int]] = {}
        postpone: list[dict[str, Any]] = []
        not_selected = 0
        rows = list(rows)
        refusals = plan.blacklist_refusals(conn, _all_numbers(rows), now) if blacklist_in_use else {}
        placed_at = now + plan.auto_call_ms  # previewed: the agent sees the record first, then it is dialed
        local_day = plan.local_day(placed_at)
        for row in rows:
            if row.recycle_at is not None and row.recycle_at <= now:
                retire.setdefault(cd.RECYCLED, []).append(row.id)
                continue
            numbers = plan.numbers_of(row)
            index = row.number_index
            if row.attempt_count == 0:  # a fresh record starts where its call policy says
                first = plan.first_number(numbers)
                if first is None:  # the policy selects none of its numbers
                    retire.setdefault(cd.FINISHED, []).append(row.id)
                    not_selected += 1
                    continue
                index = first
            index = min(index, len(numbers) - 1)
            called = numbers[index].called
            refused_until = refusals.get(called)
            if refused_until is not None:
                if refused_until == NEVER:  # blacklisted for good: the record ends without a call
                    retire.setdefault(cd.FINISHED, []).append(row.id)
                else:
                    postpone.append(
                        {
                            "b_id": row.id,
                            "state": cd.WAITING,
                            "next_due_at": refused_until,
                            "number_index": index,
                            "finished_at": None,
                            "final_attempt_id": None,
                        }
                    )
                continue
            attempt_no = row.attempt_count + 1
            call_id = f"{plan.vdn_id:04d}-{plan.campaign_id}-{row.id}-{attempt_no}"
            caller = row.caller or plan.caller_for(attempt_no)
            agent_id = agents[len(flights)] if agents is not None else None
            attempt_rows.append(
                {
                    "call_id": call_id,
                    "campaign_id": plan.campaign_id,
                    "vdn_id": plan.vdn_id,
                    "data_id": row.id,
                    "number_index": index,
                    "called": called,
                    "caller": caller,
                    "session_id": row.session_id,
                    "custom_field": row.custom_field,
                    "state": OPEN,
                    "created_at": placed_at,
                    "local_day": local_day,
                    "agent_id": agent_id,
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
                    index,
                    called,
                    caller,
                    row.session_id,
                    row.custom_field,
                    placed_at,
                    local_day,
                    agent_id,
                )
            )
        if not_selected:
            log.warning(
                "campaign %s: %d records finished without a call: its callPolicy selects none of their "
                "numbers (see notCalledReason of each record)",
                plan.campaign_id,
                not_selected,
            )
        for state, data_ids in retire.items():
            repo.retire_records(conn, data_ids, state, now)
        repo.update_records(conn, postpone)
        ids = repo.start_attempts(conn, attempt_rows)
        requests = []
        for flight in flights:
            flight.attempt_id = ids[flight.call_id]
            self.calls[flight.call_id] = flight
            live.calls[flight.call_id] = flight
            attempt_no = int(flight.call_id.rsplit("-", 1)[1])
            requests.append(
                plan.call_request(flight.call_id, flight.called, flight.caller, attempt_no, flight.agent_id)
            )
        return requests

    def _complete(self, conn: Any, campaign_id: int, now: int) -> None:
        log.info("campaign %s completed: nothing left to call", campaign_id)
        repo.set_campaign_status(conn, campaign_id, COMPLETED, now)
        repo.release_lease(conn, campaign_id, self.owner)
        self.live.pop(campaign_id, None)

    # --- events -----------------------------------------------------------------------------------------

    def _collect_ended(self, events: list[CallEvent]) -> dict[int, list[tuple[InFlight, CallEvent]]]:
        """Observe events for pacing; return the ended calls by campaign (closed in the step's transaction)."""
        by_campaign: dict[int, list[tuple[InFlight, CallEvent]]] = {}
        stats = self.stats
        for event in events:
            flight = self.calls.get(event.call_id)
            if flight is None:
                continue  # a call this process did not place (e.g. before a restart): already reconciled
            live = self.live.get(flight.campaign_id)
            kind = event.kind
            if live is not None and kind in (ANSWERED, FAILED, ENDED):
                live.unanswered.discard(event.call_id)
            if kind == ANSWERED and event.answered_by == "person":
                stats.person_answered += 1
                if live is not None:
                    live.answers.append(event.at_ms)
            if kind != ENDED:
                continue
            if event.abandoned:
                stats.abandoned += 1
            if live is not None:
                if event.abandoned:
                    live.abandons.append(event.at_ms)
                if event.talk_ms:
                    live.talk_seconds.append(event.talk_seconds)
                live.calls.pop(flight.call_id, None)
                live.next_dial_at = min(live.next_dial_at, event.at_ms)  # a freed line or agent: look again
            del self.calls[flight.call_id]
            by_campaign.setdefault(flight.campaign_id, []).append((flight, event))
        return by_campaign

    def _close_ended(
        self, conn: Any, by_campaign: dict[int, list[tuple[InFlight, CallEvent]]], now: int
    ) -> None:
        for campaign_id, closed in by_campaign.items():
            ok, _ = _isolated(
                conn, campaign_id, "closing calls", self._close_campaign_calls, conn, closed, now
            )
            if not ok:
                self._drop(campaign_id, now)  # its attempts stay open: reconciled when taken up again

    def _close_campaign_calls(self, conn: Any, closed: list[tuple[InFlight, CallEvent]], now: int) -> None:
        campaign_id = closed[0][0].campaign_id
        live = self.live.get(campaign_id)
        if live is not None:
            plan = live.plan
        else:
            row = repo.campaign_row(conn, campaign_id)
            if row is None:
                return  # purged with its attempts
            plan = CampaignPlan.load(conn, row)
        self._close(conn, plan, closed, now, state=ATTEMPT_ENDED)

    def _close(
        self, conn: Any, plan: CampaignPlan, closed: list[tuple[InFlight, CallEvent]], now: int, *, state: int
    ) -> None:
        """End attempts, decide each record's next step, queue the results for callback: one transaction."""
        history, open_ids, records = repo.closing_state(conn, [f.data_id for f, _ in closed])
        closed = [(f, e) for f, e in closed if f.attempt_id in open_ids]  # else another worker reconciled it
        if not closed:
            return
        data_ids = [f.data_id for f, _ in closed]
        business = (
            repo.latest_business_results(conn, data_ids, min(f.created_at for f, _ in closed))
            if plan.retry_policy.get("business")
            else {}
        )
        overrides = plan.result_code_overrides
        by_outcome = self.stats.by_outcome
        ended, updates, results = [], [], []
        for flight, event in closed:
            code = result_code(event.fail_code or "", overrides)
            outcome = {
                "b_id": flight.attempt_id,
                "state": state,
                "answer_at": event.answer_at_ms,
                "end_at": event.at_ms,
                "outcome": event.outcome,
                "result_type": event.result_type,
                "fail_code": event.fail_code,
                "result_code": code,
                "call_status": 6 if is_success(event.fail_code) else 5,
                "agent_id": event.agent_id or flight.agent_id,  # previewed/preempted: the reserved agent
                "abandoned": bool(event.abandoned),
                "record_path": event.record_path,
                "final": False,  # set below when the record finishes with this attempt
            }
            ended.append(outcome)
            by_outcome[event.outcome or ""] = by_outcome.get(event.outcome or "", 0) + 1
            results.append(_result_view(flight, outcome))
            record = records.get(flight.data_id)
            if record is None:
                continue  # the record was deleted while its call ran
            decision: Decision | None = None
            written = business.get(flight.data_id)
            if written is not None and written.created_at >= flight.created_at:
                # an agent wrote a business result during this call: its policy decides what comes next
                decision = plan.decide_business(
                    record,
                    history.get(flight.data_id, []),
                    written.busi_result,
                    written.sub_status,
                    event.at_ms,
                )
            if decision is None:
                decision = plan.decide(
                    record,
                    history.get(flight.data_id, []),
                    flight.number_index,
                    flight.local_day,
                    event,
                    code,
                )
            finished = decision.state != cd.WAITING
            outcome["final"] = finished
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
        repo.end_attempts(conn, ended)
        outbox.enqueue_many(
            conn, results, campaign_id=plan.campaign_id, vdn_id=plan.vdn_id, now_ms=now, zone=plan.timezone
        )
        repo.update_records(conn, updates)
        self.stats.ended += len(ended)


def _all_numbers(rows: Iterable[Any]) -> list[str]:
    numbers: list[str] = []
    for row in rows:
        numbers.append(row.called)
        if row.numbers:
            numbers.extend(str(n[0]) for n in json.loads(row.numbers))
    return numbers


def _isolated(
    conn: Any, campaign_id: int, what: str, work: Callable[..., Any], *args: Any
) -> tuple[bool, Any]:
    """Run one campaign's share of a transaction in a savepoint: (True, its result), or on an error
    (False, None) with only that share rolled back and logged; other campaigns' work goes on."""
    try:
        with conn.begin_nested():
            return True, work(*args)
    except Exception:
        log.exception("campaign %s: %s failed; other campaigns go on", campaign_id, what)
        return False, None


def _ended_without_call(call_id: str, now: int, outcome: str) -> CallEvent:
    result_type, fail_code = outcomes.OUTCOME_CODES[outcome]
    return CallEvent(
        call_id=call_id,
        kind="ended",
        at_ms=now,
        outcome=outcome,
        result_type=result_type,
        fail_code=fail_code,
    )


def _reconciled_event(call_id: str, now: int) -> CallEvent:
    return CallEvent(
        call_id=call_id,
        kind="ended",
        at_ms=now,
        outcome="unknown",
        result_type=9,
        fail_code=RECONCILED_FAIL_CODE,
    )


def _result_view(flight: InFlight, outcome: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": flight.attempt_id,
        "call_id": flight.call_id,
        "campaign_id": flight.campaign_id,
        "vdn_id": flight.vdn_id,
        "data_id": flight.data_id,
        "called": flight.called,
        "caller": flight.caller,
        "session_id": flight.session_id,
        "custom_field": flight.custom_field,
        "created_at": flight.created_at,
        **{k: v for k, v in outcome.items() if k != "b_id"},
    }
