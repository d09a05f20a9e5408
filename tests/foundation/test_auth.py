"""auth-v2 end to end through the real app. The reference signer below is written from the reference
page (section 1) independently of outdial.auth, so a mistake in outdial's signer cannot hide itself."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from outdial.clock import VirtualClock
from outdial.tenants.repository import ApiKey

PATH = "/rest/isales/v1/openapi/campaigns/1/999999/pause"


def reference_sign(
    ak: str,
    sk: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    timestamp: str,
    query: dict[str, str] | None = None,
) -> str:
    def n(s: str | bytes) -> str:
        return quote(s, safe="-._~")

    names = sorted(headers)
    signed = ";".join(names)
    prefix = f"auth-v2/{ak}/{timestamp}/{signed}"
    signing_key = hmac.new(sk.encode(), prefix.encode(), hashlib.sha256).hexdigest()
    canonical = method + "\n" + path + "\n"
    if query:
        canonical += "&".join(sorted(f"{n(k)}={n(v)}" for k, v in query.items())) + "\n"
    canonical += signed + "\n" + "\n".join(f"{n(k)}:{n(headers[k])}" for k in names) + "\n"
    if body:
        canonical += n(body)
    signature = hmac.new(signing_key.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return f"{prefix}/{signature}"


def stamp(clock: VirtualClock, millis: bool = False) -> str:
    dt = datetime.fromtimestamp(clock.now_ms() / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z" if millis else "%Y-%m-%dT%H:%M:%SZ")


def send(
    http: TestClient,
    method: str,
    path: str,
    authorization: str | None,
    body: bytes = b"",
    content_type: str = "application/json; charset=UTF-8",
):
    headers = {"content-type": content_type}
    if authorization is not None:
        headers["authorization"] = authorization
    return http.request(method, path, content=body, headers=headers)


def signed(
    key: ApiKey,
    clock: VirtualClock,
    method: str = "PUT",
    path: str = PATH,
    body: bytes = b"",
    headers: tuple[str, ...] = ("host",),
    millis: bool = False,
) -> str:
    values = {
        "host": "testserver",
        "content-type": "application/json; charset=UTF-8",
        "content-length": str(len(body)),
    }
    return reference_sign(
        key.ak, key.sk, method, path, {h: values[h] for h in headers}, body, stamp(clock, millis)
    )


@pytest.mark.parametrize("headers", [("host",), ("content-length", "content-type", "host")])
@pytest.mark.parametrize("millis", [False, True])
def test_a_reference_signature_is_accepted(http, keys, clock, headers, millis) -> None:
    # The campaign does not exist: passing auth means reaching the business answer 0200007.
    response = send(http, "PUT", PATH, signed(keys["vdn1"], clock, headers=headers, millis=millis))
    assert response.status_code == 200
    assert response.json()["resultCode"] == "0200007"


def test_body_is_signed(http, keys, clock) -> None:
    body = json.dumps({"archiveHistory": 0}).encode()
    auth = signed(keys["vdn1"], clock, "DELETE", "/rest/isales/v1/openapi/campaigns/1/999999", body)
    tampered = json.dumps({"archiveHistory": 1}).encode()
    assert (
        send(http, "DELETE", "/rest/isales/v1/openapi/campaigns/1/999999", auth, tampered).status_code == 401
    )
    assert send(http, "DELETE", "/rest/isales/v1/openapi/campaigns/1/999999", auth, body).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer abc",
        "auth-v2/AK/2026-11-23T09:00:00Z/host",
        "auth-v2//2026-11-23T09:00:00Z/host/" + "0" * 64,
        "auth-v2/AK/23-11-2026/host/" + "0" * 64,
        "auth-v2/AK/2026-11-23T09:00:00Z/content-type/" + "0" * 64,  # host not signed
        "auth-v2/AK/2026-11-23T09:00:00Z/host;content-type/" + "0" * 64,  # not sorted
    ],
)
def test_missing_or_malformed_authorization_is_401(http, authorization) -> None:
    response = send(http, "PUT", PATH, authorization)
    assert response.status_code == 401
    assert response.json()["resultCode"] == "401"


def test_unknown_ak_and_wrong_sk_are_401(http, keys, clock) -> None:
    stranger = ApiKey("NOSUCHKEY", keys["vdn1"].sk, frozenset({1}), "")
    assert send(http, "PUT", PATH, signed(stranger, clock)).status_code == 401
    wrong_sk = ApiKey(keys["vdn1"].ak, "not-the-secret", frozenset({1}), "")
    assert send(http, "PUT", PATH, signed(wrong_sk, clock)).status_code == 401


def test_replayed_signature_is_401(http, keys, clock) -> None:
    authorization = signed(keys["vdn1"], clock)
    assert send(http, "PUT", PATH, authorization).status_code == 200
    clock.advance(1)
    assert send(http, "PUT", PATH, authorization).status_code == 401


@pytest.mark.parametrize("skew_seconds, status", [(-301, 401), (-299, 200), (299, 200), (301, 401)])
def test_timestamp_window(http, keys, clock, skew_seconds, status) -> None:
    authorization = signed(keys["vdn1"], clock)
    clock.advance(301)  # move the server on, then sign relative to it
    from outdial.clock import VirtualClock as VC

    signer_clock = VC(clock.now_ms() + skew_seconds * 1000)
    authorization = signed(keys["vdn1"], signer_clock)
    assert send(http, "PUT", PATH, authorization).status_code == status


def test_cross_vdn_request_is_401_and_reveals_nothing(http, keys, clock) -> None:
    other = "/rest/isales/v1/openapi/campaigns/2/999999/pause"
    response = send(http, "PUT", other, signed(keys["vdn1"], clock, path=other))
    assert response.status_code == 401
    assert response.json() == {
        "resultCode": "401",
        "resultDesc": "Unauthorized",
        "returnCode": "401",
        "returnDesc": "Unauthorized",
    }


def test_revoked_key_is_401(http, keys, clock, ctx) -> None:
    from outdial.tenants import repository as tenants

    with ctx.db.write() as conn:
        assert tenants.revoke_key(conn, keys["vdn1"].ak, clock.now_ms())
    assert send(http, "PUT", PATH, signed(keys["vdn1"], clock)).status_code == 401


@pytest.mark.parametrize("millis", [True, False])
def test_outdial_client_signs_like_the_reference(keys, clock, millis: bool) -> None:
    from outdial import auth

    clock.advance(0.123)  # a timestamp with milliseconds, the default (honest retries)
    body = b'{"name":"x y"}'
    headers = {
        "host": "testserver",
        "content-type": "application/json; charset=UTF-8",
        "content-length": str(len(body)),
    }
    ours = auth.sign(
        ak=keys["vdn1"].ak,
        sk=keys["vdn1"].sk,
        method="POST",
        path="/a/b",
        query_string="z=1&a=%20",
        headers=headers,
        body=body,
        now_ms=clock.now_ms(),
        **({} if millis else {"with_millis": False}),
    )
    stamped = datetime.fromtimestamp(clock.now_ms() / 1000, tz=UTC)
    timestamp = stamped.strftime("%Y-%m-%dT%H:%M:%S") + (".123Z" if millis else "Z")
    theirs = reference_sign(
        keys["vdn1"].ak, keys["vdn1"].sk, "POST", "/a/b", headers, body, timestamp, {"z": "1", "a": " "}
    )
    assert ours == theirs
