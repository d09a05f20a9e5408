"""Pacing: how many calls to place now, one module per mode. Each is a pure function of a PacingState."""

from outdial.engine.pacing.state import Pace, PacingState

__all__ = ["Pace", "PacingState"]
