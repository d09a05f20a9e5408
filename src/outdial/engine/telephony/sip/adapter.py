"""SipTelephony: the telephony port over a SIP trunk, on baresip-python.

Threads: the runner calls the port from its own thread; baresip's runtime lives on one thread of its own
running an asyncio loop (`SipRuntime`, one per process, supervised). What the network reports is turned
into `CallEvent`s on that loop, appended to a buffer under one lock, and the runner is woken by `notify`.
The runner's calls (`place_call`, `hangup`) take the same lock to decide, then hand the SIP work to the loop.

Events of a call are routed by its baresip call handle from one subscription to the runtime's event
stream; events for a handle not claimed yet (they can arrive before `dial()` returns) are buffered and
replayed when it is claimed.

The flow of a call: INVITE -> ringing -> 200 OK -> detection (person / machine / fax, or "person" at once
when AMD is off) -> a person is bridged to an agent phone (skill queue) or to the IVR flow's URI, outdial
relaying the audio both ways, until either side hangs up. With OUTDIAL_SIP_TRANSFER=refer the person is
instead handed to the agent phone (or IVR URI) by a blind transfer (REFER), and the call ends there as
connected; a refused REFER falls back to the bridge for that call. docs/telephony.md ("The SIP adapter").
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baresip import Account, BaresipError, Config, Event, Runtime, StackEvent, UserAgent

from outdial.clock import Clock
from outdial.engine.telephony import outcomes as oc
from outdial.engine.telephony.agentpool import AgentLogin, AgentPool
from outdial.engine.telephony.port import (
    ANSWERED,
    CONNECTED,
    ENDED,
    FAILED,
    RINGING,
    AgentCounts,
    AgentView,
    AnsweredBy,
    CallEvent,
    CallRequest,
)
from outdial.engine.telephony.sip import amd, media
from outdial.engine.telephony.sip.outcomes import EndedBy, failure_outcome, parse_close
from outdial.engine.telephony.sip.settings import SipSettings

log = logging.getLogger("outdial.sip")

_EARLY_HANDLES = 4096  # events of handles not claimed yet, kept for this many handles (oldest dropped)
_CLOSE_GUARD_S = 10.0  # a leg outdial hung up that never reports CLOSED is ended anyway after this
_TRANSPORT_FAILURES_DOWN = 3  # consecutive calls the network never answered: the trunk is down
_DOWN_PAUSE_S = 10.0  # a trunk without registration is tried again after this
_REREGISTER_S = 5.0
_WAIT_TICK_S = 0.05  # how often persons waiting for an agent look for one
_REFER_GRACE_S = 5.0  # a REFER's outcome is awaited the agent's answer time plus this
_TRANSFERRED = "Call transfered"  # baresip's CLOSED text for a completed transfer (its spelling)


class SipRuntime:
    """The process's one baresip runtime, on its own thread and asyncio loop.

    `shared()` starts it once; every adapter of the process uses it. A runtime whose SIP thread died
    cannot be restarted in the process (baresip's rule): `alive` turns False, the adapters report the
    trunk down and end their calls; restart the process."""

    _shared: SipRuntime | None = None
    _shared_lock = threading.Lock()

    def __init__(self, host: str, port: int, rtp_ports: tuple[int, int]) -> None:
        self.host, self.port, self.rtp_ports = host, port, rtp_ports
        self.loop = asyncio.new_event_loop()
        self.runtime: Runtime | None = None
        self.alive = False
        self._sinks: dict[int, Callable[[StackEvent], None]] = {}
        self._ua_sinks: dict[int, Callable[[StackEvent], None]] = {}
        self._early: OrderedDict[int, list[StackEvent]] = OrderedDict()
        self._on_death: list[Callable[[], None]] = []
        self._thread = threading.Thread(target=self._run, name="outdial-sip", daemon=True)

    @classmethod
    def shared(cls, host: str, port: int, rtp_ports: tuple[int, int]) -> SipRuntime:
        with cls._shared_lock:
            current = cls._shared
            if current is not None and current.alive:
                if (current.host, current.port) != (host, port):
                    raise ValueError(
                        f"OUTDIAL_SIP_LISTEN: this process's SIP runtime listens on {current.host}:"
                        f"{current.port}, not {host}:{port} (one runtime per process)"
                    )
                return current
            runtime = cls(host, port, rtp_ports)
            runtime.start()
            cls._shared = runtime
            return runtime

    @classmethod
    def running(cls) -> SipRuntime | None:
        """The process's live runtime, if one was started."""
        current = cls._shared
        return current if current is not None and current.alive else None

    def start(self) -> None:
        self._thread.start()
        self.submit(self._start()).result(15)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def _start(self) -> None:
        low, high = self.rtp_ports
        runtime = Runtime(command_timeout=15.0)  # a loaded machine must not turn a slow command into a failure
        await runtime.start(
            Config(
                net_interface=self.host,
                max_concurrent_calls=None,  # outdial's own line limit applies
                expose_headers=("Reason",),
                extra_config_text=f"sip_listen {self.host}:{self.port}\nrtp_ports {low}-{high}\n",
            )
        )
        runtime.on_dead = self._died
        runtime.subscribe(self._route)
        self.runtime = runtime
        self.alive = True
        log.info("SIP runtime listening on %s:%s", self.host, self.port)

    def _died(self) -> None:
        self.alive = False
        log.critical("SIP runtime died: the trunk is down for this process until it restarts")
        for callback in list(self._on_death):
            callback()

    def on_death(self, callback: Callable[[], None]) -> None:
        self._on_death.append(callback)

    # --- routing the event stream by handle (loop thread) ------------------------------------------------

    def _route(self, event: StackEvent) -> None:
        if event.call:
            sink = self._sinks.get(event.call)
            if sink is None:
                early = self._early.get(event.call)
                if early is None:
                    early = self._early[event.call] = []
                    while len(self._early) > _EARLY_HANDLES:
                        self._early.popitem(last=False)
                early.append(event)
                return
            if event.event is Event.CALL_CLOSED:
                del self._sinks[event.call]
            sink(event)
        elif event.ua:
            ua_sink = self._ua_sinks.get(event.ua)
            if ua_sink is not None:
                ua_sink(event)

    def claim(self, handle: int, sink: Callable[[StackEvent], None]) -> None:
        """Route the call's events to `sink` from now on, after the ones that came before (loop thread)."""
        self._sinks[handle] = sink
        for event in self._early.pop(handle, ()):
            if handle in self._sinks:
                if event.event is Event.CALL_CLOSED:
                    del self._sinks[handle]
                sink(event)

    def claim_ua(self, handle: int, sink: Callable[[StackEvent], None]) -> None:
        self._ua_sinks[handle] = sink

    # --- from any thread ---------------------------------------------------------------------------------

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def close(self) -> None:
        """Stop the runtime and its loop (tests; a process normally keeps it until exit)."""
        if self.runtime is not None and self.alive:
            with contextlib.suppress(Exception):
                self.submit(self.runtime.close()).result(10)
        self.alive = False
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        with SipRuntime._shared_lock:
            if SipRuntime._shared is self:
                SipRuntime._shared = None


# --- one customer call ----------------------------------------------------------------------------------

_DIALING, _RINGING, _DETECTING, _WAITING, _CONNECTING, _TRANSFERRING, _TALKING, _ENDED = range(8)


@dataclass(eq=False)
class _Call:
    req: CallRequest
    placed_ms: int
    phase: int = _DIALING
    leg: Any = None  # baresip Call of the customer
    responded: bool = False  # any response from the far end (100, 180, 183...)
    rang: bool = False
    ended_by: EndedBy = "network"
    hanging_up: bool = False  # outdial sent CANCEL / BYE on the customer leg
    answer_ms: int | None = None
    answered_by: AnsweredBy | None = None
    decided_ms: int | None = None
    connect_ms: int | None = None
    agent_id: str | None = None  # the agent connected (or reserved for a previewed call)
    agent_leg: Any = None
    ivr_flow: str | None = None
    outcome_after_close: str | None = None  # what outdial decided before hanging up (machine, abandoned...)
    last_at: int = 0
    deadline_ms: int | None = None  # the adapter's next timer for this call (next_event_at)
    stop: asyncio.Event | None = None  # ends the relay
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    record_path: str | None = None
    transferred: bool = False  # handed to the agent / IVR by a REFER: outdial no longer sees the call


@dataclass
class TrunkHealth:
    registered: bool | None  # None: the trunk is not registered to (no username)
    up: bool
    calls_in_progress: int
    lines_free: int
    reason: str = ""


class SipTelephony:
    """TelephonyPort over SIP. `pool`: the real agents (None: no agent is ever logged in)."""

    def __init__(
        self,
        settings: SipSettings,
        clock: Clock,
        *,
        pool: AgentPool | None = None,
        runtime: SipRuntime | None = None,
        record_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.pool = pool if pool is not None else AgentPool(wrapup_ms=round(settings.wrapup_s * 1000))
        self.record_dir = record_dir
        self._runtime = runtime
        self._ua: UserAgent | None = None
        self._local_ua: UserAgent | None = None
        self._lock = threading.RLock()
        self._outbox: list[CallEvent] = []
        self._calls: dict[str, _Call] = {}
        self._waiting: dict[int, deque[_Call]] = {}
        self._notify: Callable[[], None] | None = None
        self._registered: bool | None = None if not settings.username else False
        self._transport_failures = 0
        self._down_until_ms = 0
        self._down_reason = ""
        self._logged_down = False
        self._started = False
        self._refer_refusal_logged = False
        # what the relay of each recent bridged call moved (tests, benchmarks): call id -> RelayStats
        self.relay_stats: OrderedDict[str, Any] = OrderedDict()

    # --- life cycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start (or join) the process's SIP runtime and create the trunk's user agent; register when a
        username is set (a failed registration leaves the trunk down and retries every few seconds)."""
        s = self.settings
        if self._runtime is None:
            self._runtime = SipRuntime.shared(s.listen_host, s.listen_port, s.rtp_ports)
        self._runtime.on_death(self._runtime_died)
        self._runtime.submit(self._create_ua()).result(30)
        self._started = True

    async def _create_ua(self) -> None:
        s = self.settings
        runtime = self._rt()
        account = Account(
            user=s.username or "outdial",
            domain=s.domain,
            password=s.password,
            registrar=s.trunk,
            reg_interval=s.register_interval_s if s.username else 0,
        )
        self._ua = await UserAgent.create(runtime.runtime, account)  # type: ignore[arg-type]
        runtime.claim_ua(self._ua.handle, self._on_ua_event)
        # agent phones and IVR flows are dialed directly (they are outdial's own endpoints, not the
        # carrier's): a second identity without the trunk's outbound proxy
        local = Account(user="outdial", domain=s.listen_host, password="", reg_interval=0)
        self._local_ua = await UserAgent.create(runtime.runtime, local)  # type: ignore[arg-type]
        if s.username:
            await self._register()

    async def _register(self) -> None:
        assert self._ua is not None
        try:
            await self._ua.register(timeout=5)
        except BaresipError as exc:
            self._set_registered(False, f"registration to {self.settings.trunk} failed: {exc}")
            self._rt().loop.call_later(_REREGISTER_S, self._reregister)
        else:
            self._set_registered(True, "")

    def _reregister(self) -> None:
        if self._registered is False and self._rt().alive:
            self._rt().loop.create_task(self._register())

    def _on_ua_event(self, event: StackEvent) -> None:
        if event.event is Event.REGISTER_OK:
            self._set_registered(True, "")
        elif event.event is Event.REGISTER_FAIL:
            if self._registered:  # a refresh failed: try again until it works
                self._rt().loop.call_later(_REREGISTER_S, self._reregister)
            self._set_registered(False, f"registration to {self.settings.trunk} failed: {event.text}")

    def _set_registered(self, registered: bool, reason: str) -> None:
        with self._lock:
            self._registered = registered
            self._down_reason = reason
        self._log_health()
        self._wake()

    def close(self) -> None:
        """Hang up every call (their `ended` events follow) and drop the user agent."""
        with self._lock:
            ids = list(self._calls)
        for call_id in ids:
            self.hangup(call_id)

    def _rt(self) -> SipRuntime:
        assert self._runtime is not None, "SipTelephony.start() was not called"
        return self._runtime

    # --- health --------------------------------------------------------------------------------------------

    def health(self) -> TrunkHealth:
        with self._lock:
            up, reason = self._up(self.clock.now_ms())
            in_progress = len(self._calls)
            free = max(0, self.settings.max_lines - in_progress) if up else 0
            return TrunkHealth(self._registered, up, in_progress, free, reason)

    def lines_free(self) -> int:
        """Calls that can be placed now: 0 while the trunk is down (the runner then dials nothing)."""
        return self.health().lines_free

    def _up(self, now: int) -> tuple[bool, str]:
        if self._runtime is not None and not self._runtime.alive and self._started:
            return False, "the SIP runtime died (restart the process)"
        if self._registered is False:
            return False, self._down_reason or "not registered to the trunk"
        if now < self._down_until_ms:
            return False, self._down_reason
        return True, ""

    def _log_health(self) -> None:
        with self._lock:
            up, reason = self._up(self.clock.now_ms())
            if up == (not self._logged_down):
                return
            self._logged_down = not up
        if up:
            log.warning("SIP trunk is back: dialing resumes")
        else:
            log.warning("SIP trunk is down (%s): dialing paused, no attempt is used up", reason)

    def _runtime_died(self) -> None:
        self._log_health()
        with self._lock:
            calls = [c for c in self._calls.values() if c.phase != _ENDED]
        for call in calls:
            self._end(call, oc.CONNECTED if call.phase == _TALKING else oc.NETWORK_FAILURE)

    # --- the port -------------------------------------------------------------------------------------------

    def place_call(self, request: CallRequest) -> None:
        if (request.skill_id is None) == (request.ivr_flow is None):
            raise ValueError("a call routes to exactly one of skill_id and ivr_flow")
        now = self.clock.now_ms()
        with self._lock:
            if request.call_id in self._calls:
                raise ValueError(f"call {request.call_id} is already in progress")
            call = _Call(request, now, last_at=now)
            if request.agent_id is not None:
                views = {v.agent_id: v.state for v in self.pool.views(request.skill_id or 0)}
                if views.get(request.agent_id) != "reserved":
                    raise ValueError(f"agent {request.agent_id} is not reserved for a call")
                call.agent_id = request.agent_id
            self._calls[request.call_id] = call
            up, reason = self._up(now)
            if not up or len(self._calls) > self.settings.max_lines:
                if not up:
                    log.warning("call %s refused: the SIP trunk is down (%s)", request.call_id, reason)
                self._fail(call, oc.LINE_LIMIT, now)
                return
            call.deadline_ms = now + request.max_alerting_s * 1000
        self._rt().call_soon(self._dial_soon, call)

    def hangup(self, call_id: str) -> None:
        with self._lock:
            call = self._calls.get(call_id)
            if call is None or call.phase == _ENDED or call.hanging_up:
                return
            if call.phase in (_DIALING, _RINGING):
                call.ended_by = "runner"
            elif call.phase in (_WAITING, _CONNECTING, _TRANSFERRING):
                call.outcome_after_close = oc.CANCELLED_QUEUED
            elif call.phase == _DETECTING:
                call.outcome_after_close = (
                    oc.MACHINE
                    if call.answered_by == "machine"
                    else (oc.FAX if call.answered_by == "fax" else oc.CANCELLED_QUEUED)
                )
        self._rt().submit(self._hangup_customer(call))

    def next_event_at(self) -> int | None:
        now = self.clock.now_ms()
        with self._lock:
            # timers still ahead only: one that passed fires on the SIP loop, whose events call `notify`
            times = [
                c.deadline_ms
                for c in self._calls.values()
                if c.deadline_ms is not None and c.deadline_ms > now
            ]
            if self._outbox:
                times.append(self._outbox[0].at_ms)
            change = self.pool.next_change_at()
            if change is not None:
                times.append(change)
            return min(times) if times else None

    def poll_events(self, now_ms: int) -> list[CallEvent]:
        with self._lock:
            self.pool.advance(now_ms)
            out = self._outbox
            if not out:
                return []
            out.sort(key=_at)  # stable: a call's own events keep their order
            cut = bisect.bisect_right(out, now_ms, key=_at)
            self._outbox = out[cut:]
            return out[:cut]

    def set_notify(self, notify: Callable[[], None]) -> None:
        self._notify = notify

    def agent_counts(self, skill_id: int) -> AgentCounts:
        with self._lock:
            self.pool.advance(self.clock.now_ms())
            waiting = sum(1 for c in self._waiting.get(skill_id, ()) if c.phase in (_WAITING, _CONNECTING, _TRANSFERRING))
            return self.pool.counts(skill_id, waiting)

    def agents(self, skill_id: int) -> list[AgentView]:
        with self._lock:
            self.pool.advance(self.clock.now_ms())
            return self.pool.views(skill_id)

    def sync_agents(self, logins: Iterable[AgentLogin]) -> list[tuple[str, str]]:
        """The agents table's truth (logins, ready, wrap-up done) in; the agents outdial set not ready
        (a phone that did not answer) out, for the caller to store."""
        with self._lock:
            now = self.clock.now_ms()
            self.pool.sync(logins, now)
            changes = self.pool.drain_changes()
        self._wake()  # an agent who became ready may let pacing dial
        return changes

    def reserve_agent(self, skill_id: int) -> str | None:
        with self._lock:
            return self.pool.reserve(skill_id, self.clock.now_ms())

    def release_agent(self, agent_id: str) -> None:
        with self._lock:
            if not any(c.agent_id == agent_id for c in self._calls.values()):
                self.pool.release(agent_id, self.clock.now_ms())

    # --- events out ------------------------------------------------------------------------------------------

    def _emit(self, call: _Call, kind: str, *, at: int | None = None, **fields: Any) -> None:
        """Append one event of the call (lock held), at `at` or now; instants never go backwards within a
        call."""
        at = max(self.clock.now_ms() if at is None else at, call.last_at)
        call.last_at = at
        self._outbox.append(CallEvent(call.req.call_id, kind, at, **fields))  # type: ignore[arg-type]

    def _wake(self) -> None:
        notify = self._notify
        if notify is not None:
            notify()

    def _fail(self, call: _Call, outcome: str, now: int | None = None) -> None:
        """A call that was never answered: `failed` then `ended` (lock held)."""
        result_type, fail_code = oc.OUTCOME_CODES[outcome]
        ring_ms = max(self.clock.now_ms(), call.last_at) - call.placed_ms
        self._emit(
            call, FAILED, outcome=outcome, result_type=result_type, fail_code=fail_code, ring_ms=ring_ms
        )
        self._finish(call, outcome)

    def _end(self, call: _Call, outcome: str) -> None:
        with self._lock:
            if call.phase == _ENDED:
                return
            if call.answer_ms is None:
                self._fail(call, outcome)
            else:
                self._finish(call, outcome)
        self._wake()

    def _finish(self, call: _Call, outcome: str) -> None:
        """The call's one `ended` event; frees its line and its agent (lock held)."""
        if call.phase == _ENDED:
            return
        now = max(self.clock.now_ms(), call.last_at)
        result_type, fail_code = oc.OUTCOME_CODES[outcome]
        connected = outcome == oc.CONNECTED
        answer = call.answer_ms
        if answer is None:
            ring_ms, wait_ms = now - call.placed_ms, 0
        else:
            ring_ms = answer - call.placed_ms
            wait_ms = (
                ((call.connect_ms if connected and call.connect_ms else now) - (call.decided_ms or answer))
                if (call.answered_by == "person")
                else 0
            )
        # a transferred call's talk time is unknown (outdial left it at the transfer): 0
        talk_ms = now - call.connect_ms if connected and call.connect_ms is not None else 0
        if call.transferred:
            talk_ms = 0
        self._emit(
            call,
            ENDED,
            outcome=outcome,
            result_type=result_type,
            fail_code=fail_code,
            answered=answer is not None,
            answered_by=call.answered_by,
            abandoned=outcome == oc.ABANDONED,
            agent_id=call.agent_id if connected else None,
            ivr_flow=call.ivr_flow if connected else None,
            answer_at_ms=answer,
            ring_ms=ring_ms,
            wait_ms=wait_ms,
            talk_ms=talk_ms,
            record_path=call.record_path if connected else None,
        )
        previous = call.phase
        call.phase = _ENDED
        call.deadline_ms = None
        del self._calls[call.req.call_id]
        for timer in call.timers:
            timer.cancel()
        if call.stop is not None:
            self._rt().call_soon(call.stop.set)
        agent = call.agent_id
        if agent is not None:
            if call.transferred:
                self.pool.transferred(agent, now, round(self.settings.refer_talk_s * 1000))
            elif previous == _TALKING and call.ivr_flow is None:
                self.pool.call_ended(agent, now)
            elif previous != _TALKING:
                self.pool.release(agent, now)
        if outcome == oc.NETWORK_FAILURE and not call.responded:
            self._transport_failures += 1
            if self._transport_failures >= _TRANSPORT_FAILURES_DOWN and not self.settings.username:
                self._down_until_ms = now + round(_DOWN_PAUSE_S * 1000)
                self._down_reason = f"{self._transport_failures} calls in a row got no response"
                self._rt().loop.call_later(_DOWN_PAUSE_S, self._log_health)
                self._rt().call_soon(self._log_health)
        elif call.responded:
            self._transport_failures = 0

    # --- the customer leg (loop thread) -----------------------------------------------------------------------

    def _dial_soon(self, call: _Call) -> None:
        loop = self._rt().loop
        call.timers.append(loop.call_later(call.req.max_alerting_s, self._ring_timeout, call))
        loop.create_task(self._dial(call))

    async def _dial(self, call: _Call) -> None:
        s = self.settings
        headers = {}
        pai = s.caller_header(call.req.caller)
        if pai:
            headers["P-Asserted-Identity"] = pai
        assert self._ua is not None
        try:
            leg = await self._ua.dial(s.request_uri(call.req.called), headers)
        except (BaresipError, ValueError) as exc:
            log.warning("call %s could not be placed: %s", call.req.call_id, exc)
            self._end(call, oc.CANCELLED if call.ended_by == "runner" else oc.NETWORK_FAILURE)
            return
        with self._lock:
            call.leg = leg
            cancel = call.phase == _ENDED or call.ended_by != "network"
        self._rt().claim(leg.handle, lambda event: self._on_customer_event(call, event))
        # baresip's Call listens to every event of the runtime to keep its own state: with N calls each
        # event would run N listeners. The router above is all a customer leg needs (nothing here reads
        # leg.state or waits on the leg), so the per-call listener goes: measured in bench/sip_calls.py.
        # Except with refer: `leg.transfer` needs the leg's own state (established)
        if self.settings.transfer != "refer":
            with contextlib.suppress(ValueError, AttributeError):
                self._rt().runtime.unsubscribe(leg._on_stack_event)  # type: ignore[union-attr]
        if cancel:
            await self._hangup_customer(call)

    def _ring_timeout(self, call: _Call) -> None:
        with self._lock:
            if call.phase not in (_DIALING, _RINGING) or call.ended_by != "network":
                return
            call.ended_by = "ring_timer"
        self._rt().loop.create_task(self._hangup_customer(call))

    async def _hangup_customer(self, call: _Call) -> None:
        with self._lock:
            if call.phase == _ENDED or call.leg is None or call.hanging_up:
                return
            call.hanging_up = True
            leg = call.leg
        with contextlib.suppress(BaresipError):
            await leg.hangup()
        # a CLOSED that never comes must not leave the call open
        call.timers.append(self._rt().loop.call_later(_CLOSE_GUARD_S, self._close_guard, call))

    def _close_guard(self, call: _Call) -> None:
        if call.phase != _ENDED:
            log.warning("call %s: no CLOSED %s s after hanging up; ended", call.req.call_id, _CLOSE_GUARD_S)
            self._customer_closed(call, None, None)

    def _on_customer_event(self, call: _Call, event: StackEvent) -> None:
        kind = event.event
        if kind in (Event.CALL_RINGING, Event.CALL_PROGRESS):
            with self._lock:
                call.responded = True
                if not call.rang and call.phase in (_DIALING, _RINGING):
                    call.rang = True
                    call.phase = _RINGING
                    self._emit(call, RINGING)
                else:
                    return
            self._wake()
        elif kind is Event.CALL_ESTABLISHED:
            with self._lock:
                if call.phase not in (_DIALING, _RINGING):
                    return
                call.responded = True
                now = self.clock.now_ms()
                call.answer_ms = max(now, call.last_at)
                call.phase = _DETECTING
                call.deadline_ms = None
                if (
                    call.ended_by != "network"
                ):  # answered as outdial cancelled: the hangup that is on its way ends it
                    call.outcome_after_close = oc.CANCELLED if call.ended_by == "runner" else oc.NO_ANSWER
            self._rt().loop.create_task(self._answered(call))
        elif kind is Event.CALL_CLOSED:
            self._customer_closed(call, event.text, event.headers.get("Reason"))

    def _customer_closed(self, call: _Call, text: str | None, reason: str | None) -> None:
        with self._lock:
            if call.phase == _ENDED:
                return
            phase = call.phase
            if phase in (_DIALING, _RINGING):
                close = parse_close(text, reason)
                if close.status is not None or close.cause is not None:
                    call.responded = True
                outcome = failure_outcome(
                    close, ended_by=call.ended_by, responded=call.responded, table=self.settings.outcomes
                )
            elif phase == _TALKING:
                outcome = oc.CONNECTED
            elif phase == _TRANSFERRING and text == _TRANSFERRED:  # the far end reached the agent / IVR
                call.transferred = True
                self._connected(call, None, agent_id=call.agent_id, ivr_flow=call.req.ivr_flow)
                outcome = oc.CONNECTED
            elif call.outcome_after_close is not None:
                outcome = call.outcome_after_close
            elif call.answered_by in ("machine", "fax"):
                outcome = oc.MACHINE if call.answered_by == "machine" else oc.FAX
            else:  # the person hung up before an agent was connected
                if call.answered_by is None:
                    call.answered_by = "person"
                outcome = oc.ABANDONED
            agent_leg = call.agent_leg
            if call.answer_ms is None:
                self._fail(call, outcome)
            else:
                self._finish(call, outcome)
        if agent_leg is not None:
            self._rt().loop.create_task(_quiet_hangup(agent_leg))
        self._wake()

    # --- after the answer (loop thread) --------------------------------------------------------------------------

    async def _answered(self, call: _Call) -> None:
        answered_by, decided_at = await self._detect(call)
        with self._lock:
            if call.phase != _DETECTING:
                return
            call.answered_by = answered_by
            call.decided_ms = decided_at
            self._emit(
                call,
                ANSWERED,
                at=decided_at,
                answered=True,
                answered_by=answered_by,
                answer_at_ms=call.answer_ms,
                ring_ms=(call.answer_ms or 0) - call.placed_ms,
            )
            if call.outcome_after_close is not None or answered_by != "person":
                if call.outcome_after_close is None:
                    call.outcome_after_close = oc.MACHINE if answered_by == "machine" else oc.FAX
                hang_up = True
            else:
                hang_up = False
                call.phase = _WAITING
                limit = self.clock.now_ms() + round(self.settings.abandon_after_s * 1000)
                call.deadline_ms = limit
        self._wake()
        if hang_up:
            await self._hangup_customer(call)
        elif call.req.ivr_flow is not None:
            await self._connect_ivr(call)
        else:
            await self._connect_agent(call, limit)

    async def _detect(self, call: _Call) -> tuple[AnsweredBy, int]:
        """person / machine / fax by the callee's audio; "person" at once when AMD is off."""
        if not self.settings.amd:
            return "person", self.clock.now_ms()
        thresholds = self.settings.amd_settings
        detector = amd.AnsweringMachineDetector(thresholds)
        try:
            # a second past the detector's own limit, so its "undecided" rule decides before this timeout
            timeout_s = thresholds.total_analysis_ms / 1000 + 1
            decision = await media.detect(call.leg.audio, detector, timeout_s=timeout_s)
        except (TimeoutError, BaresipError, ValueError) as exc:  # ValueError: audio not 8 kHz mono
            log.info("call %s: detection failed (%s): taken as a person", call.req.call_id, exc)
            return "person", self.clock.now_ms()
        return decision.answered_by, self.clock.now_ms()

    async def _connect_agent(self, call: _Call, limit_ms: int) -> None:
        """Bridge the person to an agent phone: the reserved agent, else the longest idle (first come, first
        served); an agent phone that does not answer is set not ready and the next one is tried; nobody
        connected by `limit_ms` (2 s after the decision) -> abandoned."""
        skill_id = call.req.skill_id or 0
        queue = self._waiting.setdefault(skill_id, deque())
        with self._lock:
            queue.append(call)
        try:
            while True:
                with self._lock:
                    if call.phase != _WAITING:
                        return
                    now = self.clock.now_ms()
                    agent = call.agent_id
                    if agent is None and _first_waiting(queue) is call:
                        self.pool.advance(now)
                        agent = self.pool.take_longest_idle(skill_id, now)
                    if agent is None and now >= limit_ms:
                        call.outcome_after_close = oc.ABANDONED
                        call.phase = _CONNECTING  # leaving the queue
                    elif agent is not None:
                        call.agent_id = agent
                        call.phase = _CONNECTING
                        call.deadline_ms = None
                        uri = self.pool.uri(agent)
                if call.phase == _CONNECTING and call.outcome_after_close == oc.ABANDONED:
                    await self._hangup_customer(call)
                    return
                if agent is None:
                    await asyncio.sleep(_WAIT_TICK_S)
                    continue
                if self.settings.transfer == "refer" and await self._transfer(call, uri):
                    return
                if await self._dial_agent(call, agent, uri):
                    return
                with self._lock:  # the phone did not answer: next agent (the reserved one is not kept)
                    if call.phase != _CONNECTING:
                        return
                    self.pool.did_not_answer(agent, self.clock.now_ms())
                    call.agent_id = None
                    call.phase = _WAITING
        finally:
            with self._lock, contextlib.suppress(ValueError):
                queue.remove(call)

    async def _dial_other(self, uri: str) -> tuple[Any, asyncio.Future[Any]] | None:
        """Dial an agent phone or IVR flow and wait for its answer: (leg, a future set when it closes), or
        None when it could not be dialed or did not answer within OUTDIAL_SIP_AGENT_ANSWER_S."""
        assert self._local_ua is not None
        try:
            leg = await self._local_ua.dial(uri)
        except (BaresipError, ValueError) as exc:
            log.warning("%s could not be dialed: %s", uri, exc)
            return None
        closed = asyncio.get_running_loop().create_future()

        def on_event(event: StackEvent) -> None:
            if event.event is Event.CALL_CLOSED and not closed.done():
                closed.set_result(event.text)

        self._rt().claim(leg.handle, on_event)
        try:
            await leg.wait_established(timeout=self.settings.agent_answer_s)
        except BaresipError:
            await _quiet_hangup(leg)
            return None
        return leg, closed

    def _connected(
        self, call: _Call, leg: Any, *, agent_id: str | None = None, ivr_flow: str | None = None
    ) -> None:
        """The other leg answered while the customer is still there: talking from now (lock held)."""
        now = max(self.clock.now_ms(), call.last_at)
        call.agent_leg = leg
        call.ivr_flow = ivr_flow
        call.connect_ms = now
        call.phase = _TALKING
        call.deadline_ms = None
        if agent_id is not None and not call.transferred:  # a transferred agent: AgentPool.transferred
            self.pool.talking(agent_id, now)
        self._emit(
            call,
            CONNECTED,
            answered=True,
            answered_by="person",
            agent_id=agent_id,
            ivr_flow=ivr_flow,
            answer_at_ms=call.answer_ms,
            at=now,
            wait_ms=now - (call.decided_ms or call.answer_ms or now),  # from the decision, as the port says
        )

    async def _dial_agent(self, call: _Call, agent_id: str, uri: str) -> bool:
        """Dial the agent's phone; on answer bridge it to the customer. False: it did not answer."""
        answered = await self._dial_other(uri)
        if answered is None:
            return False
        leg, closed = answered
        with self._lock:
            customer_left = call.phase != _CONNECTING
            if customer_left:
                self.pool.release(agent_id, self.clock.now_ms())
            else:
                self._connected(call, leg, agent_id=agent_id)
        if customer_left:
            await _quiet_hangup(leg)
            return True
        self._wake()
        await self._bridge(call, leg, closed)
        return True

    async def _connect_ivr(self, call: _Call) -> None:
        flow = call.req.ivr_flow or ""
        uri = self.settings.ivr_flows.get(flow)
        if uri is None:
            log.warning("call %s: IVR flow %r has no URI in OUTDIAL_SIP_IVR_FLOWS", call.req.call_id, flow)
        with self._lock:
            call.phase = _CONNECTING
        if uri is not None and self.settings.transfer == "refer" and await self._transfer(call, uri):
            return
        answered = await self._dial_other(uri) if uri is not None else None
        with self._lock:
            customer_left = call.phase != _CONNECTING
            if answered is None and not customer_left:
                call.outcome_after_close = oc.ABANDONED  # nobody to connect the person to
            elif answered is not None and not customer_left:
                self._connected(call, answered[0], ivr_flow=flow)
        if answered is None:
            if not customer_left:
                await self._hangup_customer(call)
            return
        if customer_left:
            await _quiet_hangup(answered[0])
            return
        self._wake()
        await self._bridge(call, *answered)

    async def _transfer(self, call: _Call, uri: str) -> bool:
        """Blind-transfer the customer to `uri` (REFER). True: the call is done with (transferred, ended by
        the CLOSED that reports it, or the customer left meanwhile); False: the far end refused or never
        reported, the customer is still there: bridge instead."""
        with self._lock:
            if call.phase != _CONNECTING:
                return True
            call.phase = _TRANSFERRING
        try:
            await call.leg.transfer(uri, timeout=self.settings.agent_answer_s + _REFER_GRACE_S)
        except (BaresipError, ValueError) as exc:
            with self._lock:
                if call.phase != _TRANSFERRING:
                    return True
                call.phase = _CONNECTING
                first = not self._refer_refusal_logged
                self._refer_refusal_logged = True
            if first:  # once per trunk: a trunk that refuses REFER refuses it for every call
                log.warning(
                    "SIP trunk %s: blind transfer (REFER) failed (%s): this call and any other whose "
                    "REFER fails are bridged instead",
                    self.settings.trunk or self.settings.route,
                    exc,
                )
            else:
                log.debug("call %s: REFER failed (%s): bridged", call.req.call_id, exc)
            return False
        return True

    async def _bridge(self, call: _Call, other: Any, other_closed: asyncio.Future[Any]) -> None:
        """Relay audio between the customer and the other leg until either hangs up; then hang up both."""
        stop = asyncio.Event()
        call.stop = stop
        recorder = None
        if self.settings.record and self.record_dir is not None:
            self.record_dir.mkdir(parents=True, exist_ok=True)
            name = f"{call.req.campaign_id}-{call.req.call_id}.wav"
            recorder = media.WavRecorder(str(self.record_dir / name), 8000)
            call.record_path = name
        stats = media.RelayStats()
        self.relay_stats[call.req.call_id] = stats
        while len(self.relay_stats) > 1000:
            self.relay_stats.popitem(last=False)
        relay = asyncio.get_running_loop().create_task(
            media.relay(call.leg.audio, other.audio, stop, recorder, stats)
        )
        waiter = asyncio.get_running_loop().create_task(stop.wait())
        try:
            await asyncio.wait({waiter, other_closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.set()
            waiter.cancel()
            with contextlib.suppress(Exception):
                await relay
            if recorder is not None:
                recorder.close()
        if other_closed.done():  # the agent (or IVR) hung up first: hang up the customer; CLOSED ends it
            with self._lock:
                call.agent_leg = None
            await self._hangup_customer(call)
        else:
            await _quiet_hangup(other)


def _at(event: CallEvent) -> int:
    return event.at_ms


def _first_waiting(queue: deque[_Call]) -> _Call | None:
    for waiting in queue:
        if waiting.phase == _WAITING and waiting.agent_id is None:
            return waiting
    return None


async def _quiet_hangup(leg: Any) -> None:
    with contextlib.suppress(BaresipError):
        await leg.hangup()
