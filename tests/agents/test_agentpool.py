"""AgentPool: the real agents' state machine, step by step."""

from __future__ import annotations

import pytest

from outdial.engine.telephony.agentpool import NO_ANSWER, AgentLogin, AgentPool, AgentStateError
from outdial.engine.telephony.port import AgentCounts

WRAPUP = 10_000


def login(agent_id: str, *skills: int, ready: bool = True, done: int | None = None, since: int | None = None):
    return AgentLogin(agent_id, skills or (1,), f"sip:{agent_id}@127.0.0.1:5999", ready, done, since)


def states(pool: AgentPool, skill_id: int = 1) -> dict[str, str]:
    return {v.agent_id: v.state for v in pool.views(skill_id)}


def test_logins_become_idle_or_offline_and_are_listed_on_each_of_their_queues():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a", 1, 2), login("b", 1, ready=False), login("c", 2)], 1_000)
    assert states(pool, 1) == {"a": "idle", "b": "offline"}
    assert states(pool, 2) == {"a": "idle", "c": "idle"}
    assert pool.counts(1, waiting=3) == AgentCounts(idle=1, offline=1, waiting=3)
    assert pool.counts(2).logged_in == 2
    assert pool.counts(3) == AgentCounts()
    assert all(v.since_ms == 1_000 and v.skill_id == 2 for v in pool.views(2))


def test_longest_idle_is_taken_first_and_a_freed_agent_goes_to_the_back():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("b")], 0)
    pool.sync([login("b"), login("a")], 100)
    pool.sync([login("b"), login("a"), login("c")], 200)
    assert pool.take_longest_idle(1, 300) == "b"
    pool.talking("b", 400)
    pool.call_ended("b", 500)
    pool.advance(500 + WRAPUP)
    assert pool.take_longest_idle(1, 20_000) == "a"
    assert pool.take_longest_idle(1, 20_000) == "c"
    assert pool.take_longest_idle(1, 20_000) == "b"
    assert pool.take_longest_idle(1, 20_000) is None


def test_wrapups_that_ended_before_a_take_count_from_their_end():
    pool = AgentPool(wrapup_ms=1_000)
    pool.sync([login("a"), login("b")], 0)
    for agent, ended in (("a", 500), ("b", 100)):
        assert pool.take_longest_idle(1, 0) is not None
        pool.talking(agent, 50)
        pool.call_ended(agent, ended)
    # no advance in between: b's wrap-up ended at 1 100, a's at 1 500
    assert pool.take_longest_idle(1, 5_000) == "b"
    assert pool.views(1)[0].since_ms == 1_500


def test_a_reserved_agent_is_never_given_to_another_call():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a", 1, 2)], 0)
    assert pool.reserve(1, 10) == "a"
    assert pool.take_longest_idle(2, 20) is None
    assert pool.reserve(1, 20) is None
    assert pool.counts(2) == AgentCounts(reserved=1)
    pool.release("a", 30)
    assert states(pool) == {"a": "idle"}
    assert pool.next_change_at() is None  # released: no wrap-up


def test_a_call_that_ends_before_the_agent_talks_frees_it_without_wrapup():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a")], 0)
    pool.take_longest_idle(1, 10)
    pool.call_ended("a", 20)
    assert states(pool) == {"a": "idle"}
    assert pool.views(1)[0].since_ms == 20


def test_wrapup_lasts_wrapup_ms():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a")], 0)
    pool.take_longest_idle(1, 0)
    pool.talking("a", 1_000)
    pool.call_ended("a", 5_000)
    assert pool.next_change_at() == 5_000 + WRAPUP
    pool.advance(5_000 + WRAPUP - 1)
    assert states(pool) == {"a": "wrapup"}
    pool.advance(5_000 + WRAPUP)
    assert states(pool) == {"a": "idle"}
    assert pool.views(1)[0].since_ms == 5_000 + WRAPUP
    assert pool.next_change_at() is None


def test_wrapup_done_ends_it_early_and_an_older_stamp_does_not():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a", done=2_000)], 0)  # an earlier wrap-up's stamp
    pool.take_longest_idle(1, 3_000)
    pool.talking("a", 3_000)
    pool.call_ended("a", 4_000)
    pool.sync([login("a", done=2_000)], 4_500)
    assert states(pool) == {"a": "wrapup"}
    assert pool.next_change_at() == 4_000 + WRAPUP
    pool.sync([login("a", done=6_000)], 7_000)
    assert states(pool) == {"a": "idle"}
    assert pool.views(1)[0].since_ms == 6_000


def test_zero_wrapup_frees_the_agent_when_the_call_ends():
    pool = AgentPool(wrapup_ms=0)
    pool.sync([login("a")], 0)
    pool.take_longest_idle(1, 0)
    pool.talking("a", 1)
    pool.call_ended("a", 2)
    assert states(pool) == {"a": "idle"}


def test_logout_while_talking_leaves_after_the_call_without_wrapup():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a"), login("b")], 0)
    pool.take_longest_idle(1, 10)
    pool.talking("a", 20)
    pool.sync([login("b")], 30)
    assert states(pool) == {"a": "talking", "b": "idle"}
    assert pool.uri("a") == "sip:a@127.0.0.1:5999"  # still dialable for the call's own use
    pool.call_ended("a", 40)
    assert states(pool) == {"b": "idle"}
    assert pool.state("a") is None
    with pytest.raises(KeyError):
        pool.uri("a")


def test_logout_of_an_idle_offline_or_wrapup_agent_is_at_once():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a"), login("b", ready=False), login("c")], 0)
    pool.take_longest_idle(1, 0)
    pool.talking("a", 0)
    pool.call_ended("a", 10)
    assert states(pool)["a"] == "wrapup"
    pool.sync([], 20)
    assert pool.views(1) == []
    assert pool.next_change_at() is None


def test_not_ready_in_a_call_takes_effect_after_it_and_ready_brings_the_agent_back():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a")], 0)
    pool.take_longest_idle(1, 0)
    pool.talking("a", 0)
    pool.sync([login("a", ready=False)], 10)
    assert states(pool) == {"a": "talking"}
    pool.call_ended("a", 20)
    assert states(pool) == {"a": "offline"}  # no wrap-up: it takes no call after it anyway
    assert pool.take_longest_idle(1, 30) is None
    pool.sync([login("a")], 40)
    assert states(pool) == {"a": "idle"}
    assert pool.views(1)[0].since_ms == 40


def test_not_ready_during_wrapup_is_at_once():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a")], 0)
    pool.take_longest_idle(1, 0)
    pool.talking("a", 0)
    pool.call_ended("a", 20)
    pool.sync([login("a", ready=False)], 30)
    assert states(pool) == {"a": "offline"}
    assert pool.next_change_at() is None


def test_did_not_answer_sets_not_ready_until_the_database_shows_it():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a", since=0), login("b")], 0)
    assert pool.take_longest_idle(1, 100) == "a"
    pool.did_not_answer("a", 5_100)
    assert states(pool) == {"a": "offline", "b": "idle"}
    assert pool.drain_changes() == [("a", NO_ANSWER)]
    assert pool.drain_changes() == []
    pool.sync([login("a", since=0), login("b")], 5_500)  # not persisted yet: stays offline
    assert states(pool)["a"] == "offline"
    pool.sync([login("a", ready=False, since=5_600), login("b")], 6_000)  # persisted
    pool.sync([login("a", since=9_000), login("b")], 9_000)  # the agent is ready again
    assert states(pool)["a"] == "idle"


def test_an_agent_ready_again_after_a_no_answer_comes_back_by_its_ready_stamp():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a", since=0)], 0)
    pool.take_longest_idle(1, 0)
    pool.did_not_answer("a", 1_000)
    pool.drain_changes()
    pool.sync([login("a", since=1_000)], 1_500)
    assert states(pool) == {"a": "offline"}
    pool.sync([login("a", since=1_200)], 2_000)  # went not ready and ready between two syncs
    assert states(pool) == {"a": "idle"}


def test_did_not_answer_of_an_agent_logged_out_meanwhile_removes_it_and_queues_nothing():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a")], 0)
    pool.take_longest_idle(1, 0)
    pool.sync([], 10)
    pool.did_not_answer("a", 20)
    assert pool.state("a") is None
    assert pool.drain_changes() == []


def test_impossible_transitions_raise_and_change_nothing():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a"), login("b")], 0)
    for action in (pool.talking, pool.call_ended, pool.did_not_answer):
        with pytest.raises(AgentStateError, match="agent a is idle"):
            action("a", 10)
        with pytest.raises(AgentStateError, match="not in the pool"):
            action("zz", 10)
    pool.take_longest_idle(1, 20)
    pool.talking("a", 30)
    with pytest.raises(AgentStateError):
        pool.did_not_answer("a", 40)
    pool.release("a", 50)  # talking: release is a no-op
    pool.release("b", 50)  # idle: no-op
    pool.release("zz", 50)  # unknown: no-op
    assert states(pool) == {"a": "talking", "b": "idle"}
    assert [v.since_ms for v in pool.views(1)] == [30, 0]


def test_sync_updates_skills_and_uri():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a", 1)], 0)
    pool.sync([AgentLogin("a", (2,), "sips:a@phone.example", True, None)], 10)
    assert pool.views(1) == []
    assert states(pool, 2) == {"a": "idle"}
    assert pool.uri("a") == "sips:a@phone.example"
    assert pool.views(2)[0].since_ms == 0  # still idle since it logged in


def test_negative_wrapup_is_refused():
    with pytest.raises(ValueError):
        AgentPool(wrapup_ms=-1)


TALK = 60_000  # the talk time assumed after a blind transfer


def test_a_transferred_agent_talks_for_the_assumed_time_then_wraps_up():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a")], 0)
    assert pool.take_longest_idle(1, 100) == "a"
    pool.transferred("a", 1_000, TALK)
    assert states(pool) == {"a": "talking"} and pool.next_change_at() == 1_000 + TALK
    pool.advance(1_000 + TALK - 1)
    assert states(pool) == {"a": "talking"}
    assert pool.take_longest_idle(1, 1_000 + TALK - 1) is None  # not given another call meanwhile
    pool.advance(1_000 + TALK)
    assert states(pool) == {"a": "wrapup"} and pool.next_change_at() == 1_000 + TALK + WRAPUP
    pool.advance(1_000 + TALK + WRAPUP)
    assert states(pool) == {"a": "idle"} and pool.views(1)[0].since_ms == 1_000 + TALK + WRAPUP


def test_wrapup_done_after_a_transfer_frees_the_agent_at_once_and_an_older_stamp_does_not():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a", done=500)], 0)  # a stamp of an earlier call
    pool.take_longest_idle(1, 600)
    pool.transferred("a", 1_000, TALK)
    pool.advance(5_000)
    assert states(pool) == {"a": "talking"}
    pool.sync([login("a", done=20_000)], 20_500)  # the agent pressed "done" at 20 s: free since then
    assert states(pool) == {"a": "idle"} and pool.views(1)[0].since_ms == 20_000
    assert pool.next_change_at() is None


def test_not_ready_or_logout_after_a_transfer_takes_effect_when_the_assumed_talk_ends():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a"), login("b")], 0)
    for agent in ("a", "b"):
        assert pool.take_longest_idle(1, 10) == agent
        pool.transferred(agent, 100, TALK)
    pool.sync([login("a", ready=False)], 200)  # a: not ready; b: logged out
    assert states(pool) == {"a": "talking", "b": "talking"}
    pool.advance(100 + TALK)
    assert states(pool) == {"a": "offline"}


def test_only_a_reserved_agent_can_be_transferred_to():
    pool = AgentPool(wrapup_ms=WRAPUP)
    pool.sync([login("a")], 0)
    with pytest.raises(AgentStateError):
        pool.transferred("a", 10, TALK)
    pool.take_longest_idle(1, 10)
    with pytest.raises(ValueError):
        pool.transferred("a", 10, -1)
    assert states(pool) == {"a": "reserved"}
