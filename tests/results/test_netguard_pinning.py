"""The callback client dials only allowed addresses, checked at connect time: a name that resolved to a
public address when the URL was checked and to an internal one a moment later (DNS rebinding) is refused.
The receiver is a real HTTP server on loopback; only the name service is faked (the outside world)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from outdial import netguard
from outdial.results import delivery

PUBLIC = "93.184.216.34"


class _Receiver(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["content-length"]))
        _Receiver.seen.append(self.headers["host"])
        body = b'{"retCode":"0"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[int]:
    _Receiver.seen = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_name_rebound_to_loopback_after_the_check_is_refused_at_connect(receiver, rebinding_dns) -> None:
    rebinding_dns.extend([PUBLIC, "127.0.0.1"])  # public for the URL check, loopback for the connection
    url = f"http://callbacks.example:{receiver}/results"
    with netguard.guarded_client([], timeout=5) as client:
        status, error, refused = delivery.push(client, url, [{"id": 1}], [])
    assert status is None and refused and error is not None
    assert "not allowed" in error and "127.0.0.1" not in error  # what the name resolved to stays unsaid
    assert _Receiver.seen == []  # nothing reached the internal address


def test_an_allowed_address_is_dialed_with_the_names_host_header(receiver, rebinding_dns) -> None:
    rebinding_dns.append("127.0.0.1")
    allowed = netguard.parse_networks("127.0.0.0/8")
    url = f"http://callbacks.example:{receiver}/results"
    with netguard.guarded_client(allowed, timeout=5) as client:
        assert delivery.push(client, url, [{"id": 1}], allowed) == (200, None, False)
    assert _Receiver.seen == [f"callbacks.example:{receiver}"]


def test_the_guard_ignores_proxies_from_the_environment(receiver, monkeypatch) -> None:
    # a proxy would be dialed instead of the target, past the guard
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{receiver}")
    allowed = netguard.parse_networks("127.0.0.0/8")
    with netguard.guarded_client(allowed, timeout=5) as client:
        status, error, refused = delivery.push(client, "http://127.0.0.1:9/results", [{"id": 1}], allowed)
    assert status is None and error is not None and not refused  # port 9 refuses; the "proxy" saw nothing
    assert _Receiver.seen == []


def test_the_client_refuses_to_run_unguarded_when_httpx_hides_its_pool(monkeypatch) -> None:
    import httpx

    class OpaqueTransport(httpx.HTTPTransport):  # an httpx whose internals moved
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)  # type: ignore[arg-type]
            self._pool = object()  # type: ignore[assignment]

    monkeypatch.setattr(httpx, "HTTPTransport", OpaqueTransport)
    with pytest.raises(RuntimeError, match="network guard"):
        netguard.guarded_client([], timeout=5)
