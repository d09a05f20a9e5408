"""The pure outcome table of the SIP adapter: Q.850 cause before status, who ended, overrides."""

from __future__ import annotations

import pytest

from outdial.engine.telephony import outcomes as oc
from outdial.engine.telephony.sip.outcomes import OutcomeTable, failure_outcome, parse_close


def outcome(
    text: str,
    reason: str | None = None,
    *,
    ended_by: str = "network",
    responded: bool = True,
    table: OutcomeTable | None = None,
) -> str:
    return failure_outcome(
        parse_close(text, reason),
        ended_by=ended_by,
        responded=responded,  # type: ignore[arg-type]
        **({"table": table} if table else {}),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("486 Busy Here", oc.BUSY),
        ("600 Busy Everywhere", oc.BUSY),
        ("404 Not Found", oc.VACANT),
        ("604 Does Not Exist Anywhere", oc.VACANT),
        ("484 Address Incomplete", oc.VACANT),
        ("410 Gone", oc.VACANT),
        ("485 Ambiguous", oc.VACANT),
        ("480 Temporarily Unavailable", oc.POWERED_OFF),
        ("408 Request Timeout", oc.NO_ANSWER),
        ("603 Decline", oc.REJECTED),
        ("503 Service Unavailable", oc.NETWORK_FAILURE),
        ("500 Server Internal Error", oc.NETWORK_FAILURE),
        ("606 Not Acceptable", oc.NETWORK_FAILURE),
        ("401 Unauthorized", oc.NETWORK_FAILURE),
        ("403 Forbidden", oc.NETWORK_FAILURE),
        ("407 Proxy Authentication Required", oc.NETWORK_FAILURE),
        ("Connection refused [111]", oc.NETWORK_FAILURE),
        ("", oc.NETWORK_FAILURE),
    ],
)
def test_status_codes_without_a_cause(text: str, expected: str) -> None:
    assert outcome(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("480 Temporarily Unavailable,Q.850;cause=20", oc.POWERED_OFF),
        ("480 Temporarily Unavailable,Q.850;cause=18", oc.NO_ANSWER),
        ("480 Temporarily Unavailable,Q.850;cause=19", oc.NO_ANSWER),
        ("403 Forbidden,Q.850;cause=21", oc.REJECTED),
        ("503 Service Unavailable,Q.850;cause=17", oc.BUSY),  # the cause wins over the status
        ('486 Busy Here,Q.850;cause=1;text="Unallocated"', oc.VACANT),
        ("486 Busy Here,Q.850;cause=41", oc.BUSY),  # a cause not in the table: the status decides
    ],
)
def test_the_q850_cause_is_preferred(text: str, expected: str) -> None:
    assert outcome(text) == expected


def test_a_reason_header_given_apart_counts_too() -> None:
    assert (
        outcome("480 Temporarily Unavailable", 'Q.850 ;cause=18 ;text="No user responding"') == oc.NO_ANSWER
    )


def test_who_ended_the_call() -> None:
    # 487 after outdial's ring timer is a no answer; after the runner's hangup a cancel
    assert outcome("Rejected by user", ended_by="ring_timer") == oc.NO_ANSWER
    assert outcome("487 Request Terminated", ended_by="runner") == oc.CANCELLED
    # nobody ever answered the INVITE: no answer would blame the callee for the network
    assert outcome("Rejected by user", ended_by="ring_timer", responded=False) == oc.NETWORK_FAILURE


def test_the_table_can_be_overridden_per_trunk() -> None:
    table = OutcomeTable.parse("480=no_answer, q850:31=rejected,503=busy")
    assert outcome("480 Temporarily Unavailable", table=table) == oc.NO_ANSWER
    assert outcome("500 Oops,Q.850;cause=31", table=table) == oc.REJECTED
    assert outcome("503 Service Unavailable", table=table) == oc.BUSY
    assert outcome("486 Busy Here", table=table) == oc.BUSY  # the defaults stay


@pytest.mark.parametrize("text", ["480", "480=nothing", "99=busy", "q850:x=busy", "busy=486"])
def test_a_bad_override_names_the_setting(text: str) -> None:
    with pytest.raises(ValueError, match="OUTDIAL_SIP_OUTCOMES"):
        OutcomeTable.parse(text)


def test_network_failure_has_a_result_type_and_fail_code() -> None:
    assert oc.OUTCOME_CODES[oc.NETWORK_FAILURE] == (9, "00606")
