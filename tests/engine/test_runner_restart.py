"""Restarts and several workers: an attempt is written before its call, a worker that dies leaves no double
and no missing attempt (its open attempts are reconciled as 34608 by whoever takes the campaign over), and
two engines on one database dial disjoint campaigns through the lease."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import sqlalchemy as sa
from runner_support import ALL_PERSON, attempts_of, engine, load_and_resume, records_of, utc

from campaigns.factories import create_campaign
from outdial.context import AppContext
from outdial.db import Database
from outdial.engine import repository as repo
from outdial.engine.runner import LEASE_TTL_MS
from outdial.models import calldata as cd
from outdial.models.engine import OPEN, RECONCILED

S = 1000
T0 = utc("2026-11-23 09:00:00")
RETRY = {"policyType": 0, "retryDay": 1, "retryTimes": 2, "callInterval": 60}
HERE = Path(__file__).parent


def _campaign_with_records(ctx, client, n=40):
    cid = create_campaign(client, callPolicy=None, retryPolicy=RETRY, initStatus=1)
    load_and_resume(ctx, client, {cid: [f"1380000{i:04d}" for i in range(n)]})
    return cid


def _assert_no_double_and_nothing_open(ctx, cid):
    made = attempts_of(ctx, cid)
    assert all(a.state != OPEN for a in made)
    by_record: dict[int, list] = {}
    for a in made:
        by_record.setdefault(a.data_id, []).append(a)
    for tries in by_record.values():  # one record is never in two calls at once
        for before, after in zip(tries, tries[1:], strict=False):
            assert after.created_at >= before.end_at
        assert [int(a.call_id.rsplit("-", 1)[1]) for a in tries] == list(range(1, len(tries) + 1))
    assert all(r.state in (cd.FINISHED, cd.RECYCLED) for r in records_of(ctx, cid))
    return made


def test_dropped_engine_is_taken_over_after_its_lease_and_open_attempts_are_reconciled(ctx, client, clock):
    cid = _campaign_with_records(ctx, client)
    first = engine(ctx, mix=ALL_PERSON, agents=10, talk_mean_s=60, talk_cv=0, refresh_ms=1000)
    first.run_virtual(T0 + 30 * S)
    open_at_kill = {a.call_id for a in attempts_of(ctx, cid) if a.state == OPEN}
    assert open_at_kill  # calls were in progress when it died
    with ctx.db.read() as conn:
        lease_end = conn.execute(sa.text("SELECT expires_at FROM campaign_leases")).scalar_one()
    placed_before = first.placed
    del first  # killed: no release, its simulated calls vanish with it

    second = engine(ctx, mix=ALL_PERSON, agents=10, talk_mean_s=60, talk_cv=0, owner="w2", refresh_ms=1000)
    second.run_virtual(utc("2026-11-23 09:20:00"))
    made = _assert_no_double_and_nothing_open(ctx, cid)
    assert len(made) == placed_before + second.placed  # every call placed has its attempt, and only those
    reconciled = [a for a in made if a.state == RECONCILED]
    assert {a.call_id for a in reconciled} == open_at_kill
    for a in reconciled:
        assert (a.fail_code, a.result_type, a.call_status) == ("34608", 9, 5)
        assert lease_end < a.end_at <= lease_end + 1 * S  # taken over at the first refresh after expiry
    assert (
        min(a.created_at for a in made if a.call_id not in open_at_kill and a.created_at > T0 + 30 * S)
        > lease_end
    )
    # a reconciled record goes on by its policy: retried 60 s later (retryTimes 2)
    retried = {a.data_id for a in reconciled}
    assert all(sum(1 for a in made if a.data_id == d) == 2 for d in retried)


def test_a_process_killed_with_sigkill_resumes_without_double_or_missing_attempts(
    ctx, client, clock, tmp_path
):
    cid = _campaign_with_records(ctx, client)
    child = subprocess.Popen(
        [sys.executable, str(HERE / "kill_target.py"), ctx.db.url, str(T0), str(tmp_path / "child")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if int(line.split()[0]) >= 15:  # mid-campaign: 15 calls placed
                break
        else:
            raise AssertionError(child.stderr.read() if child.stderr else "child ended early")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    made = attempts_of(ctx, cid)
    assert len(made) >= 15 and any(a.state == OPEN for a in made)
    last = max(a.created_at for a in made)
    clock.set(max(clock.now_ms(), last + LEASE_TTL_MS + S))
    after = engine(ctx, mix=ALL_PERSON, agents=10, talk_mean_s=60, talk_cv=0, owner="w2", refresh_ms=1000)
    after.run_virtual(clock.now_ms() + 20 * 60 * S)
    final = _assert_no_double_and_nothing_open(ctx, cid)
    killed = [a for a in final if a.created_at <= last]
    assert len(final) == len(killed) + after.placed  # nothing the dead process wrote was lost or redone
    assert all(a.state == RECONCILED for a in killed if a.fail_code == "34608")


def _second_context(ctx: AppContext) -> AppContext:
    return AppContext(settings=ctx.settings, db=Database(ctx.db.url), clock=ctx.clock, box=ctx.box)


def test_two_engines_on_one_database_dial_disjoint_campaigns(ctx, client, clock):
    ctx2 = _second_context(ctx)
    e1 = engine(ctx, mix=ALL_PERSON, agents=10, talk_mean_s=60, talk_cv=0, owner="w1", refresh_ms=1000)
    e2 = engine(ctx2, mix=ALL_PERSON, agents=10, talk_mean_s=60, talk_cv=0, owner="w2", refresh_ms=1000)
    placed_by: dict[int, set[str]] = {}
    for e in (e1, e2):
        place = e.port.place_call

        def spy(request, place=place, owner=e.owner):
            placed_by.setdefault(request.campaign_id, set()).add(owner)
            place(request)

        e.port.place_call = spy  # type: ignore[method-assign]

    a = _campaign_with_records(ctx, client, 100)
    e1.step()  # w1 takes campaign a
    b = _campaign_with_records(ctx, client, 100)
    e2.step()  # w2 takes b (a is leased to w1)

    def both_until(until):
        while clock.now_ms() < until:
            nxt = min(e1.step(), e2.step())
            clock.set(min(max(nxt, clock.now_ms()), until))

    both_until(T0 + 120 * S)
    assert placed_by == {a: {"w1"}, b: {"w2"}}
    e1.release_all()  # w1 stops (graceful): w2 takes its campaign at its next refresh
    while clock.now_ms() < utc("2026-11-23 09:25:00"):
        clock.set(min(max(e2.step(), clock.now_ms()), utc("2026-11-23 09:25:00")))
    assert placed_by == {a: {"w1", "w2"}, b: {"w2"}}
    for cid in (a, b):
        _assert_no_double_and_nothing_open(ctx, cid)
    ctx2.db.dispose()


def test_only_one_of_many_concurrent_claims_wins_a_lease(ctx, client):
    cid = create_campaign(client)
    contexts = [_second_context(ctx) for _ in range(6)]
    barrier = threading.Barrier(len(contexts))
    won: list[str] = []

    def claim(i: int, c: AppContext) -> None:
        barrier.wait()
        with c.db.write() as conn:
            if repo.claim_lease(conn, cid, f"w{i}", T0, LEASE_TTL_MS):
                won.append(f"w{i}")

    threads = [threading.Thread(target=claim, args=(i, c)) for i, c in enumerate(contexts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    with ctx.db.read() as conn:
        assert conn.execute(sa.text("SELECT owner FROM campaign_leases")).scalar_one() == won[0]
    for c in contexts:
        c.db.dispose()


def _lease(ctx):
    with ctx.db.read() as conn:
        return conn.execute(sa.text("SELECT owner, expires_at FROM campaign_leases")).one()


def test_dialing_keeps_the_lease_ahead_and_a_lease_taken_over_stops_dialing_at_once(ctx, client, clock):
    cid = _campaign_with_records(ctx, client, 200)
    e = engine(ctx, mix=ALL_PERSON, agents=10, talk_mean_s=20, talk_cv=0)  # refreshes every 10 min only
    dialing_at = []
    while clock.now_ms() < T0 + 3 * LEASE_TTL_MS:  # three lease lifetimes without a refresh
        placed, now = e.placed, clock.now_ms()
        next_at = e.step()
        if e.placed > placed:
            dialing_at.append(now)
            owner, expires = _lease(ctx)  # never left with less than half its TTL while it dials
            assert owner == "w1" and expires >= now + LEASE_TTL_MS // 2
        clock.set(max(next_at, now))
    assert max(dialing_at) > T0 + 2 * LEASE_TTL_MS

    while True:  # until a step renews the lease: it then has its whole TTL left
        next_at = e.step()
        if _lease(ctx).expires_at == clock.now_ms() + LEASE_TTL_MS:
            break
        clock.set(max(next_at, clock.now_ms()))
    taken_at = clock.now_ms()
    with ctx.db.write() as conn:  # another worker holds the lease now (as its claim would have written)
        conn.execute(
            sa.text("UPDATE campaign_leases SET owner = 'w2', expires_at = :e"), {"e": taken_at + 60 * S}
        )
    placed = e.placed
    e.run_virtual(taken_at + 5 * 60 * S)
    assert e.placed == placed  # no further call, though the lease it wrote last had 30 s left
    assert all(a.created_at <= taken_at for a in attempts_of(ctx, cid))
    assert _lease(ctx).owner == "w2"
