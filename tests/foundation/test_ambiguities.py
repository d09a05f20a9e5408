"""Honest retries and no ambiguity (issue 18, items 6, 7, 12): clients sign with milliseconds, so a retry
within the same second is a new signature; a request with two Authorization headers is refused; a path
with a trailing slash is an unknown path (404 envelope), never a redirect. Then the same against a real
`outdial serve` over a real socket: no redirect whatever the Host header, a 5,000-digit path id answers
without a traceback, and the keep-alive connection survives it."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from foundation.serve_process import free_port, outdial_env, run_outdial, start_serve, stop
from foundation.test_auth import signed
from outdial.auth import AuthV2
from outdial.client import Client
from outdial.clock import VirtualClock
from outdial.tenants.repository import ApiKey

LIST = "/rest/isales/v1/openapi/campaigns/1/999999/pause"
SKILLS = "/rest/outdial/v1/1/skills"


def test_the_same_request_twice_in_one_second_both_succeed(client: Client, clock: VirtualClock) -> None:
    first = client.list_skill_queues(1)
    clock.advance(0.001)  # a retry one millisecond later, in the same second
    second = client.list_skill_queues(1)
    assert first.ok and second.ok, (first.body, second.body)
    # the very same signature (the same millisecond) is still a replay
    assert client.list_skill_queues(1).status_code == 401


def test_authv2_signs_requests_of_a_plain_httpx_client(
    http: TestClient, keys: dict[str, ApiKey], clock
) -> None:
    auth = AuthV2(keys["vdn1"].ak, keys["vdn1"].sk, now_ms=clock.now_ms)
    body = json.dumps({"skillId": 7, "skillName": "seven"}).encode()
    headers = {"content-type": "application/json; charset=UTF-8"}
    added = http.post(SKILLS, content=body, headers=headers, auth=auth)
    assert added.json()["resultCode"] == "0200000", added.json()
    clock.advance(0.001)
    listed = http.get(SKILLS, params={"x": "a b"}, auth=auth)  # a query string is signed too
    assert listed.json()["resultCode"] == "0200000", listed.json()
    assert [q["skillId"] for q in listed.json()["data"]] == [7]
    clock.advance(0.001)
    tampered = http.post(SKILLS, content=body.replace(b": 7", b": 8"), headers=headers, auth=auth)
    assert tampered.json()["resultCode"] == "0200000"  # signed as sent: a changed body is a new signature


def test_two_authorization_headers_are_refused_either_way(http: TestClient, keys, clock) -> None:
    good = signed(keys["vdn1"], clock)
    for pair in ((good, "junk"), ("junk", good), (good, good)):
        response = http.request("PUT", LIST, headers=[("authorization", pair[0]), ("authorization", pair[1])])
        assert response.status_code == 401
        assert response.json()["resultCode"] == "401"
    clock.advance(1)
    assert (
        http.put(LIST, headers={"authorization": signed(keys["vdn1"], clock)}).json()["resultCode"]
        == "0200007"
    )


def test_a_signed_path_with_a_trailing_slash_is_an_unknown_path(http: TestClient, keys, clock) -> None:
    path = SKILLS + "/"
    response = http.get(
        path, headers={"authorization": signed(keys["vdn1"], clock, "GET", path)}, follow_redirects=False
    )
    assert response.status_code == 404
    assert "location" not in response.headers
    assert response.json()["resultCode"] == "404"


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One HTTP/1.1 response with a Content-Length: (head, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return head, body


def test_a_real_server_answers_ambiguous_and_huge_paths_without_500s(tmp_path: Path) -> None:
    env = outdial_env(data_dir=str(tmp_path / "data"))
    created = run_outdial(["keys", "create", "--vdn", "1"], tmp_path, env)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    log = tmp_path / "serve.log"
    server, base_url = start_serve(tmp_path, env, log)
    try:
        port = int(base_url.rsplit(":", 1)[1])
        huge = "/rest/isales/v1/openapi/campaigns/1/" + "9" * 5000
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            # unauthenticated, a 5,000-digit id; then a trailing slash under a foreign Host; then healthz:
            # all three on one keep-alive connection
            sock.sendall(f"GET {huge} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head, body = _read_response(sock)
            assert head.startswith(b"HTTP/1.1 401") and b"connection: close" not in head.lower()
            assert json.loads(body)["resultCode"] == "401"
            sock.sendall(b"GET /rest/outdial/v1/1/skills/ HTTP/1.1\r\nHost: evil.example\r\n\r\n")
            head, body = _read_response(sock)
            assert head.startswith(b"HTTP/1.1 404") and b"location" not in head.lower()
            assert json.loads(body)["resultCode"] == "404"
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head, body = _read_response(sock)
            assert head.startswith(b"HTTP/1.1 200") and json.loads(body)["status"] == "ok"

        client = Client(base_url, key["ak"], key["sk"])  # the real clock
        try:
            signed_huge = client.request("GET", huge)
            assert signed_huge.code == "02000007" and "campaignId" in signed_huge.body["resultDesc"]
            # the same request twice at once: two signatures (milliseconds), both answered
            with httpx.Client(base_url=base_url, auth=AuthV2(key["ak"], key["sk"])) as plain:
                answers = [plain.get(SKILLS) for _ in range(2)]
            assert [a.json()["resultCode"] for a in answers] == ["0200000", "0200000"]
        finally:
            client.close()
        # `outdial request` twice in a row, as a retrying script would
        for _ in range(2):
            sent = run_outdial(
                ["request", "GET", base_url + SKILLS, "--ak", key["ak"], "--sk", key["sk"]],
                tmp_path,
                env,
            )
            assert sent.returncode == 0 and json.loads(sent.stdout)["resultCode"] == "0200000", sent.stderr
    finally:
        stop(server)
    text = log.read_text()
    assert "Traceback" not in text and "unexpected error" not in text, text[-2000:]


def test_a_bug_answers_the_500_envelope_logs_once_and_keeps_the_connection(
    ctx, caplog: pytest.LogCaptureFixture
) -> None:
    """A real uvicorn on a real socket (in a thread: the failing route exists only in this test)."""
    import threading

    import uvicorn

    from outdial.app import create_app

    app = create_app(ctx)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        with (
            caplog.at_level(logging.ERROR),
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
        ):
            sock.sendall(b"GET /boom HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            head, body = _read_response(sock)
            assert head.startswith(b"HTTP/1.1 500") and json.loads(body)["resultCode"] == "500"
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # the same connection
            head, _ = _read_response(sock)
            assert head.startswith(b"HTTP/1.1 200")
    finally:
        server.should_exit = True
        thread.join(10)
    tracebacks = [r for r in caplog.records if r.exc_info and "a bug" in str(r.exc_info[1])]
    assert len(tracebacks) == 1 and tracebacks[0].name == "outdial.api"
