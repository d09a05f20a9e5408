"""AgentPool against a model of the database and of the calls the adapter holds (hypothesis stateful).

The test plays the database (logins, ready / not ready, wrap-up done, logouts, persisting the engine's
changes) and the adapter (taking agents for calls, talking, ending, releasing, phones not answering) in any
order, and checks after every step: agents are never lost or doubled, a reserved agent is never given to
another call, the longest-idle agent is taken, an agent logged out in a call leaves after it, wrap-up ends
at wrapup_ms or at the wrap-up-done stamp, a phone that did not answer makes its agent not ready (and the
change is drained once), and counts() agree with views().
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from outdial.engine.telephony.agentpool import NO_ANSWER, AgentLogin, AgentPool
from outdial.engine.telephony.port import AgentCounts

AGENTS = ("a1", "a2", "a3")
SKILLS = (1, 2)
agent_ids = st.sampled_from(AGENTS)
skill_sets = st.sets(st.sampled_from(SKILLS), min_size=1).map(lambda s: tuple(sorted(s)))


@dataclass
class Row:  # one agents-table row as the test's database holds it
    skills: tuple[int, ...]
    ready: bool
    ready_since: int
    done: int | None = None

    def login(self, agent_id: str) -> AgentLogin:
        return AgentLogin(
            agent_id, self.skills, f"sip:{agent_id}@127.0.0.1", self.ready, self.done, self.ready_since
        )


class PoolMachine(RuleBasedStateMachine):
    @initialize(wrapup_ms=st.sampled_from([0, 3_000]))
    def start(self, wrapup_ms: int) -> None:
        self.wrapup_ms = wrapup_ms
        self.pool = AgentPool(wrapup_ms=wrapup_ms)
        self.now = 0
        self.advanced = 0  # the last instant the pool advanced to
        self.db: dict[str, Row] = {}
        self.synced: dict[str, Row] = {}  # the database as of the last sync
        self.held: dict[str, str] = {}  # agent -> "reserved" / "talking": the calls the adapter holds
        self.wrapup_from: dict[str, int] = {}  # agent -> when its last wrap-up began
        self.engine_not_ready: dict[str, int] = {}  # did_not_answer not yet shown by the database
        self.to_persist: list[tuple[str, str]] = []

    # --- the clock ---------------------------------------------------------------------------------------
    @rule(ms=st.integers(0, 2_500))
    def tick(self, ms: int) -> None:
        self.now += ms
        self.pool.advance(self.now)
        self.advanced = self.now

    # --- the database ------------------------------------------------------------------------------------
    @rule(agent=agent_ids, skills=skill_sets, ready=st.booleans())
    def db_login(self, agent: str, skills: tuple[int, ...], ready: bool) -> None:
        old = self.db.get(agent)
        since = old.ready_since if old is not None and old.ready == ready else self.now
        self.db[agent] = Row(skills, ready, since, old.done if old else None)

    @rule(agent=agent_ids, ready=st.booleans())
    def db_ready(self, agent: str, ready: bool) -> None:
        row = self.db.get(agent)
        if row is not None:
            row.ready, row.ready_since = ready, self.now

    @rule(agent=agent_ids)
    def db_wrapup_done(self, agent: str) -> None:
        if agent in self.db:
            self.db[agent].done = self.now

    @rule(agent=agent_ids)
    def db_logout(self, agent: str) -> None:
        self.db.pop(agent, None)

    @rule()
    def persist_changes(self) -> None:
        changes = self.pool.drain_changes()
        assert changes == self.to_persist
        self.to_persist = []
        for agent, _ in changes:
            if agent in self.db:
                self.db[agent].ready, self.db[agent].ready_since = False, self.now

    @rule()
    def sync(self) -> None:
        self.pool.sync([row.login(a) for a, row in self.db.items()], self.now)
        self.synced = {a: Row(r.skills, r.ready, r.ready_since, r.done) for a, r in self.db.items()}
        self.advanced = self.now
        for agent, at in list(self.engine_not_ready.items()):
            row = self.synced.get(agent)
            if row is None or not row.ready or row.ready_since > at:
                del self.engine_not_ready[agent]
        for agent in list(self.wrapup_from):
            if not self._available(agent):
                del self.wrapup_from[agent]  # logged out or not ready: wrap-up cut short

    # --- the adapter -------------------------------------------------------------------------------------
    @rule(skill=st.sampled_from(SKILLS), preview=st.booleans())
    def take(self, skill: int, preview: bool) -> None:
        self.pool.advance(self.now)  # take advances itself; done here to read the views it chooses from
        self.advanced = self.now
        idle = [v for v in self.pool.views(skill) if v.state == "idle"]
        taken = (
            self.pool.reserve(skill, self.now) if preview else self.pool.take_longest_idle(skill, self.now)
        )
        if not idle:
            assert taken is None
            return
        assert taken is not None and taken not in self.held
        assert self.synced[taken].skills.count(skill) == 1
        assert {v.since_ms for v in idle if v.agent_id == taken} == {min(v.since_ms for v in idle)}
        self.held[taken] = "reserved"
        self.wrapup_from.pop(taken, None)

    def _held_in(self, state: str) -> list[str]:
        return sorted(a for a, s in self.held.items() if s == state)

    @precondition(lambda self: self._held_in("reserved"))
    @rule(data=st.data())
    def talking(self, data: st.DataObject) -> None:
        agent = data.draw(st.sampled_from(self._held_in("reserved")))
        self.pool.talking(agent, self.now)
        self.held[agent] = "talking"

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def call_ended(self, data: st.DataObject) -> None:
        agent = data.draw(st.sampled_from(sorted(self.held)))
        was = self.held.pop(agent)
        self.pool.call_ended(agent, self.now)
        if was == "talking" and self._available(agent):
            self.wrapup_from[agent] = self.now

    @precondition(lambda self: self._held_in("reserved"))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        agent = data.draw(st.sampled_from(self._held_in("reserved")))
        self.held.pop(agent)
        self.pool.release(agent, self.now)

    @precondition(lambda self: self._held_in("reserved"))
    @rule(data=st.data())
    def did_not_answer(self, data: st.DataObject) -> None:
        agent = data.draw(st.sampled_from(self._held_in("reserved")))
        self.held.pop(agent)
        available = self._available(agent)
        self.pool.did_not_answer(agent, self.now)
        if available:
            self.engine_not_ready[agent] = self.now
            self.to_persist.append((agent, NO_ANSWER))
        assert self.pool.state(agent) in (None, "offline")

    # --- what must hold after every step -----------------------------------------------------------------
    def _available(self, agent: str) -> bool:
        row = self.synced.get(agent)
        return row is not None and row.ready and agent not in self.engine_not_ready

    def _wrapup_end(self, agent: str) -> int:
        start = self.wrapup_from[agent]
        done = self.synced[agent].done
        end = start + self.wrapup_ms
        return min(end, done) if done is not None and done >= start else end

    @invariant()
    def agents_are_never_lost_or_doubled(self) -> None:
        in_pool = {a for a in AGENTS if self.pool.state(a) is not None}
        assert in_pool == set(self.synced) | set(self.held)
        for skill in SKILLS:
            listed = [v.agent_id for v in self.pool.views(skill)]
            assert len(listed) == len(set(listed))
            expected = {a for a in in_pool if a in self.synced and skill in self.synced[a].skills}
            assert expected <= set(listed) <= in_pool

    @invariant()
    def states_follow_the_calls_and_the_database(self) -> None:
        for agent in AGENTS:
            state = self.pool.state(agent)
            if agent in self.held:
                assert state == self.held[agent]
            elif agent not in self.synced:
                assert state is None  # logged out and not in a call: gone
            elif not self._available(agent):
                assert state == "offline"
            elif agent in self.wrapup_from and self._wrapup_end(agent) > self.advanced:
                assert state == "wrapup"
            else:
                assert state == "idle"

    @invariant()
    def next_change_is_the_first_wrapup_end(self) -> None:
        ends = [self._wrapup_end(a) for a in AGENTS if self.pool.state(a) == "wrapup"]
        assert self.pool.next_change_at() == (min(ends) if ends else None)

    @invariant()
    def counts_agree_with_views(self) -> None:
        for skill in SKILLS:
            views = self.pool.views(skill)
            tally = {
                s: sum(1 for v in views if v.state == s)
                for s in ("idle", "reserved", "talking", "wrapup", "offline")
            }
            assert self.pool.counts(skill, waiting=2) == AgentCounts(**tally, waiting=2)


PoolMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
TestAgentPool = PoolMachine.TestCase
