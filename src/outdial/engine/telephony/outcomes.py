"""How a call ended, as the retry policy and the results see it: outcome -> (result type, failCode).

The result types are the retry `result` enumeration (0 others, 1 busy, 2 no answer, 3 rejected, 4 number
does not exist, 5 powered off, 6 out of service area, 7 fax or switchboard, 8 call timed out, 9 call
failed); a success has no result type (None). failCodes come from the public partial table. Where the
table has no exact code, the choice is recorded here and in docs/telephony.md.
"""

from __future__ import annotations

from typing import Final

from outdial.engine.telephony.port import SUCCESS_FAIL_CODE

CONNECTED: Final = "connected"  # a person talked to an agent or an IVR
ABANDONED: Final = "abandoned"  # a person answered, no agent within abandon_after_s
MACHINE: Final = "machine"  # answering machine detected, outdial hangs up
FAX: Final = "fax"
NO_ANSWER: Final = "no_answer"  # not answered within maxAlertingTime
BUSY: Final = "busy"
VACANT: Final = "vacant"
POWERED_OFF: Final = "powered_off"
OUT_OF_AREA: Final = "out_of_area"
REJECTED: Final = "rejected"
LINE_LIMIT: Final = "line_limit"  # refused: the line (concurrency) limit was reached
CANCELLED: Final = "cancelled"  # hung up by outdial before answer
CANCELLED_QUEUED: Final = "cancelled_queued"  # hung up by outdial while waiting for an agent
NOT_PLACED: Final = "not_placed"  # the telephony adapter failed on the request (an error, not the network)
# The network could not carry the call: 5xx/6xx not listed elsewhere, an authentication the trunk refused,
# no response, a transport error, an unknown cause. The callee never decided anything: a real adapter only.
NETWORK_FAILURE: Final = "network_failure"

# outcome -> (result type, failCode)
OUTCOME_CODES: Final[dict[str, tuple[int | None, str]]] = {
    CONNECTED: (None, SUCCESS_FAIL_CODE),
    ABANDONED: (9, "01046"),  # could not seize an agent: a failure on outdial's side -> call failed
    MACHINE: (0, "00531"),  # outdial hung up on the machine; no machine type exists -> others
    FAX: (7, "00531"),  # fax or switchboard; outdial hung up on the tone
    NO_ANSWER: (2, "01040"),  # ringing timeout
    BUSY: (1, "00537"),
    VACANT: (4, "00538"),
    POWERED_OFF: (5, "00548"),
    OUT_OF_AREA: (6, "00549"),
    REJECTED: (3, "00604"),
    LINE_LIMIT: (9, "34606"),
    CANCELLED: (0, "00601"),  # hung up before answer
    CANCELLED_QUEUED: (0, "00701"),  # hung up while queued
    NOT_PLACED: (9, "34608"),  # no call was made: "no result", as for an attempt whose fate is unknown
    NETWORK_FAILURE: (9, "00606"),  # call failed / system error: the table has no network code (choice)
}
