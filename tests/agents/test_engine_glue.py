"""The engine's side of agent logins on the real database (SQLite and PostgreSQL): `logins` feeds
AgentPool.sync, `store_engine_not_ready` persists AgentPool.drain_changes, and the agents list shows the
live state a port built on the pool reports."""

from __future__ import annotations

import threading

import pytest

from outdial.agents import repository as repo
from outdial.agents import service
from outdial.engine.telephony.agentpool import NO_ANSWER, AgentPool
from outdial.engine.telephony.port import AgentView
from outdial.engine.telephony.simulator import Simulator, SimulatorConfig
from outdial.errors import ApiError
from outdial.tenants import repository as tenants

URI = "sip:{}@127.0.0.1:5062"


@pytest.fixture
def logged_in(ctx):
    now = ctx.clock.now_ms()
    with ctx.db.write() as conn:
        for vdn, skill in ((1, 1), (1, 2), (2, 3)):
            tenants.add_skill_queue(conn, vdn, skill, f"q{skill}", now)
        service.login(conn, 1, "alice", {"skillIds": [1, 2], "uri": URI.format("alice")}, now)
        service.login(conn, 1, "bob", {"skillIds": [1], "uri": URI.format("bob"), "ready": False}, now)
        service.login(conn, 2, "carol", {"skillIds": [3], "uri": URI.format("carol")}, now)
    return now


def _sync(ctx, pool: AgentPool) -> None:
    with ctx.db.read() as conn:
        pool.sync(repo.logins(conn), ctx.clock.now_ms())


def test_logins_of_every_vdn_feed_the_pool(ctx, logged_in):
    pool = AgentPool(wrapup_ms=5_000)
    _sync(ctx, pool)
    assert {v.agent_id: v.state for v in pool.views(1)} == {"alice": "idle", "bob": "offline"}
    assert [v.agent_id for v in pool.views(2)] == ["alice"]
    assert [v.agent_id for v in pool.views(3)] == ["carol"]
    assert pool.uri("carol") == "sip:carol@127.0.0.1:5062"


def test_a_phone_that_did_not_answer_is_stored_not_ready_and_stays_so(ctx, clock, logged_in):
    pool = AgentPool(wrapup_ms=5_000)
    _sync(ctx, pool)
    assert pool.take_longest_idle(2, clock.now_ms()) == "alice"
    clock.advance(5)
    pool.did_not_answer("alice", clock.now_ms())
    _sync(ctx, pool)  # before the change is stored: the stale ready row does not bring alice back
    assert pool.state("alice") == "offline"
    with ctx.db.write() as conn:
        assert repo.store_engine_not_ready(conn, pool.drain_changes(), clock.now_ms()) == 1
    with ctx.db.read() as conn:
        (alice,) = [s for s in service.list_logins(conn, 1) if s.agent_id == "alice"]
    assert (alice.ready, alice.not_ready_reason, alice.ready_changed_at) == (False, NO_ANSWER, clock.now_ms())
    clock.advance(1)
    _sync(ctx, pool)
    assert pool.state("alice") == "offline"
    with ctx.db.write() as conn:  # the agent says ready again
        service.ready(conn, 1, "alice", clock.now_ms())
    _sync(ctx, pool)
    assert pool.state("alice") == "idle"


def test_storing_changes_keeps_what_the_agent_did_meanwhile(ctx, clock, logged_in):
    with ctx.db.write() as conn:
        service.logout(conn, 1, "alice", clock.now_ms())
        stored = repo.store_engine_not_ready(
            conn, [("alice", NO_ANSWER), ("bob", NO_ANSWER), ("carol", NO_ANSWER)], clock.now_ms()
        )
    assert stored == 1  # alice logged out, bob was not ready already: only carol changes
    with ctx.db.read() as conn:
        rows = {s.agent_id: (s.ready, s.not_ready_reason) for s in repo.stored_logins(conn)}
    assert rows == {"bob": (False, "requested"), "carol": (False, NO_ANSWER)}


def test_logout_in_a_call_leaves_the_pool_after_it(ctx, clock, logged_in):
    pool = AgentPool(wrapup_ms=5_000)
    _sync(ctx, pool)
    pool.talking(pool.take_longest_idle(1, clock.now_ms()) or "", clock.now_ms())
    with ctx.db.write() as conn:
        service.logout(conn, 1, "alice", clock.now_ms())
    _sync(ctx, pool)
    assert pool.state("alice") == "talking"
    pool.call_ended("alice", clock.now_ms())
    assert pool.state("alice") is None


class _PoolPort:
    """The part of a port the agents list reads, answered by a real AgentPool (as the SIP adapter does)."""

    def __init__(self, pool: AgentPool) -> None:
        self.pool = pool

    def agents(self, skill_id: int) -> list[AgentView]:
        return self.pool.views(skill_id)


class _Engine:
    def __init__(self, port: object) -> None:
        self.port = port
        self.lock = threading.Lock()


def test_the_list_shows_the_live_state_of_a_pool_port(ctx, clock, client, logged_in):
    pool = AgentPool(wrapup_ms=5_000)
    _sync(ctx, pool)
    clock.advance(3)
    pool.take_longest_idle(2, clock.now_ms())
    pool.talking("alice", clock.now_ms())
    ctx.extras["engine"] = _Engine(_PoolPort(pool))
    rows = {a["agentId"]: a for a in client.agent_logins(1).body["data"]["agents"]}
    assert set(rows) == {"alice", "bob"}
    assert (rows["alice"]["state"], rows["alice"]["stateSince"]) == ("talking", clock.now_ms())
    assert (rows["bob"]["state"], rows["bob"]["ready"]) == ("offline", False)


def test_under_the_simulator_the_live_state_is_unknown(ctx, clock, client, logged_in):
    simulator = Simulator(SimulatorConfig(queues={}, default_agents=3), clock)
    ctx.extras["engine"] = _Engine(simulator)
    rows = client.agent_logins(1).body["data"]["agents"]
    assert [(a["agentId"], a["state"]) for a in rows] == [("alice", None), ("bob", None)]


def test_two_vdns_logging_in_one_agent_id_at_once_get_one_login_and_one_refusal(ctx, logged_in):
    """PostgreSQL runs both transactions at once: the second insert waits for the first and fails on the
    primary key; it is refused like a login from another VDN, and nothing of it stays. (SQLite has one
    writer: the second login simply finds the first.)"""
    started = threading.Event()
    release = threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with ctx.db.write() as conn:
            service.login(conn, 1, "dave", {"skillIds": [1], "uri": URI.format("dave")}, 1)
            started.set()
            release.wait(10)

    def second() -> None:
        started.wait(10)
        try:
            with ctx.db.write() as conn:
                service.login(conn, 2, "dave", {"skillIds": [3], "uri": URI.format("dave2")}, 2)
        except ApiError as error:
            outcome["refused"] = (error.code, error.desc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    started.wait(10)
    if not ctx.db.is_sqlite:
        threads[1].join(0.5)  # the second login is waiting on the first's row
        assert threads[1].is_alive()
    release.set()
    for thread in threads:
        thread.join(10)
    assert outcome["refused"] == ("02000007", "agentId dave is logged in to another VDN")
    with ctx.db.read() as conn:
        dave = [s for s in repo.stored_logins(conn) if s.agent_id == "dave"]
    assert [(s.vdn_id, s.skill_ids, s.uri) for s in dave] == [(1, (1,), URI.format("dave"))]
