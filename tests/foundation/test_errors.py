"""Protocol-level answers: each malformed request gets its documented status and envelope, never a 500."""

from __future__ import annotations

import pytest

from outdial.client import Client

ADD = "/rest/isales/v2/openapi/campaigns/1"


def test_unknown_route_is_404_with_envelope(client: Client) -> None:
    response = client.request("GET", "/rest/isales/v1/openapi/nothing/here")
    assert response.status_code == 404
    assert response.body["resultCode"] == "404"
    assert "/rest/isales/v1/openapi/nothing/here" in response.body["resultDesc"]


def test_wrong_method_is_405_with_envelope(client: Client) -> None:
    response = client.request("PATCH", ADD, {"name": "x"})
    assert response.status_code == 405
    assert response.body["resultCode"] == "405"


def test_malformed_json_is_02000008(client: Client) -> None:
    response = client.request("POST", ADD, raw_body=b'{"name": "x",')
    assert response.status_code == 200
    assert response.body["resultCode"] == "02000008"
    assert "JSON" in response.body["resultDesc"]


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null"])
def test_body_that_is_not_an_object_is_wrong_type(client: Client, body: bytes) -> None:
    response = client.request("POST", ADD, raw_body=body)
    assert response.status_code == 200
    assert response.body["resultCode"] in {"02000006", "02000001"}


def test_wrong_content_type_is_415(client: Client, http) -> None:
    from outdial import auth

    body = b'{"name":"x"}'
    headers = {"host": "testserver", "content-type": "text/plain", "content-length": str(len(body))}
    headers["authorization"] = auth.sign(ak=client.ak, sk=client.sk, method="POST", path=ADD, query_string="",
                                         headers=headers, body=body, now_ms=client.clock.now_ms())
    response = http.post(ADD, content=body, headers=headers)
    assert response.status_code == 415
    assert response.json()["resultCode"] == "415"


def test_oversized_body_is_413(client: Client, ctx) -> None:
    big = b'{"name":"' + b"x" * (ctx.settings.max_body_bytes + 10) + b'"}'
    response = client.request("POST", ADD, raw_body=big)
    assert response.status_code == 413
    assert response.body["resultCode"] == "413"


def test_non_numeric_path_parameter_is_refused_not_500(client: Client) -> None:
    response = client.request("GET", "/rest/isales/v1/openapi/campaigns/1/abc")
    assert response.status_code in (200, 404)
    assert response.body["resultCode"] in {"02000006", "0200007", "404"}


def test_health_needs_no_signature(http) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_json_nested_too_deeply_is_02000008(client: Client) -> None:
    response = client.request("POST", ADD, raw_body=b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert response.status_code == 200
    assert response.body["resultCode"] == "02000008"
    assert "nested" in response.body["resultDesc"]
