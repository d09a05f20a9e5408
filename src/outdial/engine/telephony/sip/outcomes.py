"""How a SIP call that never reached a conversation ended, as an engine outcome. Pure: no I/O.

Evidence, best first: the Q.850 cause of a `Reason` header (RFC 3326), then the final status code; then
who ended the call (outdial's ring timer, the runner's hangup). Both tables can be overridden per trunk
(`OUTDIAL_SIP_OUTCOMES`, e.g. "480=no_answer,q850:31=rejected"). docs/telephony.md lists every row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from outdial.engine.telephony import outcomes as oc

EndedBy = Literal["network", "runner", "ring_timer"]

# Q.850 cause -> outcome (only the causes a callee decides; others fall through to the status code)
CAUSE_OUTCOMES: Final[Mapping[int, str]] = {
    1: oc.VACANT,  # unallocated number
    17: oc.BUSY,  # user busy
    18: oc.NO_ANSWER,  # no user responding
    19: oc.NO_ANSWER,  # no answer from user (user alerted)
    20: oc.POWERED_OFF,  # subscriber absent
    21: oc.REJECTED,  # call rejected
    22: oc.VACANT,  # number changed
    28: oc.VACANT,  # invalid number format
}

# final status -> outcome; a status not listed is a network failure
STATUS_OUTCOMES: Final[Mapping[int, str]] = {
    486: oc.BUSY,
    600: oc.BUSY,
    404: oc.VACANT,
    604: oc.VACANT,
    484: oc.VACANT,
    410: oc.VACANT,
    485: oc.VACANT,
    480: oc.POWERED_OFF,  # without a cause (with cause 18/19 the cause says no answer)
    408: oc.NO_ANSWER,
    603: oc.REJECTED,
}

_STATUS = re.compile(r"^\s*([1-6][0-9]{2})\b")
_CAUSE = re.compile(r"Q\.850\s*;(?:[^,]*;)?\s*cause\s*=\s*([0-9]{1,3})", re.IGNORECASE)


@dataclass(frozen=True)
class OutcomeTable:
    causes: Mapping[int, str] = field(default_factory=lambda: dict(CAUSE_OUTCOMES))
    statuses: Mapping[int, str] = field(default_factory=lambda: dict(STATUS_OUTCOMES))

    @classmethod
    def parse(cls, text: str) -> OutcomeTable:
        """ "486=busy,480=no_answer,q850:31=rejected": overrides on top of the defaults. Raises ValueError
        naming the bad entry."""
        causes, statuses = dict(CAUSE_OUTCOMES), dict(STATUS_OUTCOMES)
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            key, sep, outcome = (s.strip() for s in part.partition("="))
            if not sep or outcome not in oc.OUTCOME_CODES:
                known = ", ".join(sorted(oc.OUTCOME_CODES))
                raise ValueError(f"OUTDIAL_SIP_OUTCOMES: {part!r} is not code=outcome (outcomes: {known})")
            if key.lower().startswith("q850:") and key[5:].isdigit():
                causes[int(key[5:])] = outcome
            elif key.isdigit() and 300 <= int(key) <= 699:
                statuses[int(key)] = outcome
            else:
                raise ValueError(f"OUTDIAL_SIP_OUTCOMES: {key!r} is neither a status 300-699 nor q850:N")
        return cls(causes, statuses)


DEFAULT_TABLE: Final = OutcomeTable()


@dataclass(frozen=True)
class CloseReason:
    """What the stack said when the call closed: "486 Busy Here,Q.850;cause=17", "Rejected by user"..."""

    status: int | None
    cause: int | None
    text: str


def parse_close(text: str | None, reason_header: str | None = None) -> CloseReason:
    text = text or ""
    m = _STATUS.match(text)
    status = int(m.group(1)) if m else None
    cause_match = _CAUSE.search(reason_header or "") or _CAUSE.search(text)
    cause = int(cause_match.group(1)) if cause_match else None
    return CloseReason(status, cause, text)


def failure_outcome(
    close: CloseReason,
    *,
    ended_by: EndedBy,
    responded: bool,
    table: OutcomeTable = DEFAULT_TABLE,
) -> str:
    """The outcome of a call that closed before it was answered.

    `ended_by`: who ended it: the network (a final response, a transport error), the runner's hangup, or
    outdial's own ring timer (maxAlertingTime). `responded`: the far end sent anything (100 Trying,
    180...): a ring timer that fires on a call nobody ever answered is a network failure, not a no answer.
    """
    if ended_by == "ring_timer":
        return oc.NO_ANSWER if responded else oc.NETWORK_FAILURE
    if ended_by == "runner":
        return oc.CANCELLED
    if close.cause is not None and close.cause in table.causes:
        return table.causes[close.cause]
    if close.status is not None and close.status in table.statuses:
        return table.statuses[close.status]
    return oc.NETWORK_FAILURE  # other 4xx-6xx, 401/403/407 as final, transport error, unknown
