"""The embedded telephony: a seeded, deterministic simulation of the network, callees and agents.

One event heap, no threads: everything due by an instant is processed when the runner polls (or places,
hangs up, reserves, counts) at that instant, so the same code runs under a RealClock and, jumping from
`next_event_at()` to `next_event_at()`, under a VirtualClock.

Common random numbers: the fate of a call (who answers, after how long, how long they talk, how fast the
network refuses) is drawn only from (seed, called number, attempt number), never from a shared stream, so
two pacing policies dialing the same records see the same callees. What differs between policies is only
what they cause: whether an agent was free when a person answered.

Outcome table and timing rules: docs/telephony.md.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from struct import Struct
from typing import Any

from outdial.clock import Clock
from outdial.engine.telephony import outcomes as oc
from outdial.engine.telephony.port import (
    ANSWERED,
    CONNECTED,
    ENDED,
    FAILED,
    IDLE,
    OFFLINE,
    RESERVED,
    RINGING,
    TALKING,
    WRAPUP,
    AgentCounts,
    AgentState,
    AgentView,
    AnsweredBy,
    CallEvent,
    CallRequest,
)

# What a callee does, in the order the outcome draw walks the shares (fixed: changing it changes outcomes).
DRAW_ORDER = (
    "person",
    "machine",
    "fax",
    "rejected",
    "no_answer",
    "busy",
    "vacant",
    "powered_off",
    "out_of_area",
)
# Answer (200 OK) to the person / machine decision of a real adapter's answering-machine detection
# (measured 1.7-1.9 s: /work/shared/reference/telephony.md).
DEFAULT_DETECT_DELAY_S = 1.8
_EARLY = {"busy": oc.BUSY, "vacant": oc.VACANT, "powered_off": oc.POWERED_OFF, "out_of_area": oc.OUT_OF_AREA}


@dataclass(frozen=True, slots=True)
class OutcomeMix:
    """Shares of what happens when a number is dialed; they must add up to 1.

    person, machine and fax answer after the time-to-answer draw; rejected rejects after it; all four
    become no answer (01040) when that draw is not below the ring timeout.
    """

    person: float = 0.25
    machine: float = 0.15
    fax: float = 0.0
    rejected: float = 0.0
    no_answer: float = 0.40
    busy: float = 0.10
    vacant: float = 0.10
    powered_off: float = 0.0
    out_of_area: float = 0.0

    def __post_init__(self) -> None:
        shares = self.shares()
        if any(s < 0 for s in shares):
            raise ValueError("outcome shares must not be negative")
        if abs(sum(shares) - 1.0) > 1e-9:
            raise ValueError(f"outcome shares must add up to 1, not {sum(shares)}")

    def shares(self) -> tuple[float, ...]:
        return tuple(getattr(self, name) for name in DRAW_ORDER)


@dataclass(frozen=True, slots=True)
class Absence:
    """`share` of a skill queue's agents (rounded to the nearest whole agent; the highest-numbered ones)
    leave `start_s` seconds after the simulator starts, for `duration_s`. An agent in a call leaves when
    its call and wrap-up are over; one still busy at the end of the absence does not leave at all."""

    skill_id: int
    share: float
    start_s: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    seed: int = 0
    mix: OutcomeMix = field(default_factory=OutcomeMix)
    # Optional drift: the shares move linearly from `mix` to `mix_end` over `drift_s` after the start.
    mix_end: OutcomeMix | None = None
    drift_s: float = 0.0
    answer_mean_s: float = 10.0  # time to answer (or reject), lognormal
    answer_sd_s: float = 5.0
    talk_mean_s: float = 120.0  # a person with an agent, lognormal
    talk_cv: float = 1.0
    ivr_talk_mean_s: float | None = None  # a person with an IVR; None: as with an agent
    ivr_talk_cv: float | None = None
    wrapup_s: float = 15.0
    early_fail_min_s: float = 1.0  # busy, vacant, powered off, out of area: refused after uniform(min, max)
    early_fail_max_s: float = 4.0
    # Seconds from the answer (the 200 OK) to the person / machine / fax decision, what a real adapter's
    # answering-machine detection takes (docs/telephony.md). Who answered is known, and a person is queued
    # for an agent (the abandonment clock starts), only then. 0: decided at the answer.
    detect_delay_s: float = DEFAULT_DETECT_DELAY_S
    detect_s: float = 3.0  # answer to outdial's hang-up on a machine / fax (at least detect_delay_s)
    abandon_after_s: float = 2.0  # a person waits this long for an agent, then the call is abandoned
    queues: Mapping[int, int] = field(default_factory=lambda: {1: 20})  # skill queue id -> agents
    # Agents of a skill queue not listed in `queues`, created when the queue is first used (under `serve`,
    # where skill queues are added through the API at any time). None: an unlisted queue has no agents.
    default_agents: int | None = None
    absences: tuple[Absence, ...] = ()
    max_lines: int | None = None  # calls at once; beyond it a call is refused with 34606
    record_path: str | None = None  # e.g. "/records/{campaign_id}/{call_id}.wav" for connected calls

    def __post_init__(self) -> None:
        if self.early_fail_min_s > self.early_fail_max_s:
            raise ValueError("early_fail_min_s must not exceed early_fail_max_s")
        if self.mix_end is not None and self.drift_s <= 0:
            raise ValueError("a drifting mix needs drift_s > 0")
        for name in ("answer_mean_s", "talk_mean_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.detect_delay_s < 0:
            raise ValueError("detect_delay_s must not be negative")
        if any(n < 0 for n in self.queues.values()):
            raise ValueError("a queue cannot have a negative number of agents")

    @classmethod
    def pacing_bench(
        cls,
        *,
        agents: int = 20,
        skill_id: int = 1,
        seed: int = 0,
        person: float = 0.25,
        talk_mean_s: float = 120.0,
        talk_cv: float = 1.0,
        leave_share: float = 0.0,
        leave_at_s: float = 4 * 3600,
        leave_for_s: float = 3600,
        **overrides: Any,
    ) -> SimulatorConfig:
        """The PacingBench baseline (docs/telephony.md): person 0.25, machine 0.15, no answer 0.40, busy or
        invalid 0.20 (busy 0.10, vacant 0.10); answer lognormal 10 s / sd 5 s; talk lognormal 120 s, CV 1;
        wrap-up 15 s; abandoned after 2 s. Variants: `person` (the no-answer share absorbs the difference),
        talk time, and `leave_share` of the agents leaving at `leave_at_s` for `leave_for_s`."""
        no_answer = 0.40 + (0.25 - person)
        mix = OutcomeMix(person=person, machine=0.15, no_answer=no_answer, busy=0.10, vacant=0.10)
        absences = (Absence(skill_id, leave_share, leave_at_s, leave_for_s),) if leave_share > 0 else ()
        return cls(
            **{
                "seed": seed,
                "mix": mix,
                "talk_mean_s": talk_mean_s,
                "talk_cv": talk_cv,
                "queues": {skill_id: agents},
                "absences": absences,
                **overrides,
            }
        )


@dataclass(slots=True)
class SimulatorStats:
    """Totals since the start, for benchmarks (pacing judges itself from the events, not from these)."""

    placed: int = 0
    ended: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    person_answered: int = 0
    agent_talk_ms: int = 0  # summed over agents (not IVR)
    peak_lines: int = 0


# --- internals ------------------------------------------------------------------------------------------

# DECIDING: answered, who answered not known yet (detect_delay_s); DETECTING: a machine or fax, decided,
# until outdial hangs up (detect_s after the answer).
_PHASE_RINGING, _PHASE_DECIDING, _PHASE_DETECTING, _PHASE_WAITING, _PHASE_TALKING, _PHASE_ENDED = range(6)
# Timer actions. At one instant agent timers (priority 0) go before call timers (priority 1): an agent
# freed exactly abandon_after_s after the answer still takes the call ("within 2 s" includes 2.000 s).
_A_FREE, _A_LEAVE, _A_RETURN, _A_ANSWER, _A_FAIL, _A_ABANDON, _A_END, _A_DECIDE = range(8)
_U32 = 1.0 / 4294967296.0
_DRAWS = Struct("<8I")
_TWO_PI = 2.0 * math.pi


class _Agent:
    __slots__ = ("agent_id", "queue", "state", "since_ms", "call", "leave_pending", "token")

    def __init__(self, agent_id: str, queue: _Queue, now: int) -> None:
        self.agent_id = agent_id
        self.queue = queue
        self.state: AgentState = IDLE
        self.since_ms = now
        self.call: _Call | None = None
        self.leave_pending = False
        self.token = 0


class _Queue:
    __slots__ = ("skill_id", "agents", "idle", "counts", "waiting", "waiting_count")

    def __init__(self, skill_id: int) -> None:
        self.skill_id = skill_id
        self.agents: list[_Agent] = []
        self.idle: dict[_Agent, None] = {}  # insertion order = longest idle first
        self.counts: dict[str, int] = {IDLE: 0, RESERVED: 0, TALKING: 0, WRAPUP: 0, OFFLINE: 0}
        self.waiting: deque[_Call] = deque()  # may hold calls no longer waiting; skipped when popped
        self.waiting_count = 0


class _Call:
    __slots__ = (
        "req",
        "placed_ms",
        "phase",
        "token",
        "fate",
        "answered_by",
        "answer_ms",
        "decided_ms",
        "connect_ms",
        "talk_ms",
        "agent",
        "queue",
    )

    def __init__(self, req: CallRequest, placed_ms: int) -> None:
        self.req = req
        self.placed_ms = placed_ms
        self.phase = _PHASE_RINGING
        self.token = 0
        self.fate = ""  # the failing outcome for _A_FAIL
        self.answered_by: AnsweredBy | None = None
        self.answer_ms: int | None = None  # the 200 OK
        self.decided_ms = 0  # who answered became known (answer_ms + detect_delay_s)
        self.connect_ms = 0
        self.talk_ms = 0
        self.agent: _Agent | None = None
        self.queue: _Queue | None = None


def _lognormal_params(mean: float, sd: float) -> tuple[float, float]:
    sigma2 = math.log(1.0 + (sd / mean) ** 2)
    return math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)


def _lognormal_ms(mu: float, sigma: float, u1: float, u2: float) -> int:
    """Box-Muller from two uniforms in (0, 1): one lognormal draw, in whole milliseconds."""
    if sigma == 0.0:
        return round(math.exp(mu) * 1000)
    z = math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)
    return round(math.exp(mu + sigma * z) * 1000)


class Simulator:
    """TelephonyPort over a simulated world. Not thread-safe: one runner drives it."""

    def __init__(self, config: SimulatorConfig, clock: Clock, *, start_ms: int | None = None) -> None:
        self.config = config
        self.clock = clock
        self.start_ms = clock.now_ms() if start_ms is None else start_ms
        self.stats = SimulatorStats()
        self._key = hashlib.blake2b(str(config.seed).encode(), digest_size=32).digest()
        self._heap: list[tuple[int, int, int, int, Any, int]] = []
        self._seq = 0
        self._outbox: list[CallEvent] = []
        self._calls: dict[str, _Call] = {}
        self._attempts: dict[str, int] = {}
        self._agents: dict[str, _Agent] = {}
        self._queues: dict[int, _Queue] = {}
        self._notify: Callable[[], None] | None = None
        c = config
        self._answer = _lognormal_params(c.answer_mean_s, c.answer_sd_s)
        self._talk = _lognormal_params(c.talk_mean_s, c.talk_mean_s * c.talk_cv)
        ivr_mean = c.ivr_talk_mean_s if c.ivr_talk_mean_s is not None else c.talk_mean_s
        ivr_cv = c.ivr_talk_cv if c.ivr_talk_cv is not None else c.talk_cv
        self._ivr_talk = _lognormal_params(ivr_mean, ivr_mean * ivr_cv)
        self._cumulative = _cumulative(c.mix.shares())
        self._early_min_ms = round(c.early_fail_min_s * 1000)
        self._early_span_ms = round(c.early_fail_max_s * 1000) - self._early_min_ms
        self._decide_ms = round(c.detect_delay_s * 1000)
        self._detect_ms = max(round(c.detect_s * 1000), self._decide_ms)
        self._abandon_ms = round(c.abandon_after_s * 1000)
        self._wrapup_ms = round(c.wrapup_s * 1000)
        for skill_id, count in c.queues.items():
            self._add_queue(skill_id, count, self.start_ms)
        for absence in c.absences:
            absent_from = self._queues.get(absence.skill_id)
            if absent_from is None:
                continue
            leaving = round(absence.share * len(absent_from.agents))
            at = self.start_ms + round(absence.start_s * 1000)
            back = at + round(absence.duration_s * 1000)
            for agent in absent_from.agents[len(absent_from.agents) - leaving :]:
                self._push(at, 0, _A_LEAVE, agent, 0)
                self._push(back, 0, _A_RETURN, agent, 0)

    def _add_queue(self, skill_id: int, count: int, now: int) -> _Queue:
        queue = self._queues[skill_id] = _Queue(skill_id)
        for n in range(1, count + 1):
            agent = _Agent(f"{skill_id}-{n}", queue, now)
            queue.agents.append(agent)
            self._agents[agent.agent_id] = agent
            queue.idle[agent] = None
            queue.counts[IDLE] += 1
        return queue

    def _queue(self, skill_id: int) -> _Queue | None:
        queue = self._queues.get(skill_id)
        if queue is None and self.config.default_agents is not None:
            queue = self._add_queue(skill_id, self.config.default_agents, self.clock.now_ms())
        return queue

    # --- the port ---------------------------------------------------------------------------------------

    def place_call(self, request: CallRequest) -> None:
        if (request.skill_id is None) == (request.ivr_flow is None):
            raise ValueError("a call routes to exactly one of skill_id and ivr_flow")
        now = self.clock.now_ms()
        self._advance(now)
        if request.call_id in self._calls:
            raise ValueError(f"call {request.call_id} is already in progress")
        call = _Call(request, now)
        if request.agent_id is not None:
            agent = self._agents.get(request.agent_id)
            if agent is None or agent.state != RESERVED or agent.call is not None:
                raise ValueError(f"agent {request.agent_id} is not reserved for a call")
            agent.call = call
            call.agent = agent
        stats = self.stats
        stats.placed += 1
        self._calls[request.call_id] = call
        if self.config.max_lines is not None and len(self._calls) > self.config.max_lines:
            # refused before reaching the network: no attempt number is used up (keeps outcomes aligned)
            self._fail(call, oc.LINE_LIMIT, now)
            return
        if len(self._calls) > stats.peak_lines:
            stats.peak_lines = len(self._calls)
        attempt = request.attempt
        if attempt is None:
            attempt = self._attempts.get(request.called, 0) + 1
            self._attempts[request.called] = attempt
        u = self._draws(request.called, attempt)
        what = self._pick(u[0] * _U32, now)
        timeout_ms = request.max_alerting_s * 1000
        early = _EARLY.get(what)
        if early is not None:
            call.fate = early
            self._push(now + self._early_min_ms + int(u[5] * _U32 * self._early_span_ms), 1, _A_FAIL, call, 0)
            return
        self._emit(CallEvent(request.call_id, RINGING, now))
        if what == "no_answer":
            call.fate = oc.NO_ANSWER
            self._push(now + timeout_ms, 1, _A_FAIL, call, 0)
            return
        mu, sigma = self._answer
        answer_ms = _lognormal_ms(mu, sigma, (u[1] + 0.5) * _U32, (u[2] + 0.5) * _U32)
        if answer_ms >= timeout_ms:
            call.fate = oc.NO_ANSWER
            self._push(now + timeout_ms, 1, _A_FAIL, call, 0)
        elif what == "rejected":
            call.fate = oc.REJECTED
            self._push(now + answer_ms, 1, _A_FAIL, call, 0)
        else:
            call.answered_by = what  # type: ignore[assignment]  # person, machine or fax
            if what == "person":
                mu, sigma = self._ivr_talk if request.ivr_flow is not None else self._talk
                call.talk_ms = _lognormal_ms(mu, sigma, (u[3] + 0.5) * _U32, (u[4] + 0.5) * _U32)
            self._push(now + answer_ms, 1, _A_ANSWER, call, 0)

    def hangup(self, call_id: str) -> None:
        now = self.clock.now_ms()
        self._advance(now)
        call = self._calls.get(call_id)
        if call is None:
            return
        phase = call.phase
        if phase == _PHASE_RINGING:
            self._fail(call, oc.CANCELLED, now)
        elif phase == _PHASE_WAITING:
            self._leave_queue(call)
            self._end(call, oc.CANCELLED_QUEUED, now)
        elif phase == _PHASE_DETECTING or (phase == _PHASE_DECIDING and call.answered_by != "person"):
            self._end(call, oc.MACHINE if call.answered_by == "machine" else oc.FAX, now)
        elif phase == _PHASE_DECIDING:  # a person, before outdial knew it: hung up before reaching the queue
            self._end(call, oc.CANCELLED_QUEUED, now)
        elif phase == _PHASE_TALKING:
            self._end_talk(call, now)

    def next_event_at(self) -> int | None:
        if self._outbox:
            return self._outbox[0].at_ms
        heap = self._heap
        while heap and not self._live(heap[0]):
            heapq.heappop(heap)  # a timer of a call already hung up
        return heap[0][0] if heap else None

    def poll_events(self, now_ms: int) -> list[CallEvent]:
        self._advance(now_ms)
        out = self._outbox
        if not out or out[-1].at_ms <= now_ms:
            self._outbox = []
            return out
        due = [e for e in out if e.at_ms <= now_ms]
        self._outbox = [e for e in out if e.at_ms > now_ms]
        return due

    def set_notify(self, notify: Callable[[], None]) -> None:
        self._notify = notify  # never needed: every future event is known to next_event_at

    def agent_counts(self, skill_id: int) -> AgentCounts:
        self._advance(self.clock.now_ms())
        queue = self._queue(skill_id)
        if queue is None:
            return AgentCounts()
        c = queue.counts
        return AgentCounts(c[IDLE], c[RESERVED], c[TALKING], c[WRAPUP], c[OFFLINE], queue.waiting_count)

    def agents(self, skill_id: int) -> list[AgentView]:
        self._advance(self.clock.now_ms())
        queue = self._queue(skill_id)
        if queue is None:
            return []
        return [AgentView(a.agent_id, skill_id, a.state, a.since_ms) for a in queue.agents]

    def reserve_agent(self, skill_id: int) -> str | None:
        now = self.clock.now_ms()
        self._advance(now)
        queue = self._queue(skill_id)
        if queue is None or not queue.idle:
            return None
        agent = next(iter(queue.idle))
        self._set_state(agent, RESERVED, now)
        return agent.agent_id

    def release_agent(self, agent_id: str) -> None:
        now = self.clock.now_ms()
        self._advance(now)
        agent = self._agents.get(agent_id)
        if agent is not None and agent.state == RESERVED and agent.call is None:
            self._make_available(agent, now)

    # --- extras of the simulator (not part of the port) ---------------------------------------------------

    def lines_in_use(self) -> int:
        return len(self._calls)

    def run_until(self, until_ms: int, on_events: Callable[[list[CallEvent]], Any] | None = None) -> None:
        """Advance with nothing else driving (tests, benchmarks). Needs a clock it can set (VirtualClock)."""
        set_clock = self.clock.set  # type: ignore[attr-defined]
        while True:
            at = self.next_event_at()
            if at is None or at > until_ms:
                break
            set_clock(max(at, self.clock.now_ms()))
            events = self.poll_events(self.clock.now_ms())
            if on_events is not None:
                on_events(events)
        if self.clock.now_ms() < until_ms:
            set_clock(until_ms)

    # --- the world --------------------------------------------------------------------------------------

    def _draws(self, called: str, attempt: int) -> tuple[int, ...]:
        digest = hashlib.blake2b(f"{called}\x00{attempt}".encode(), digest_size=32, key=self._key).digest()
        return _DRAWS.unpack(digest)

    def _pick(self, u: float, now: int) -> str:
        cumulative = self._cumulative
        c = self.config
        if c.mix_end is not None:
            frac = min(1.0, max(0.0, (now - self.start_ms) / (c.drift_s * 1000)))
            shares = [a + (b - a) * frac for a, b in zip(c.mix.shares(), c.mix_end.shares(), strict=True)]
            cumulative = _cumulative(shares)
        for name, edge in zip(DRAW_ORDER, cumulative, strict=True):
            if u < edge:
                return name
        return _last_nonzero(cumulative)

    def _push(self, at: int, priority: int, action: int, obj: Any, token: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, priority, self._seq, action, obj, token))

    @staticmethod
    def _live(entry: tuple[int, int, int, int, Any, int]) -> bool:
        action, obj, token = entry[3], entry[4], entry[5]
        if action >= _A_ANSWER:  # call timers
            return obj.phase != _PHASE_ENDED and obj.token == token
        if action == _A_FREE:
            return obj.token == token
        return True

    def _advance(self, now: int) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _, _, action, obj, token = heapq.heappop(heap)
            if action >= _A_ANSWER:
                if obj.phase == _PHASE_ENDED or obj.token != token:
                    continue
                if action == _A_ANSWER:
                    self._answered(obj, at)
                elif action == _A_DECIDE:
                    self._decided(obj, at)
                elif action == _A_FAIL:
                    self._fail(obj, obj.fate, at)
                elif action == _A_ABANDON:
                    self._leave_queue(obj)
                    self._end(obj, oc.ABANDONED, at)
                elif obj.phase == _PHASE_TALKING:
                    self._end_talk(obj, at)
                else:  # detection over: outdial hangs up on the machine or fax
                    self._end(obj, oc.MACHINE if obj.answered_by == "machine" else oc.FAX, at)
            elif action == _A_FREE:
                if obj.token == token:
                    self._make_available(obj, at)
            elif action == _A_LEAVE:
                if obj.state == IDLE:
                    self._set_state(obj, OFFLINE, at)
                else:
                    obj.leave_pending = True
            elif obj.state == OFFLINE:  # _A_RETURN
                self._make_available(obj, at)
            else:
                obj.leave_pending = False

    def _answered(self, call: _Call, now: int) -> None:
        """The 200 OK: detection starts; who answered is known detect_delay_s later."""
        call.answer_ms = now
        if self._decide_ms == 0:
            self._decided(call, now)
            return
        call.phase = _PHASE_DECIDING
        call.token += 1
        self._push(now + self._decide_ms, 1, _A_DECIDE, call, call.token)

    def _decided(self, call: _Call, now: int) -> None:
        """Who answered is known: `answered` is sent now; a person is queued, a machine or fax hung up on
        detect_s after the answer."""
        answer_ms: int = call.answer_ms  # type: ignore[assignment]  # set by _answered
        call.decided_ms = now
        req = call.req
        by = call.answered_by
        self._emit(
            CallEvent(
                req.call_id,
                ANSWERED,
                now,
                answered=True,
                answered_by=by,
                answer_at_ms=answer_ms,
                ring_ms=answer_ms - call.placed_ms,
            )
        )
        if by != "person":
            call.phase = _PHASE_DETECTING
            call.token += 1
            self._push(answer_ms + self._detect_ms, 1, _A_END, call, call.token)
            return
        self.stats.person_answered += 1
        if req.ivr_flow is not None:
            self._connect(call, None, now)
            return
        agent = call.agent
        if agent is not None:  # previewed / preempted: the reserved agent takes it
            self._connect(call, agent, now)
            return
        skill_id: int = req.skill_id  # type: ignore[assignment]  # place_call checked the route
        queue = self._queue(skill_id)
        if queue is None:  # a queue the simulator has no agents for: every person waits in vain
            queue = self._queues[skill_id] = _Queue(skill_id)
        call.queue = queue
        if queue.idle:
            self._connect(call, next(iter(queue.idle)), now)
            return
        call.phase = _PHASE_WAITING
        call.token += 1
        queue.waiting.append(call)
        queue.waiting_count += 1
        self._push(now + self._abandon_ms, 1, _A_ABANDON, call, call.token)

    def _connect(self, call: _Call, agent: _Agent | None, now: int) -> None:
        call.phase = _PHASE_TALKING
        call.token += 1
        call.connect_ms = now
        req = call.req
        if agent is not None:
            agent.call = call
            call.agent = agent
            self._set_state(agent, TALKING, now)
        self._emit(
            CallEvent(
                req.call_id,
                CONNECTED,
                now,
                answered=True,
                answered_by="person",
                agent_id=agent.agent_id if agent is not None else None,
                ivr_flow=req.ivr_flow,
                answer_at_ms=call.answer_ms,
                wait_ms=now - call.decided_ms,
            )
        )
        self._push(now + call.talk_ms, 1, _A_END, call, call.token)

    def _leave_queue(self, call: _Call) -> None:
        call.queue.waiting_count -= 1  # type: ignore[union-attr]  # the call stays in the deque, skipped later

    def _end_talk(self, call: _Call, now: int) -> None:
        agent = call.agent
        talk = now - call.connect_ms
        path = self.config.record_path
        record_path = (
            path.format(call_id=call.req.call_id, campaign_id=call.req.campaign_id) if path else None
        )
        self._end(call, oc.CONNECTED, now, talk_ms=talk, record_path=record_path)
        if agent is not None:
            self.stats.agent_talk_ms += talk
            agent.call = None
            self._set_state(agent, WRAPUP, now)
            agent.token += 1
            self._push(now + self._wrapup_ms, 0, _A_FREE, agent, agent.token)

    def _fail(self, call: _Call, outcome: str, now: int) -> None:
        result_type, fail_code = oc.OUTCOME_CODES[outcome]
        self._emit(
            CallEvent(
                call.req.call_id,
                FAILED,
                now,
                outcome=outcome,
                result_type=result_type,
                fail_code=fail_code,
                ring_ms=now - call.placed_ms,
            )
        )
        self._end(call, outcome, now)

    def _end(
        self, call: _Call, outcome: str, now: int, *, talk_ms: int = 0, record_path: str | None = None
    ) -> None:
        result_type, fail_code = oc.OUTCOME_CODES[outcome]
        req = call.req
        answer_ms = call.answer_ms
        connected = outcome == oc.CONNECTED
        agent = call.agent
        if answer_ms is None:
            ring_ms, wait_ms = now - call.placed_ms, 0
        else:
            ring_ms = answer_ms - call.placed_ms
            waited = call.answered_by == "person" and call.phase != _PHASE_DECIDING
            wait_ms = (call.connect_ms if connected else now) - call.decided_ms if waited else 0
        self._emit(
            CallEvent(
                req.call_id,
                ENDED,
                now,
                outcome=outcome,
                result_type=result_type,
                fail_code=fail_code,
                answered=answer_ms is not None,
                answered_by=call.answered_by,
                abandoned=outcome == oc.ABANDONED,
                agent_id=agent.agent_id if agent is not None and connected else None,
                ivr_flow=req.ivr_flow if connected else None,
                answer_at_ms=answer_ms,
                ring_ms=ring_ms,
                wait_ms=wait_ms,
                talk_ms=talk_ms,
                record_path=record_path,
            )
        )
        call.phase = _PHASE_ENDED
        del self._calls[req.call_id]
        stats = self.stats
        stats.ended += 1
        stats.by_outcome[outcome] = stats.by_outcome.get(outcome, 0) + 1
        if agent is not None and not connected and agent.call is call:
            agent.call = None  # a reserved agent whose call never reached it is free again at once
            self._make_available(agent, now)

    # --- agents -----------------------------------------------------------------------------------------

    def _set_state(self, agent: _Agent, state: AgentState, now: int) -> None:
        queue = agent.queue
        old = agent.state
        if old == IDLE:
            del queue.idle[agent]
        queue.counts[old] -= 1
        queue.counts[state] += 1
        agent.state = state
        agent.since_ms = now
        if state == IDLE:
            queue.idle[agent] = None

    def _make_available(self, agent: _Agent, now: int) -> None:
        """The agent is free: it leaves if an absence is pending, else takes the longest-waiting call."""
        if agent.leave_pending:
            agent.leave_pending = False
            self._set_state(agent, OFFLINE, now)
            return
        queue = agent.queue
        waiting = queue.waiting
        while waiting:
            call = waiting.popleft()
            if call.phase == _PHASE_WAITING:
                queue.waiting_count -= 1
                self._connect(call, agent, now)
                return
        self._set_state(agent, IDLE, now)

    def _emit(self, event: CallEvent) -> None:
        self._outbox.append(event)


def _cumulative(shares: Iterable[float]) -> list[float]:
    total, out = 0.0, []
    for share in shares:
        total += share
        out.append(total)
    return out


def _last_nonzero(cumulative: list[float]) -> str:
    """u fell in the rounding gap above the last edge (shares summing to 0.99999...): give it to the last
    outcome that has a share."""
    previous = [0.0, *cumulative[:-1]]
    for name, edge, before in reversed(list(zip(DRAW_ORDER, cumulative, previous, strict=True))):
        if edge > before:
            return name
    return DRAW_ORDER[0]
