"""The engine as a background worker of `outdial serve`: one Engine per process, on the context's clock
(RealClock, or ScaledClock for `serve --speed N`), dialing through the telephony the settings choose:
the built-in simulator (OUTDIAL_TELEPHONY=simulator, settings OUTDIAL_SIM_*) or a SIP trunk
(OUTDIAL_TELEPHONY=sip, settings OUTDIAL_SIP_*; docs/telephony.md)."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from outdial.config import Settings
from outdial.context import AppContext
from outdial.engine.runner import Engine
from outdial.engine.telephony import OutcomeMix, Simulator, SimulatorConfig, TelephonyPort
from outdial.engine.telephony.simulator import DRAW_ORDER

log = logging.getLogger(__name__)
AGENT_SYNC_S = 1.0  # how often the SIP adapter's agents are brought in line with the agents table


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


def sip_port(ctx: AppContext) -> Any:
    """A started SipTelephony on the OUTDIAL_SIP_* trunk, its agents loaded from the agents table."""
    from outdial.engine.telephony.sip.adapter import SipTelephony
    from outdial.engine.telephony.sip.settings import SipSettings

    settings = SipSettings.from_settings(ctx.settings)
    port = SipTelephony(settings, ctx.clock, record_dir=ctx.settings.data_dir / "recordings")
    sync_agents(ctx, port)
    port.start()
    return port


def sync_agents(ctx: AppContext, port: Any) -> None:
    """The agents table -> the adapter's pool; the agents the engine set not ready -> the table."""
    from outdial.agents import repository as agents

    with ctx.db.read() as conn:
        logins = agents.logins(conn)
    changes = port.sync_agents(logins)
    if changes:
        with ctx.db.write() as conn:
            agents.store_engine_not_ready(conn, changes, ctx.clock.now_ms())


def make_port(ctx: AppContext) -> TelephonyPort:
    if ctx.settings.telephony == "sip":
        return sip_port(ctx)  # type: ignore[no-any-return]
    if ctx.settings.telephony != "simulator":
        raise ValueError(f"OUTDIAL_TELEPHONY: {ctx.settings.telephony!r} is neither simulator nor sip")
    return Simulator(simulator_config(ctx.settings), ctx.clock)


def run(ctx: AppContext, stop: threading.Event) -> None:
    # One owner name per process: if this worker is restarted after a crash, it takes its campaigns back at
    # once and reconciles the attempts its lost simulator had in progress.
    owner = f"{socket.gethostname()}:{os.getpid()}"
    port = make_port(ctx)
    engine = Engine(ctx, port, owner=owner)
    ctx.extras["engine"] = engine  # the agents interface reads the port through it
    syncing = None
    if ctx.settings.telephony == "sip":
        syncing = threading.Thread(target=_sync_loop, args=(ctx, port, stop), name="sip-agents", daemon=True)
        syncing.start()
    try:
        engine.run(stop)
    finally:
        close = getattr(port, "close", None)
        if close is not None:
            close()
        if syncing is not None:
            syncing.join(5)


def _sync_loop(ctx: AppContext, port: Any, stop: threading.Event) -> None:
    while not stop.wait(AGENT_SYNC_S):
        try:
            sync_agents(ctx, port)
        except Exception:  # a database hiccup must not stop the agents' updates for good
            log.exception("SIP agents: sync with the agents table failed; trying again")
