"""Fixtures of the SIP tests: the rig (tests/sip/rig.py), one SIP runtime for the session (baresip allows
one per process), and adapters on it. Not a conftest.py: tests/sip has no __init__.py (its modules import
each other by name, as tests/engine's do), so a conftest here would shadow tests/conftest.py's module name.
A test module imports what it uses: `from sip_fixtures import NEEDS_SIP, make_adapter, rig, sip_runtime`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rig import Rig, free_port, missing_binaries
from rig import rig as rig  # noqa: F401  (the fixture)

from outdial.clock import RealClock

_MISSING = missing_binaries(("sipp", "kamailio"))
# every module of real SIP tests: `pytestmark = NEEDS_SIP` (marked `sip`; skipped, with the reason, only
# where the binaries are missing)
NEEDS_SIP = [
    pytest.mark.sip,
    pytest.mark.skipif(
        bool(_MISSING),
        reason=f"SIP binaries not installed: {', '.join(_MISSING)} (apt-get install sip-tester kamailio "
        "baresip-core; .ci/run does)",
    ),
]


@pytest.fixture(scope="session")
def sip_runtime() -> Iterator[Any]:
    from outdial.engine.telephony.sip.adapter import SipRuntime

    # imported by name into several modules, this session fixture is set up once per module: every one
    # after the first finds the runtime running (one per process) and leaves it to the first to close
    running = SipRuntime.running()
    runtime = running or SipRuntime.shared("127.0.0.1", free_port(), (20000, 29999))
    yield runtime
    if running is None:
        runtime.close()


@pytest.fixture
def make_adapter(sip_runtime: Any) -> Iterator[Callable[..., Any]]:
    """make_adapter(route=..., **SipSettings fields) -> a started SipTelephony on the session runtime."""
    from outdial.engine.telephony.sip import SipSettings, SipTelephony

    made: list[Any] = []

    def make(**fields: Any) -> Any:
        fields.setdefault("amd", False)
        pool = fields.pop("pool", None)
        record_dir = fields.pop("record_dir", None)
        settings = SipSettings(listen_host=sip_runtime.host, listen_port=sip_runtime.port, **fields)
        adapter = SipTelephony(settings, RealClock(), runtime=sip_runtime, pool=pool, record_dir=record_dir)
        adapter.start()
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


__all__ = ["NEEDS_SIP", "Rig", "make_adapter", "rig", "sip_runtime"]
