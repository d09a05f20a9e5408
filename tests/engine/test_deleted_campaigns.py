"""Deleting a campaign: its ids are never handed out again (SQLite AUTOINCREMENT, PostgreSQL sequences), its
calls in progress are hung up, and one campaign's trouble (a call the port cannot place, calls that cannot
be closed) never ends another campaign's calls (issue 18, item 1)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from runner_support import ALL_BUSY, ALL_PERSON, SKILL, attempts_of, engine, load_and_resume, records_of
from test_runner import ivr_campaign, numbers

from outdial.engine.runner import Engine
from outdial.engine.telephony import Simulator, SimulatorConfig
from outdial.engine.telephony.port import ENDED as ENDED_EVENT
from outdial.engine.telephony.port import CallEvent, CallRequest
from outdial.models.engine import ENDED, OPEN, RECONCILED
from outdial.models.results import callback_outbox

SECOND = 1000
RECONCILED_CODE = "34608"


def outbox_ids(ctx, campaign_id: int) -> list[int]:
    with ctx.db.read() as conn:
        rows = conn.execute(
            sa.select(callback_outbox.c.id).where(callback_outbox.c.campaign_id == campaign_id)
        ).all()
    return [r.id for r in rows]


def ids_of_a_campaign_run(ctx, client, clock) -> dict[str, set[Any]]:
    cid = ivr_campaign(client)
    holiday = client.add_holiday(1, cid, {"name": "weekend", "type": 1, "week": "7,6"})
    assert holiday.ok, holiday.body
    t0 = load_and_resume(ctx, client, {cid: numbers(3)})
    engine(ctx, mix=ALL_BUSY).run_virtual(t0 + 60 * SECOND)
    made = attempts_of(ctx, cid)
    assert len(made) == 3 and all(a.state == ENDED for a in made)
    ids = {
        "campaignId": {cid},
        "holidayId": {holiday.body["returnObject"]["id"]},
        "dataId": {r.id for r in records_of(ctx, cid)},
        "attemptId": {a.id for a in made},
        "callId": {a.call_id for a in made},
        "resultId": set(outbox_ids(ctx, cid)),
    }
    assert all(len(v) == (1 if k in ("campaignId", "holidayId") else 3) for k, v in ids.items()), ids
    assert client.get_campaign(1, cid).body["returnObject"]["status"] == 4  # completed: it may be deleted
    deleted = client.delete_campaign(1, cid)
    assert deleted.ok, deleted.body
    clock.advance(1)
    return ids


def test_a_deleted_campaigns_ids_are_never_handed_out_again(ctx, client, clock):
    first = ids_of_a_campaign_run(ctx, client, clock)
    second = ids_of_a_campaign_run(ctx, client, clock)
    for kind, old in first.items():
        new = second[kind]
        assert old.isdisjoint(new), kind
        if kind != "callId":
            assert min(new) > max(old), kind  # ids only grow


class FailingPort(Simulator):
    """The simulator, but the adapter fails on every call of one campaign (an adapter bug, not the network)."""

    def __init__(self, config: SimulatorConfig, clock: Any, failing_campaign: int) -> None:
        super().__init__(config, clock)
        self.failing_campaign = failing_campaign

    def place_call(self, request: CallRequest) -> None:
        if request.campaign_id == self.failing_campaign:
            raise RuntimeError("adapter lost its connection to the switch")
        super().place_call(request)


class GarblingPort(Simulator):
    """The simulator, but the ended events of one campaign's calls carry a failCode the runner cannot map."""

    def __init__(self, config: SimulatorConfig, clock: Any, garbled_campaign: int) -> None:
        super().__init__(config, clock)
        self.garbled = f"-{garbled_campaign}-"

    def poll_events(self, now_ms: int) -> list[CallEvent]:
        events = super().poll_events(now_ms)
        return [
            CallEvent(e.call_id, e.kind, e.at_ms, e.outcome, e.result_type, fail_code=12345)  # type: ignore[arg-type]
            if e.kind == ENDED_EVENT and self.garbled in e.call_id
            else e
            for e in events
        ]


def sim_config(**cfg: Any) -> SimulatorConfig:
    return SimulatorConfig(
        mix=ALL_BUSY, queues={SKILL: 5}, **{"seed": 1, "answer_mean_s": 5.0, "answer_sd_s": 0.0, **cfg}
    )


def two_campaigns(ctx, client) -> tuple[int, int, int]:
    troubled, healthy = ivr_campaign(client), ivr_campaign(client)
    t0 = load_and_resume(ctx, client, {troubled: numbers(20, "1390000"), healthy: numbers(20)})
    return troubled, healthy, t0


def assert_ended_normally(made) -> None:
    assert made
    wrong = [
        (a.call_id, a.state, a.fail_code) for a in made if a.state != ENDED or a.fail_code == RECONCILED_CODE
    ]
    assert not wrong


def test_a_call_the_port_fails_to_place_ends_its_own_attempt_and_no_other_campaigns_call(ctx, client):
    troubled, healthy, t0 = two_campaigns(ctx, client)
    run = Engine(ctx, FailingPort(sim_config(), ctx.clock, troubled), owner="w1", refresh_ms=600_000)
    run.run_virtual(t0 + 250 * SECOND)
    refused = attempts_of(ctx, troubled)
    assert refused and all(a.state == ENDED for a in refused)
    assert {(a.outcome, a.result_type, a.fail_code) for a in refused} == {("not_placed", 9, RECONCILED_CODE)}
    assert len(outbox_ids(ctx, troubled)) == len(refused)  # each refused attempt has its result
    made = attempts_of(ctx, healthy)
    assert_ended_normally(made)
    assert {a.outcome for a in made} == {"busy"}
    assert len(made) == 20  # one call every 10 s from t0: all 20 called by 190 s


def test_calls_that_cannot_be_closed_stay_with_their_campaign(ctx, client):
    troubled, healthy, t0 = two_campaigns(ctx, client)
    run = Engine(ctx, GarblingPort(sim_config(), ctx.clock, troubled), owner="w1", refresh_ms=30_000)
    run.run_virtual(t0 + 250 * SECOND)
    made = attempts_of(ctx, healthy)
    assert_ended_normally(made)
    assert len(made) == 20
    stuck = attempts_of(ctx, troubled)
    # its calls could not be closed: they are reconciled when the campaign is taken up again (or still open)
    assert stuck and all(a.state in (OPEN, RECONCILED) for a in stuck)
    assert any(a.state == RECONCILED for a in stuck)


def test_a_deleted_campaigns_calls_in_progress_are_hung_up_and_others_go_on(ctx, client, clock):
    deleted, running, t0 = two_campaigns(ctx, client)
    run = engine(ctx, mix=ALL_PERSON, talk_mean_s=600, talk_cv=0)  # every call talks 10 minutes
    run.run_virtual(t0 + 30 * SECOND)
    assert [a.state for a in attempts_of(ctx, deleted)] == [OPEN] * 4  # one call every 10 s, all talking
    clock.set(t0 + 31 * SECOND)
    assert client.pause_campaign(1, deleted).ok
    clock.set(t0 + 32 * SECOND)
    answer = client.delete_campaign(1, deleted, archive_history=1)  # archived: its attempts are kept
    assert answer.ok, answer.body
    run.run_virtual(t0 + 60 * SECOND)
    hung_up = attempts_of(ctx, deleted)
    assert len(hung_up) == 4
    assert all(a.state == ENDED and a.end_at == t0 + 32 * SECOND for a in hung_up)
    assert not [c for c in run.calls.values() if c.campaign_id == deleted]
    # a new campaign dials beside the running one; nothing of the running one was cut off
    newer = ivr_campaign(client)
    t1 = load_and_resume(ctx, client, {newer: numbers(3, "1370000")})
    run.run_virtual(t1 + 30 * SECOND)
    assert newer > deleted
    assert [a.state for a in attempts_of(ctx, newer)] == [OPEN] * 3
    assert all(a.state == OPEN for a in attempts_of(ctx, running) if a.created_at > t0 + 500 * SECOND)
    run.run_virtual(t0 + 900 * SECOND)  # the last of 20 calls (at 190 s) ended by 795 s
    assert_ended_normally(attempts_of(ctx, running))
    assert_ended_normally(attempts_of(ctx, newer))
