import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import sqlalchemy as sa

from outdial.context import AppContext
from outdial.models.results import DELIVERED, GAVE_UP, callback_deliveries, callback_outbox
from outdial.results import delivery, outbox
from results import factory


class Receiver:
    def __init__(self) -> None:
        self.answers: list[int] = []  # statuses to give, in order; 200 once exhausted
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                status = receiver.answers.pop(0) if receiver.answers else 200
                if status == 200:
                    receiver.received.extend(body)
                data = json.dumps({"retCode": "0" if status == 200 else "1"}).encode()
                self.send_response(status)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cb"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _enqueue(ctx: AppContext, url: str, n: int) -> int:
    with ctx.db.write() as conn:
        cid = factory.campaign(conn, 1, callback_url=url)
        data_id = factory.record(conn, cid, 1)
        for i in range(n):
            aid = factory.attempt(conn, cid, 1, data_id, f"call-{i}", ctx.clock.now_ms())
            outbox.enqueue(
                conn,
                {"id": aid, "call_id": f"call-{i}", "call_status": 6},
                campaign_id=cid,
                vdn_id=1,
                now_ms=ctx.clock.now_ms(),
            )
    return cid


def test_retry_schedule() -> None:
    assert [delivery.retry_delay_ms(n) // 60_000 for n in range(1, 6)] == [0, 10, 20, 40, 80]


def test_failures_retried_then_delivered_in_order(ctx: AppContext, receiver: Receiver) -> None:
    ctx.settings.callback_allowed_networks = "127.0.0.0/8"
    _enqueue(ctx, receiver.url, 3)
    receiver.answers = [500, 500]
    with httpx.Client(timeout=5) as http_client:
        assert delivery.deliver_due(ctx, http_client) == 0  # push 1 fails
        assert delivery.deliver_due(ctx, http_client) == 0  # push 2 at once, fails
        assert delivery.deliver_due(ctx, http_client) == 0  # waiting 10 minutes
        ctx.clock.advance(600)
        assert delivery.deliver_due(ctx, http_client) == 3
    assert [r["callId"] for r in receiver.received] == ["call-0", "call-1", "call-2"]
    with ctx.db.read() as conn:
        assert {r.state for r in conn.execute(sa.select(callback_outbox))} == {DELIVERED}
        assert [
            r.ok for r in conn.execute(sa.select(callback_deliveries).order_by(callback_deliveries.c.id))
        ] == [False, False, True]


def test_loopback_refused_by_default_and_given_up(ctx: AppContext, receiver: Receiver) -> None:
    ctx.settings.callback_max_pushes = 2
    _enqueue(ctx, receiver.url, 1)
    with httpx.Client(timeout=5) as http_client:
        delivery.deliver_due(ctx, http_client)
        delivery.deliver_due(ctx, http_client)
    assert receiver.received == []
    with ctx.db.read() as conn:
        row = conn.execute(sa.select(callback_outbox)).one()
    assert row.state == GAVE_UP and "refused address 127.0.0.1" in row.last_error
