"""The SIP adapter against real callees: SIPp scenarios, one per outcome, dialed directly and through
Kamailio as the trunk proxy (tests/sip/rig.py). Real time; no assertion on wall time beyond generous
bounds that only a wrong mechanism (a timer not honoured) would break."""

from __future__ import annotations

from typing import Any

import pytest
from rig import Callee, Rig, free_port
from sip_fixtures import NEEDS_SIP, make_adapter, rig, sip_runtime  # noqa: F401  (fixtures)
from support import Driver, request

from outdial.engine.telephony import outcomes as oc

pytestmark = NEEDS_SIP

# one callee per outcome row of docs/telephony.md, with the outcome the adapter must give
ROWS: list[tuple[str, Callee, str]] = [
    ("busy", Callee(486, ring_ms=100), oc.BUSY),
    ("busy_now", Callee(486), oc.BUSY),  # refused with no ringing at all
    ("busy_everywhere", Callee(600, ring_ms=100), oc.BUSY),
    ("vacant", Callee(404), oc.VACANT),
    ("vacant_604", Callee(604), oc.VACANT),
    ("absent", Callee(480, ring_ms=100), oc.POWERED_OFF),
    ("absent_20", Callee(480, ring_ms=100, reason="Q.850;cause=20"), oc.POWERED_OFF),
    ("no_user_18", Callee(480, ring_ms=100, reason="Q.850;cause=18"), oc.NO_ANSWER),
    ("no_answer_19", Callee(480, ring_ms=100, reason="Q.850;cause=19"), oc.NO_ANSWER),
    ("timeout_408", Callee(408, ring_ms=100), oc.NO_ANSWER),
    ("rejected", Callee(603, ring_ms=200), oc.REJECTED),
    ("rejected_21", Callee(403, ring_ms=100, reason="Q.850;cause=21"), oc.REJECTED),
    # (not 503: a proxy turns a 503 into a 500 of its own, RFC 3261 16.7, and the Reason is lost)
    ("cause_beats_status", Callee(500, reason="Q.850;cause=17"), oc.BUSY),
    ("unavailable", Callee(503), oc.NETWORK_FAILURE),
    ("forbidden", Callee(403), oc.NETWORK_FAILURE),
]


def _check_failed(driver: Driver, call_id: str, outcome: str, *, rang: bool) -> None:
    events = driver.of(call_id)
    kinds = [e.kind for e in events]
    assert kinds == (["ringing"] if rang else []) + ["failed", "ended"], kinds
    failed, ended = events[-2], events[-1]
    result_type, fail_code = oc.OUTCOME_CODES[outcome]
    assert (failed.outcome, failed.fail_code, failed.result_type) == (outcome, fail_code, result_type)
    assert (ended.outcome, ended.fail_code, ended.answered) == (outcome, fail_code, False)
    assert [e.at_ms for e in events] == sorted(e.at_ms for e in events)


@pytest.mark.parametrize("via", ["direct", "kamailio"])
def test_every_failure_row(rig: Rig, make_adapter: Any, via: str) -> None:
    callees = {name: rig.callee(callee, name=name) for name, callee, _ in ROWS}
    if via == "direct":  # one adapter per callee: the route is the callee's address
        pairs = []
        for name, _, _ in ROWS:
            adapter = make_adapter(route=f"sip:{{number}}@{callees[name].address}")
            pairs.append((name, adapter, Driver(adapter)))
    else:  # one trunk: Kamailio routes by the number's prefix
        routes = {f"{i + 10}": callees[name].address for i, (name, _, _) in enumerate(ROWS)}
        kamailio = rig.kamailio(routes)
        adapter = make_adapter(route=f"sip:{{number}}@{kamailio.address}", trunk=f"sip:{kamailio.address}")
        driver = Driver(adapter)
        pairs = [(name, adapter, driver) for name, _, _ in ROWS]
    for i, (name, adapter, _) in enumerate(pairs):
        adapter.place_call(request(name, f"{i + 10}555"))
    for name, _, driver in pairs:
        driver.until_ended([name])
    for (name, callee, outcome), (_, _, driver) in zip(ROWS, pairs, strict=True):
        _check_failed(driver, name, outcome, rang=callee.ring_ms > 0)


def _ringing_callee(rig: Rig, make_adapter: Any, via: str) -> tuple[Any, Driver]:
    """An adapter dialing a SIPp callee that rings until cancelled, directly or through Kamailio."""
    ringer = rig.callee(Callee(None), name="ringer")
    target = ringer.address if via == "direct" else rig.kamailio({"7": ringer.address}).address
    adapter = make_adapter(
        route=f"sip:{{number}}@{target}", trunk=None if via == "direct" else f"sip:{target}"
    )
    return adapter, Driver(adapter)


@pytest.mark.parametrize("via", ["direct", "kamailio"])
def test_ring_timer_cancels_at_max_alerting_time(rig: Rig, make_adapter: Any, via: str) -> None:
    adapter, driver = _ringing_callee(rig, make_adapter, via)
    adapter.place_call(request("ring", "7000", max_alerting_s=1))
    ended = driver.until_ended(["ring"])["ring"]
    _check_failed(driver, "ring", oc.NO_ANSWER, rang=True)
    assert ended.fail_code == "01040"
    assert 1000 <= ended.ring_ms < 5000  # the engine's own timer, not the callee's


@pytest.mark.parametrize("via", ["direct", "kamailio"])
def test_runner_hangup_while_ringing_is_cancelled(rig: Rig, make_adapter: Any, via: str) -> None:
    adapter, driver = _ringing_callee(rig, make_adapter, via)
    adapter.place_call(request("cancel", "7000", max_alerting_s=30))
    driver.until("cancel", "ringing")
    adapter.hangup("cancel")
    adapter.hangup("cancel")  # twice: a no-op
    ended = driver.until_ended(["cancel"])["cancel"]
    _check_failed(driver, "cancel", oc.CANCELLED, rang=True)
    assert ended.fail_code == "00601"
    adapter.hangup("cancel")  # ended: a no-op
    adapter.hangup("unknown")


def test_hangup_right_after_placing(rig: Rig, make_adapter: Any) -> None:
    ringer = rig.callee(Callee(None), name="ringer")
    adapter = make_adapter(route=f"sip:{{number}}@{ringer.address}")
    driver = Driver(adapter)
    for n in range(5):
        adapter.place_call(request(f"quick-{n}", "7000"))
        adapter.hangup(f"quick-{n}")  # before the INVITE is even on its way
    ended = driver.until_ended([f"quick-{n}" for n in range(5)])
    assert {e.outcome for e in ended.values()} == {oc.CANCELLED}


def test_nobody_answers_the_invite_is_a_network_failure(make_adapter: Any) -> None:
    adapter = make_adapter(route=f"sip:{{number}}@127.0.0.1:{free_port()}")  # nothing listens there
    driver = Driver(adapter)
    adapter.place_call(request("void", "123", max_alerting_s=1))
    ended = driver.until_ended(["void"])["void"]
    assert (ended.outcome, ended.result_type, ended.fail_code) == (oc.NETWORK_FAILURE, 9, "00606")


def test_line_limit_at_placement(rig: Rig, make_adapter: Any) -> None:
    ringer = rig.callee(Callee(None), name="ringer")
    adapter = make_adapter(route=f"sip:{{number}}@{ringer.address}", max_lines=2)
    driver = Driver(adapter)
    adapter.place_call(request("a", "1"))
    adapter.place_call(request("b", "2"))
    assert adapter.lines_free() == 0
    adapter.place_call(request("c", "3"))
    driver.poll()
    refused = driver.of("c")
    assert [(e.call_id, e.kind, e.fail_code) for e in refused] == [
        ("c", "failed", "34606"),
        ("c", "ended", "34606"),
    ]
    assert refused[0].at_ms == refused[1].at_ms
    with pytest.raises(ValueError):
        adapter.place_call(request("a", "1"))  # a call id in progress is a bug of the caller
    adapter.hangup("a")
    driver.until_ended(["a"])
    assert adapter.lines_free() == 1
    adapter.hangup("b")
    driver.until_ended(["b"])
    assert adapter.health().calls_in_progress == 0


def test_a_person_with_no_agent_is_abandoned_after_two_seconds(rig: Rig, make_adapter: Any) -> None:
    person = rig.callee(Callee(200, ring_ms=300), name="person")
    adapter = make_adapter(route=f"sip:{{number}}@{person.address}")
    driver = Driver(adapter)
    adapter.place_call(request("p", "1"))
    ended = driver.until_ended(["p"])["p"]
    kinds = [e.kind for e in driver.of("p")]
    assert kinds == ["ringing", "answered", "ended"]
    answered = driver.of("p")[1]
    assert answered.answered_by == "person" and answered.answer_at_ms is not None
    assert ended.outcome == oc.ABANDONED and ended.abandoned and ended.answered
    assert ended.fail_code == "01046"
    assert 2000 <= ended.wait_ms < 4000
    assert ended.ring_ms >= 300
