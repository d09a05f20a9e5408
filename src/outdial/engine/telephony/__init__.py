"""Telephony: the port the runner places calls through, and the embedded simulator behind it."""

from outdial.engine.telephony.port import (
    AgentCounts,
    AgentView,
    CallEvent,
    CallRequest,
    TelephonyPort,
)
from outdial.engine.telephony.simulator import Absence, OutcomeMix, Simulator, SimulatorConfig, SimulatorStats

__all__ = [
    "Absence",
    "AgentCounts",
    "AgentView",
    "CallEvent",
    "CallRequest",
    "OutcomeMix",
    "Simulator",
    "SimulatorConfig",
    "SimulatorStats",
    "TelephonyPort",
]
