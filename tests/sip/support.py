"""Driving a SipTelephony in real time as the runner does: place, then poll until every call ended."""

from __future__ import annotations

import threading
import time
from typing import Any

from outdial.engine.telephony.agentpool import AgentLogin, AgentPool
from outdial.engine.telephony.port import CallEvent, CallRequest


def pool_with(*agents: tuple[str, str], skill_id: int = 1, now_ms: int = 0) -> AgentPool:
    """A pool of ready agents (id, phone URI) logged in to one skill queue, wrap-up 0.5 s."""
    pool = AgentPool(wrapup_ms=500)
    pool.sync([AgentLogin(agent_id, (skill_id,), uri, True, None) for agent_id, uri in agents], now_ms)
    return pool


def request(
    call_id: str,
    called: str,
    *,
    max_alerting_s: int = 10,
    skill_id: int | None = 1,
    ivr_flow: str | None = None,
    agent_id: str | None = None,
) -> CallRequest:
    return CallRequest(
        call_id=call_id,
        campaign_id=1,
        called=called,
        caller="5550100",
        max_alerting_s=max_alerting_s,
        skill_id=None if ivr_flow else skill_id,
        ivr_flow=ivr_flow,
        agent_id=agent_id,
    )


class Driver:
    """Collects the adapter's events the way the runner does (notify wakes it; poll with the clock)."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter
        self.events: list[CallEvent] = []
        self.woken = threading.Event()
        adapter.set_notify(self.woken.set)

    def poll(self) -> list[CallEvent]:
        got = self.adapter.poll_events(self.adapter.clock.now_ms())
        self.events.extend(got)
        return got

    def until_ended(self, call_ids: list[str] | set[str], timeout_s: float = 30.0) -> dict[str, CallEvent]:
        wanted = set(call_ids)
        deadline = time.monotonic() + timeout_s
        while True:
            self.poll()
            ended = {e.call_id: e for e in self.events if e.kind == "ended" and e.call_id in wanted}
            if len(ended) == len(wanted):
                return ended
            if time.monotonic() > deadline:
                missing = sorted(wanted - set(ended))
                raise AssertionError(f"calls not ended after {timeout_s} s: {missing[:10]}")
            self.woken.wait(0.2)
            self.woken.clear()

    def until(self, call_id: str, kind: str, timeout_s: float = 15.0) -> CallEvent:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.poll()
            for event in self.events:
                if event.call_id == call_id and event.kind == kind:
                    return event
            self.woken.wait(0.1)
            self.woken.clear()
        raise AssertionError(f"no {kind} for {call_id} within {timeout_s} s")

    def of(self, call_id: str) -> list[CallEvent]:
        return [e for e in self.events if e.call_id == call_id]
