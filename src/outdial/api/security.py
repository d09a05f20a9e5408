"""The dependency every /rest/isales route declares: verify auth-v2, bind the caller to the path's vdnId,
refuse replays, then hand the endpoint the parsed JSON body."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.engine import Connection

from outdial import auth, errors
from outdial.api.transactions import in_write_transaction
from outdial.context import AppContext
from outdial.errors import ApiError, AuthError
from outdial.tenants import repository as tenants

log = logging.getLogger("outdial.auth")

_JSON_TYPES = ("application/json",)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    ak: str
    vdn_id: int
    body: bytes
    content_type: str

    def json(self, *, required: bool = True) -> Any:
        """The body as JSON. Empty body: {} unless required. Malformed: 02000008, answered with HTTP 200."""
        if not self.body.strip():
            if required:
                raise ApiError(errors.EMPTY, "request body is required")
            return {}
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(errors.UNPARSABLE, f"request body is not valid JSON ({exc})") from None
        except RecursionError:
            raise ApiError(errors.UNPARSABLE, "request body is nested too deeply") from None

    def json_object(self, *, required: bool = True) -> dict[str, Any]:
        body = self.json(required=required)
        if not isinstance(body, dict):
            raise ApiError(errors.WRONG_TYPE, "request body must be a JSON object")
        return body


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError("413", f"request body larger than {limit} bytes", http_status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError("413", f"request body larger than {limit} bytes", http_status=413)
        chunks.append(chunk)
    return b"".join(chunks)


async def signed_request(request: Request) -> SignedRequest:
    ctx = context(request)
    body = await read_body(request, ctx.settings.max_body_bytes)
    try:
        parsed = auth.parse_authorization(request.headers.get("authorization"))
        vdn_text = request.path_params.get("vdnId", "")
        vdn_id = int(vdn_text) if vdn_text.isdigit() else -1
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]}
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        await in_write_transaction(
            ctx.db,
            _check,
            ctx,
            parsed,
            request.method,
            raw_path.decode("latin-1"),
            request.scope.get("query_string", b"").decode("latin-1"),
            headers,
            body,
            vdn_id,
        )
    except AuthError as exc:
        log.info("refused %s %s: %s", request.method, request.url.path, exc.reason)
        raise
    _check_path_ids(request.path_params)
    content_type = request.headers.get("content-type", "")
    if body and content_type.split(";")[0].strip().lower() not in _JSON_TYPES:
        raise ApiError("415", "Content-Type must be application/json; charset=UTF-8", http_status=415)
    return SignedRequest(parsed.ak, vdn_id, body, content_type)


# Integer ids of the paths and the largest value their columns hold (INTEGER, or BIGINT for dataId). A larger
# number cannot name anything; refused here, it never reaches a database that would reject it.
_PATH_ID_LIMITS = {"campaignId": 2**31 - 1, "holidayId": 2**31 - 1, "skillId": 2**31 - 1, "dataId": 2**63 - 1}


def _check_path_ids(path_params: dict[str, str]) -> None:
    for name, limit in _PATH_ID_LIMITS.items():
        text = str(path_params.get(name, "")).lstrip("+-")
        if text.isdigit() and int(text) > limit:
            raise ApiError(errors.WRONG_VALUE, f"{name} must be between 1 and {limit}")


def _check(
    conn: Connection,
    ctx: AppContext,
    parsed: auth.ParsedAuthorization,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    vdn_id: int,
) -> None:
    now = ctx.signature_clock.now_ms()
    window = ctx.settings.auth_window_seconds
    key = tenants.find_active_key(conn, ctx.box, parsed.ak)
    if key is None:
        raise AuthError("unknown or revoked AK")
    auth.verify(
        parsed,
        sk=key.sk,
        method=method,
        path=path,
        query_string=query,
        headers=headers,
        body=body,
        now_ms=now,
        window_seconds=window,
    )
    if vdn_id not in key.vdn_ids:
        raise AuthError(f"AK {key.ak} is not bound to vdnId {vdn_id}")
    # Kept for twice the window: a signature stays fresh from timestamp - window to timestamp + window.
    if not tenants.consume_signature(conn, parsed.signature, now + 2 * window * 1000, now):
        raise AuthError("signature already used (replay)")
