"""The engine as a background worker of `outdial serve`: one Engine per process, the built-in simulator as
its telephony port (settings OUTDIAL_SIM_*), on the context's clock (RealClock, or ScaledClock for
`serve --speed N`)."""

from __future__ import annotations

import os
import socket
import threading

from outdial.config import Settings
from outdial.context import AppContext
from outdial.engine.runner import Engine
from outdial.engine.telephony import OutcomeMix, Simulator, SimulatorConfig
from outdial.engine.telephony.simulator import DRAW_ORDER


def parse_mix(text: str) -> OutcomeMix:
    """"person=0.3,no_answer=0.5,busy=0.2": the named shares, every other one 0. Empty: the default mix."""
    if not text.strip():
        return OutcomeMix()
    shares = dict.fromkeys(DRAW_ORDER, 0.0)
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in shares:
            raise ValueError(f"OUTDIAL_SIM_MIX: unknown outcome {name!r}; known: {', '.join(DRAW_ORDER)}")
        shares[name] = float(value)
    return OutcomeMix(**shares)


def simulator_config(settings: Settings) -> SimulatorConfig:
    return SimulatorConfig(
        seed=settings.sim_seed,
        mix=parse_mix(settings.sim_mix),
        answer_mean_s=settings.sim_answer_mean_s,
        answer_sd_s=settings.sim_answer_mean_s / 2,
        talk_mean_s=settings.sim_talk_mean_s,
        wrapup_s=settings.sim_wrapup_s,
        detect_delay_s=settings.sim_detect_delay_s,
        queues={},
        default_agents=settings.sim_agents_per_queue,
    )


def run(ctx: AppContext, stop: threading.Event) -> None:
    # One owner name per process: if this worker is restarted after a crash, it takes its campaigns back at
    # once and reconciles the attempts its lost simulator had in progress.
    owner = f"{socket.gethostname()}:{os.getpid()}"
    engine = Engine(ctx, Simulator(simulator_config(ctx.settings), ctx.clock), owner=owner)
    ctx.extras["engine"] = engine  # the agents interface reads the port through it
    engine.run(stop)
