"""POST /rest/isales/v2/openapi/campaigns/{vdnId}: the document's example, and the database rules."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from campaigns.factories import (
    EXAMPLE_BODY,
    IVR_OVERRIDES,
    create_campaign,
    ensure_skill_queue,
    example_body,
)
from outdial.models.foundation import campaign_callers, campaigns


def stored_campaigns(ctx) -> list:
    with ctx.db.read() as conn:
        return conn.execute(sa.select(campaigns).order_by(campaigns.c.id)).all()


def test_the_documents_example_is_added_and_answers_its_shape(client, ctx) -> None:
    ensure_skill_queue(client)
    response = client.add_campaign(1, EXAMPLE_BODY)
    assert response.status_code == 200
    assert response.body == {
        "resultCode": "0200000",
        "resultDesc": "",
        "returnCode": "0200000",
        "returnDesc": "",
        "returnObject": {"id": 1},
    }
    [row] = stored_campaigns(ctx)
    assert (row.id, row.vdn_id, row.name, row.device_type, row.priority, row.skill_id) == (
        1,
        1,
        "test0827shwocase1",
        2,
        4,
        2,
    )
    assert row.status == 1  # initStatus 0: published
    assert row.timezone == "UTC"  # the server's zone in the tests
    # 2026-11-23 00:00:00 UTC and 2026-11-24 23:59:59 UTC in epoch ms
    assert row.begin_at == 1795392000000
    assert row.end_at == 1795392000000 + (2 * 86400 - 1) * 1000
    assert row.callback_url == "https://10.10.10.10/xxx/xxx/xxx"
    with ctx.db.read() as conn:
        callers = conn.execute(
            sa.select(campaign_callers.c.access_code, campaign_callers.c.priority).order_by(
                campaign_callers.c.priority
            )
        ).all()
    assert [tuple(c) for c in callers] == [("88889527", 3), ("88880066", 4)]


def test_init_status_1_creates_a_paused_campaign(client, ctx) -> None:
    campaign_id = create_campaign(client, initStatus=1)
    assert client.get_campaign(1, campaign_id).body["returnObject"]["status"] == 3
    assert stored_campaigns(ctx)[0].status == 3


def test_a_name_used_by_a_live_campaign_is_0200005_and_nothing_is_stored(client, ctx, clock) -> None:
    create_campaign(client, name="spring")
    clock.advance(1)
    response = client.add_campaign(1, example_body(name="spring", description="second"))
    assert response.code == "0200005"
    assert [r.name for r in stored_campaigns(ctx)] == ["spring"]


def test_names_are_per_vdn_and_free_again_after_a_delete(client, client_vdn2, ctx, clock) -> None:
    first = create_campaign(client, name="spring", strBeginTime="2026-11-23 20:00:00")
    create_campaign(client_vdn2, vdn_id=2, name="spring")
    assert client.delete_campaign(1, first, archive_history=1).ok
    create_campaign(client, name="spring")
    names = [(r.vdn_id, r.name, r.deleted_at is not None) for r in stored_campaigns(ctx)]
    assert names == [(1, "spring", True), (2, "spring", False), (1, "spring", False)]


def test_a_missing_skill_queue_is_0200017_and_nothing_is_stored(client, ctx) -> None:
    skill = dict(EXAMPLE_BODY["skillParam"], skillId=9)
    response = client.add_campaign(1, example_body(skillParam=skill))
    assert response.code == "0200017"
    assert stored_campaigns(ctx) == []


def test_a_skill_queue_of_another_vdn_does_not_count(client, client_vdn2, ctx) -> None:
    ensure_skill_queue(client_vdn2, vdn_id=2)
    assert client.add_campaign(1, example_body()).code == "0200017"
    assert stored_campaigns(ctx) == []


def test_at_most_20_live_skill_queue_campaigns_then_0200003(client, ctx, clock) -> None:
    ids = [create_campaign(client) for _ in range(20)]
    response = client.add_campaign(1, example_body(name="one too many"))
    assert response.code == "0200003"
    assert len(stored_campaigns(ctx)) == 20
    # The IVR class has its own 20.
    create_campaign(client, **IVR_OVERRIDES)
    # A deleted campaign frees its slot (the example campaigns are executing: pause, then delete).
    assert client.pause_campaign(1, ids[0]).ok
    assert client.delete_campaign(1, ids[0]).ok
    clock.advance(1)
    assert client.add_campaign(1, example_body(name="one too many")).ok


def test_at_most_20_live_ivr_campaigns_then_0200004(client, ctx) -> None:
    for _ in range(20):
        create_campaign(client, **IVR_OVERRIDES)
    response = client.add_campaign(1, example_body(name="ivr 21", **IVR_OVERRIDES))
    assert response.code == "0200004"
    assert len(stored_campaigns(ctx)) == 20
    create_campaign(client)  # the skill-queue class is not full


def test_completed_campaigns_do_not_count_toward_the_limit(client, clock) -> None:
    for _ in range(20):
        create_campaign(client)  # each ends 2026-11-24 23:59:59 UTC
    assert client.add_campaign(1, example_body(name="late")).code == "0200003"
    clock.advance(39 * 3600)  # 2026-11-25 00:00:00: every one is completed
    later = example_body(name="late", strBeginTime="2026-11-25 08:00:00", strEndTime="2026-11-26 08:00:00")
    assert client.add_campaign(1, later).ok


def test_a_paused_campaign_still_counts(client, clock) -> None:
    ids = [create_campaign(client) for _ in range(20)]
    assert client.pause_campaign(1, ids[0]).ok
    assert client.add_campaign(1, example_body(name="late")).code == "0200003"


def test_concurrent_adds_of_one_name_store_one_campaign(client, ctx) -> None:
    ensure_skill_queue(client)
    barrier = threading.Barrier(6)

    def add(n: int) -> str | None:
        barrier.wait()
        # Bodies differ (description), so no two requests carry the same signature.
        return client.add_campaign(1, example_body(name="race", description=f"try {n}")).code

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(add, range(6)))
    assert sorted(codes) == ["0200000"] + ["0200005"] * 5
    assert [r.name for r in stored_campaigns(ctx)] == ["race"]


def test_concurrent_adds_cannot_pass_the_limit_together(client, ctx) -> None:
    for _ in range(18):
        create_campaign(client)
    barrier = threading.Barrier(5)

    def add(n: int) -> str | None:
        barrier.wait()
        return client.add_campaign(1, example_body(name=f"race {n}")).code

    with ThreadPoolExecutor(5) as pool:
        codes = list(pool.map(add, range(5)))
    assert sorted(codes) == ["0200000"] * 2 + ["0200003"] * 3
    assert len(stored_campaigns(ctx)) == 20


def test_a_field_error_comes_before_the_database_rules(client, ctx) -> None:
    # No skill queue exists and the name is empty: the validator's 02000001 wins, nothing is stored.
    response = client.add_campaign(1, example_body(name=""))
    assert response.code == "02000001"
    assert response.body["resultDesc"].startswith("name")
    assert stored_campaigns(ctx) == []


def test_a_begin_before_today_is_0200002(client) -> None:
    ensure_skill_queue(client)
    response = client.add_campaign(1, example_body(strBeginTime="2026-11-22 23:59:59"))
    assert response.code == "0200002"


def test_the_unique_index_turns_a_lost_race_into_0200005(ctx) -> None:
    """PostgreSQL only: a writer that skips the VDN lock (here: a raw insert) holds an uncommitted row with
    the name; the add's own check cannot see it, so its INSERT waits on the unique index and, once the other
    commits, fails. That IntegrityError must answer 0200005, not 500."""
    import time

    from outdial.campaigns import repository, service
    from outdial.errors import ApiError
    from outdial.tenants import repository as tenants

    if ctx.db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: the race cannot happen there")
    now = ctx.clock.now_ms()
    with ctx.db.write() as conn:
        tenants.add_skill_queue(conn, 1, 2, "defaultAudioSkill", now)
    outcome: list[object] = []
    adder_pid: list[int] = []

    def add() -> None:
        try:
            with ctx.db.write() as conn:
                adder_pid.append(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                outcome.append(
                    service.add_campaign(conn, 1, example_body(name="race"), now_ms=now, default_tz="UTC")
                )
        except ApiError as exc:
            outcome.append(exc.code)

    with ctx.db.write() as other:
        repository.insert_campaign(
            other,
            dict(
                vdn_id=1,
                name="race",
                status=1,
                device_type=2,
                begin_at=now,
                end_at=now + 1000,
                timezone="UTC",
                spec={},
                created_at=now,
                updated_at=now,
            ),
        )
        adder = threading.Thread(target=add)
        adder.start()
        # Commit only once the add is blocked on our row (a lock wait), so the index path is the one taken.
        with ctx.db.engine.connect() as probe:
            for _ in range(1000):
                waiting = (
                    adder_pid
                    and probe.execute(
                        sa.text(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE pid = :pid AND wait_event_type = 'Lock' AND wait_event = 'transactionid'"
                        ),
                        {"pid": adder_pid[0]},
                    ).scalar_one()
                )
                probe.rollback()  # pg_stat_activity is a snapshot per transaction
                if waiting:
                    break
                time.sleep(0.01)
            assert waiting, f"the add never blocked on the unique index: {outcome}"
    adder.join(10)
    assert outcome == ["0200005"]
    assert [r.name for r in stored_campaigns(ctx)] == ["race"]
