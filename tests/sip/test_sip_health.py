"""Trunk health: registered or not, calls in progress, lines free; a trunk that is down gives 0 free lines
(the runner then places nothing) and comes back by itself."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rig import Callee, Rig, free_port
from sip_fixtures import NEEDS_SIP, make_adapter, rig, sip_runtime  # noqa: F401  (fixtures)
from support import Driver, request

from outdial.engine.telephony import outcomes as oc

pytestmark = NEEDS_SIP


def _until(check: Any, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.1)


def test_registers_to_the_trunk(rig: Rig, make_adapter: Any) -> None:
    busy = rig.callee(Callee(486), name="busy")
    kamailio = rig.kamailio({"1": busy.address}, registrar=True)
    adapter = make_adapter(
        route=f"sip:{{number}}@{kamailio.address}",
        trunk=f"sip:{kamailio.address}",
        username="outdial",
        password="s3cret",
        max_lines=5,
    )
    health = adapter.health()
    assert (health.registered, health.up, health.lines_free, health.calls_in_progress) == (True, True, 5, 0)
    assert "s3cret" not in repr(adapter.settings)
    driver = Driver(adapter)
    adapter.place_call(request("b", "100"))
    assert driver.until_ended(["b"])["b"].outcome == oc.BUSY


def test_a_refused_registration_is_a_trunk_down_until_it_succeeds(
    rig: Rig, make_adapter: Any, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    refusing = rig.kamailio({}, registrar=False, port=port)  # answers REGISTER with 403
    adapter = make_adapter(
        route=f"sip:{{number}}@127.0.0.1:{port}",
        trunk=f"sip:127.0.0.1:{port}",
        username="outdial",
        password="wrong",
    )
    health = adapter.health()
    assert (health.registered, health.up, health.lines_free) == (False, False, 0)
    assert "403" in health.reason
    assert any("trunk is down" in r.getMessage() for r in caplog.records)
    driver = Driver(adapter)
    adapter.place_call(request("x", "100"))  # the runner would not place it; the port refuses at once
    assert [e.kind for e in driver.poll()] == ["failed", "ended"]
    refusing.process.stop()
    rig.kamailio({}, registrar=True, port=port)  # the registrar is back: the adapter registers again
    _until(lambda: adapter.health().up, timeout_s=20)
    assert adapter.health().registered is True and adapter.lines_free() > 0
    assert any("trunk is back" in r.getMessage() for r in caplog.records)


def test_calls_nobody_answers_take_the_trunk_down_for_a_while(make_adapter: Any) -> None:
    adapter = make_adapter(route=f"sip:{{number}}@127.0.0.1:{free_port()}")  # nothing listens
    driver = Driver(adapter)
    for n in range(3):
        adapter.place_call(request(f"v{n}", "1", max_alerting_s=1))
    assert adapter.health().calls_in_progress == 3
    ended = driver.until_ended([f"v{n}" for n in range(3)])
    assert {e.outcome for e in ended.values()} == {oc.NETWORK_FAILURE}
    health = adapter.health()
    assert (health.up, health.lines_free, health.registered) == (False, 0, None)
    assert "no response" in health.reason
    _until(lambda: adapter.health().up, timeout_s=15)  # tried again after the pause
