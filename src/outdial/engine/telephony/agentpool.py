"""Real agents of the SIP adapter: who is logged in, ready and free. Pure: no I/O, the clock is passed in.

The database holds what the agents asked for (logged in to which skill queues with which phone URI,
ready or not, wrap-up ended early at). The adapter gives that to `sync` about once a second; what really
happens on the calls (reserved, talking, wrap-up) is known only here. The adapter moves an agent with
`take_longest_idle` / `reserve` -> `talking` -> `call_ended` (or `release`, `did_not_answer`).

Rules (docs/agents.md):
- An agent has one state, whichever of its skill queues it serves; `counts`/`views` of a queue list the
  agents logged in to it. Logged in and not ready is `offline`.
- Not ready and log out take effect at once for an idle, offline or wrap-up agent, and after the call
  for a reserved or talking one (it keeps the call; then it is offline, or gone, without wrap-up).
- The longest-idle agent of the queue is taken first (earliest idle since; ties: the one made idle
  first). Wrap-ups that ended by then end first; an agent out of wrap-up is idle since its end.
- Wrap-up lasts `wrapup_ms` after the call, or ends at the agent's `wrapup_done_at_ms` when that is set
  at or after the call's end (a stamp from before the call belongs to an earlier wrap-up).
- `did_not_answer`: the agent's phone did not answer a connect: the agent is set not ready and the change
  is queued for `drain_changes` (the engine persists it). Until the database shows it (a sync with
  `ready=False`, or a later `ready_since_ms` meaning the agent went ready again), a stale `ready=True`
  does not bring the agent back.
- `transferred`: the customer was handed to the agent's phone by a blind transfer (REFER), so outdial
  no longer sees the call: the agent is taken as talking for an assumed talk time, then in wrap-up as
  after any call. The agent's "wrap-up done" stamped after the transfer ends both at once (the agent
  says they are free); not ready / log out take effect when the assumed talk time ends.
- A transition that cannot happen (`talking` for an agent not reserved, `call_ended` for one not in a
  call) is a bug in the caller: `AgentStateError`, and nothing changes. `release` of anything but a
  reserved agent is a no-op, as the port's `release_agent` is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from outdial.engine.telephony.port import (
    IDLE,
    OFFLINE,
    RESERVED,
    TALKING,
    WRAPUP,
    AgentCounts,
    AgentState,
    AgentView,
)

NO_ANSWER: str = "noAnswer"  # the reason `did_not_answer` queues


class AgentStateError(ValueError):
    """A transition asked for an agent not in a state that allows it (a bug in the caller)."""


@dataclass(frozen=True)
class AgentLogin:
    """One row of the agents table, as the engine sees it."""

    agent_id: str
    skill_ids: tuple[int, ...]
    uri: str
    ready: bool
    wrapup_done_at_ms: int | None
    ready_since_ms: int | None = None  # when `ready` was last set (None: unknown)


class _Agent:
    __slots__ = (
        "agent_id",
        "skill_ids",
        "uri",
        "ready",
        "logged_in",
        "state",
        "since_ms",
        "wrapup_end_ms",
        "wrapup_done_at_ms",
        "engine_not_ready_at",
        "idle_seq",
        "talk_end_ms",
    )

    def __init__(self, login: AgentLogin, state: AgentState, now_ms: int) -> None:
        self.agent_id = login.agent_id
        self.skill_ids: frozenset[int] = frozenset(login.skill_ids)
        self.uri = login.uri
        self.ready = login.ready
        self.logged_in = True
        self.state: AgentState = state
        self.since_ms = now_ms
        self.wrapup_end_ms = 0
        self.wrapup_done_at_ms = login.wrapup_done_at_ms
        self.engine_not_ready_at: int | None = None  # set by did_not_answer until the database shows it
        self.idle_seq = 0  # breaks ties between agents idle since the same instant: first come first
        self.talk_end_ms: int | None = None  # talking after a transfer: the assumed end of the call

    @property
    def in_call(self) -> bool:
        return self.state in (RESERVED, TALKING)

    @property
    def available(self) -> bool:
        """Takes calls once free: logged in, ready, and not set not-ready by the engine."""
        return self.logged_in and self.ready and self.engine_not_ready_at is None


class AgentPool:
    def __init__(self, *, wrapup_ms: int) -> None:
        if wrapup_ms < 0:
            raise ValueError("wrapup_ms cannot be negative")
        self._wrapup_ms = wrapup_ms
        self._agents: dict[str, _Agent] = {}
        self._idle: dict[str, None] = {}  # the idle agents' ids
        self._idle_seq = 0
        self._changes: list[tuple[str, str]] = []

    # --- the truth from the database ---------------------------------------------------------------------

    def sync(self, logins: Iterable[AgentLogin], now_ms: int) -> None:
        """Make the pool what the database says: new agents join, changed ones are updated, agents not
        listed are logged out (one in a call leaves after it)."""
        seen: set[str] = set()
        for login in logins:
            seen.add(login.agent_id)
            agent = self._agents.get(login.agent_id)
            if agent is None:
                agent = _Agent(login, OFFLINE, now_ms)
                self._agents[agent.agent_id] = agent
                self._settle(agent, now_ms)
                continue
            agent.skill_ids = frozenset(login.skill_ids)
            agent.uri = login.uri
            agent.ready = login.ready
            agent.logged_in = True
            if agent.engine_not_ready_at is not None and (
                not login.ready
                or (login.ready_since_ms is not None and login.ready_since_ms > agent.engine_not_ready_at)
            ):
                agent.engine_not_ready_at = None  # the database has caught up with the engine's change
            if login.wrapup_done_at_ms != agent.wrapup_done_at_ms:
                agent.wrapup_done_at_ms = login.wrapup_done_at_ms
                if agent.state == WRAPUP:
                    agent.wrapup_end_ms = self._wrapup_end(agent, agent.since_ms)
            self._settle(agent, now_ms)
        for agent_id in [a for a in self._agents if a not in seen]:
            agent = self._agents[agent_id]
            agent.logged_in = False
            self._settle(agent, now_ms)
        self.advance(now_ms)

    # --- what pacing and the lists read -------------------------------------------------------------------

    def counts(self, skill_id: int, waiting: int = 0) -> AgentCounts:
        tally = {IDLE: 0, RESERVED: 0, TALKING: 0, WRAPUP: 0, OFFLINE: 0}
        for agent in self._agents.values():
            if skill_id in agent.skill_ids:
                tally[agent.state] += 1
        return AgentCounts(
            tally[IDLE], tally[RESERVED], tally[TALKING], tally[WRAPUP], tally[OFFLINE], waiting
        )

    def views(self, skill_id: int) -> list[AgentView]:
        return [
            AgentView(a.agent_id, skill_id, a.state, a.since_ms)
            for a in sorted(self._agents.values(), key=lambda a: a.agent_id)
            if skill_id in a.skill_ids
        ]

    def state(self, agent_id: str) -> AgentState | None:
        """The agent's state; None when it is not in the pool (logged out)."""
        agent = self._agents.get(agent_id)
        return agent.state if agent is not None else None

    def uri(self, agent_id: str) -> str:
        """The SIP URI of the agent's phone. KeyError for an agent not in the pool."""
        return self._agents[agent_id].uri

    # --- what the adapter does to agents -----------------------------------------------------------------

    def take_longest_idle(self, skill_id: int, now_ms: int) -> str | None:
        """The longest-idle agent of the queue, now reserved for the call being connected; None if none."""
        self.advance(now_ms)
        candidates = [self._agents[a] for a in self._idle if skill_id in self._agents[a].skill_ids]
        if not candidates:
            return None
        agent = min(candidates, key=lambda a: (a.since_ms, a.idle_seq))
        self._set(agent, RESERVED, now_ms)
        return agent.agent_id

    def reserve(self, skill_id: int, now_ms: int) -> str | None:
        """An agent for a previewed/preempted call, before it is placed: the same choice and state."""
        return self.take_longest_idle(skill_id, now_ms)

    def release(self, agent_id: str, now_ms: int) -> None:
        """A reservation that will not be used: idle again at once, no wrap-up. No-op unless reserved."""
        agent = self._agents.get(agent_id)
        if agent is None or agent.state != RESERVED:
            return
        self._after_call(agent, now_ms, wrapup=False)

    def talking(self, agent_id: str, now_ms: int) -> None:
        agent = self._require(agent_id, (RESERVED,), "talking")
        self._set(agent, TALKING, now_ms)

    def call_ended(self, agent_id: str, now_ms: int) -> None:
        """The agent's call ended: a talking agent goes to wrap-up; a reserved one (never connected) is
        idle again at once, as after `release`."""
        agent = self._require(agent_id, (RESERVED, TALKING), "call_ended")
        self._after_call(agent, now_ms, wrapup=agent.state == TALKING)

    def transferred(self, agent_id: str, now_ms: int, assumed_talk_ms: int) -> None:
        """The customer was transferred to the reserved agent's phone (outdial no longer sees the call):
        talking until `now_ms + assumed_talk_ms` or the agent's wrap-up done, then wrap-up."""
        if assumed_talk_ms < 0:
            raise ValueError("assumed_talk_ms cannot be negative")
        agent = self._require(agent_id, (RESERVED,), "transferred")
        self._set(agent, TALKING, now_ms)
        agent.talk_end_ms = now_ms + assumed_talk_ms

    def did_not_answer(self, agent_id: str, now_ms: int) -> None:
        """The agent's phone did not answer the connect: not ready, queued for `drain_changes`."""
        agent = self._require(agent_id, (RESERVED,), "did_not_answer")
        if agent.available:
            agent.engine_not_ready_at = now_ms
            self._changes.append((agent_id, NO_ANSWER))
        self._after_call(agent, now_ms, wrapup=False)

    def advance(self, now_ms: int) -> None:
        """Transferred calls whose assumed talk ended by `now_ms` go to wrap-up (none when the agent said
        wrap-up done); wrap-ups that ended by `now_ms` end: the agent is idle (or offline, or gone)."""
        for agent in [a for a in self._agents.values() if a.talk_end_ms is not None]:
            end = self._transferred_end(agent)
            if end <= now_ms:
                self._after_call(agent, end, wrapup=True)
        ended = [a for a in self._agents.values() if a.state == WRAPUP and a.wrapup_end_ms <= now_ms]
        for agent in sorted(ended, key=lambda a: (a.wrapup_end_ms, a.agent_id)):
            self._set(agent, IDLE, agent.wrapup_end_ms)

    def next_change_at(self) -> int | None:
        """When the next wrap-up (or assumed talk after a transfer) ends; None when none is going on."""
        ends = [a.wrapup_end_ms for a in self._agents.values() if a.state == WRAPUP]
        ends += [self._transferred_end(a) for a in self._agents.values() if a.talk_end_ms is not None]
        return min(ends) if ends else None

    def drain_changes(self) -> list[tuple[str, str]]:
        """(agent_id, reason) for each agent the engine set not ready since the last call, to persist."""
        changes, self._changes = self._changes, []
        return changes

    # --- internals ---------------------------------------------------------------------------------------

    def _require(self, agent_id: str, states: tuple[AgentState, ...], action: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None or agent.state not in states:
            state = agent.state if agent is not None else "not in the pool"
            raise AgentStateError(f"{action}: agent {agent_id} is {state}, not {' or '.join(states)}")
        return agent

    def _set(self, agent: _Agent, state: AgentState, now_ms: int) -> None:
        if agent.state == IDLE:
            del self._idle[agent.agent_id]
        agent.talk_end_ms = None
        agent.state = state
        agent.since_ms = now_ms
        if state == IDLE:
            self._idle[agent.agent_id] = None
            self._idle_seq += 1
            agent.idle_seq = self._idle_seq

    def _transferred_end(self, agent: _Agent) -> int:
        """When a transferred agent's assumed talk ends: its end, or the agent's wrap-up done if earlier."""
        assert agent.talk_end_ms is not None
        done = agent.wrapup_done_at_ms
        if done is not None and agent.since_ms <= done < agent.talk_end_ms:
            return done
        return agent.talk_end_ms

    def _wrapup_end(self, agent: _Agent, started_ms: int) -> int:
        end = started_ms + self._wrapup_ms
        done = agent.wrapup_done_at_ms
        if done is not None and done >= started_ms:
            end = min(end, done)
        return end

    def _after_call(self, agent: _Agent, now_ms: int, *, wrapup: bool) -> None:
        if not agent.logged_in:
            self._remove(agent)
        elif not agent.available:
            self._set(agent, OFFLINE, now_ms)
        elif wrapup:
            self._set(agent, WRAPUP, now_ms)
            agent.wrapup_end_ms = self._wrapup_end(agent, now_ms)
            if agent.wrapup_end_ms <= now_ms:
                self._set(agent, IDLE, now_ms)
        else:
            self._set(agent, IDLE, now_ms)

    def _settle(self, agent: _Agent, now_ms: int) -> None:
        """Apply a login, readiness or logout change to an agent not in a call (one in a call keeps it)."""
        if agent.in_call:
            return
        if not agent.logged_in:
            self._remove(agent)
        elif not agent.available:
            if agent.state != OFFLINE:
                self._set(agent, OFFLINE, now_ms)
        elif agent.state == OFFLINE:
            self._set(agent, IDLE, now_ms)

    def _remove(self, agent: _Agent) -> None:
        self._idle.pop(agent.agent_id, None)
        del self._agents[agent.agent_id]
