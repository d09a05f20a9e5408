"""The engine as a background worker: registered, built from settings, and dialing under a real clock."""

from __future__ import annotations

import threading
import time

import pytest

from outdial.engine import worker
from outdial.engine.telephony import OutcomeMix
from outdial.workers import registered_workers


def test_the_engine_is_a_registered_worker():
    assert registered_workers()["engine"] is worker.run


def test_simulator_settings_come_from_settings(settings):
    tuned = settings.model_copy(
        update={"sim_seed": 7, "sim_agents_per_queue": 3, "sim_mix": "person=0.5,busy=0.5", "sim_wrapup_s": 5}
    )
    config = worker.simulator_config(tuned)
    assert (config.seed, config.default_agents, config.wrapup_s) == (7, 3, 5)
    assert config.mix == OutcomeMix(person=0.5, machine=0, no_answer=0, busy=0.5, vacant=0)
    with pytest.raises(ValueError, match="unknown outcome 'hello'"):
        worker.parse_mix("hello=1")


def test_the_engine_worker_simulates_the_detection_delay_of_its_setting(settings):
    assert worker.simulator_config(settings).detect_delay_s == 1.8  # the setting's default: a real adapter's
    instant = settings.model_copy(update={"sim_detect_delay_s": 0})
    assert worker.simulator_config(instant).detect_delay_s == 0


def test_worker_thread_serves_the_agents_interface_and_stops(ctx, client):
    from campaigns.factories import ensure_skill_queue

    ensure_skill_queue(client)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(ctx, stop), daemon=True)
    thread.start()
    for _ in range(200):  # the worker publishes its engine for the agents interface
        if "engine" in ctx.extras:
            break
        time.sleep(0.01)
    body = client.list_agents(1, 2).body
    assert body["resultCode"] == "0200000", body
    assert body["data"]["counts"] == {"idle": 20}  # OUTDIAL_SIM_AGENTS_PER_QUEUE default
    stop.set()
    ctx.wakeup("engine").set()
    thread.join(5)
    assert not thread.is_alive()
