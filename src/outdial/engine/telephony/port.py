"""The telephony port: the one interface between the campaign runner and whatever places calls.

Implementations: `Simulator` (embedded, virtual or real time) and, later, SIP or switch adapters.
The contract is written out for adapter authors in docs/telephony.md; in short:

- The runner calls `place_call` with a `CallRequest`; the call's fate comes back as `CallEvent`s, ending
  with exactly one `ended` event per placed call (a refused call too: `failed` + `ended` at once).
- Nothing calls back into the runner. The runner asks `next_event_at()` when it must look again and takes
  what is due with `poll_events(now_ms)`. A simulator knows its future and answers an instant; a real
  adapter answers None, buffers what the network reports and calls the `notify` callable it was given by
  `set_notify`, so a sleeping runner wakes and polls. No threads are needed in a simulator.
- Agents of skill queues are owned by the port (the switch knows who is logged in): pacing reads
  `agent_counts`, previewed/preempted dialing takes an agent with `reserve_agent` before placing the call.
- All instants are epoch milliseconds (int, UTC); durations are milliseconds (int).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol

# --- event kinds ---------------------------------------------------------------------------------------
EventKind = Literal["ringing", "answered", "failed", "connected", "ended"]
RINGING: Final = "ringing"  # the callee's phone alerts
ANSWERED: Final = "answered"  # the line was answered; `answered_by` says by whom
FAILED: Final = "failed"  # the call will not be connected; `fail_code` says why; `ended` follows
CONNECTED: Final = "connected"  # joined to an agent (`agent_id`) or an IVR flow (`ivr_flow`)
ENDED: Final = "ended"  # last event of every call; carries the outcome

# --- who answered ------------------------------------------------------------------------------------
AnsweredBy = Literal["person", "machine", "fax"]
PERSON: Final = "person"
MACHINE: Final = "machine"
FAX: Final = "fax"

# --- agent states --------------------------------------------------------------------------------------
AgentState = Literal["idle", "reserved", "talking", "wrapup", "offline"]
IDLE: Final = "idle"  # logged in, ready, no call: the ACD may give it a call
RESERVED: Final = "reserved"  # held for one previewed/preempted call (previewing or its call ringing)
TALKING: Final = "talking"
WRAPUP: Final = "wrapup"  # after-call work
OFFLINE: Final = "offline"  # logged out or on a break: never receives a call

SUCCESS_FAIL_CODE: Final = "00000"  # what outdial sends internally for success (input "0" is accepted too)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """One outbound call. Exactly one route: `skill_id` (an agent answers) or `ivr_flow` (an IVR answers).

    `agent_id` is set for previewed/preempted calls: the agent `reserve_agent` returned, who talks to the
    callee if a person answers. `attempt` is the attempt number of this record's number (1, 2, ...); a
    simulator draws the outcome from it, a real adapter ignores it.
    """

    call_id: str  # unique and stable for the attempt; every event carries it back
    campaign_id: int
    called: str
    caller: str | None
    max_alerting_s: int  # ring timeout: unanswered this long -> failCode 01040
    skill_id: int | None = None
    ivr_flow: str | None = None
    agent_id: str | None = None
    attempt: int | None = None


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Something that happened to a call at `at_ms`. Which fields are set, by kind:

    ringing    -
    answered   answered_by, answer_at_ms, ring_ms
    failed     outcome, result_type, fail_code, ring_ms
    connected  agent_id or ivr_flow, answer_at_ms, wait_ms
    ended      all that apply: outcome, result_type (None on success), fail_code ("00000" on success),
               answered, answered_by, abandoned, agent_id, ivr_flow, answer_at_ms, ring_ms, wait_ms,
               talk_ms, record_path
    """

    call_id: str
    kind: EventKind
    at_ms: int
    outcome: str | None = None  # see telephony.outcomes; on `ended` always set
    result_type: int | None = None  # retry result type 0-9; None for a success
    fail_code: str | None = None
    answered: bool = False  # the line was answered (by a person, machine or fax)
    answered_by: AnsweredBy | None = None
    abandoned: bool = False  # a person answered and no agent was connected within the limit
    agent_id: str | None = None
    ivr_flow: str | None = None
    answer_at_ms: int | None = None
    ring_ms: int = 0  # placement -> answer (or -> failure)
    wait_ms: int = 0  # answer -> connected (or -> abandoned) on a skill queue
    talk_ms: int = 0  # connected -> ended
    record_path: str | None = None

    @property
    def talk_seconds(self) -> float:
        return self.talk_ms / 1000

    @property
    def success(self) -> bool:
        return self.fail_code in (SUCCESS_FAIL_CODE, "0")


@dataclass(frozen=True, slots=True)
class AgentView:
    agent_id: str
    skill_id: int
    state: AgentState
    since_ms: int  # when it entered this state


@dataclass(frozen=True, slots=True)
class AgentCounts:
    """One skill queue at one instant, as pacing needs it."""

    idle: int = 0
    reserved: int = 0
    talking: int = 0
    wrapup: int = 0
    offline: int = 0
    waiting: int = 0  # answered calls queued for an agent (not agents)

    @property
    def logged_in(self) -> int:
        return self.idle + self.reserved + self.talking + self.wrapup


class TelephonyPort(Protocol):
    def place_call(self, request: CallRequest) -> None:
        """Start the call now. Never raises for a network outcome: refusals come back as events."""
        ...

    def hangup(self, call_id: str) -> None:
        """Cancel or hang up a call in any phase; its `ended` event follows. Unknown or ended ids: no-op."""
        ...

    def next_event_at(self) -> int | None:
        """Earliest instant at which something is or may become due (an event, an agent freed); None when
        the port cannot know (a real adapter) or nothing is pending. May be in the past: poll at once."""
        ...

    def poll_events(self, now_ms: int) -> list[CallEvent]:
        """Every event due by `now_ms` not returned before, in time order."""
        ...

    def set_notify(self, notify: Callable[[], None]) -> None:
        """A callable the port calls (from any thread) when events arrive that the runner did not expect
        by `next_event_at`. A simulator never needs it."""
        ...

    def agent_counts(self, skill_id: int) -> AgentCounts:
        """Agents of the skill queue by state, and calls waiting for one (a queue not known: all zero)."""
        ...

    def agents(self, skill_id: int) -> list[AgentView]: ...

    def reserve_agent(self, skill_id: int) -> str | None:
        """Take an idle agent of the queue for one previewed/preempted call; None when none is idle.
        The agent stays reserved until its call ends or `release_agent` is called."""
        ...

    def release_agent(self, agent_id: str) -> None:
        """Give back a reservation that will not be dialed (the preview was dropped). No-op otherwise."""
        ...
