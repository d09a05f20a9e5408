"""The dependency every /rest/isales route declares: verify auth-v2, bind the caller to the path's vdnId,
refuse replays, then hand the endpoint the parsed JSON body.

The signature is checked before any transaction, against the key remembered for the AK; spending it (the
replay check, and a re-read of the key's row so a revocation takes effect at once) is a write, done in a
transaction of its own (signed_request) or in the endpoint's (unspent_signed_request + spend_and_write)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from fastapi import Request
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from outdial import auth, errors
from outdial.api import jsonbody
from outdial.api.transactions import in_write_transaction
from outdial.context import AppContext
from outdial.errors import ApiError, AuthError
from outdial.secretbox import SecretUnreadable
from outdial.tenants import repository as tenants

log = logging.getLogger("outdial.auth")
P = ParamSpec("P")
T = TypeVar("T")

_JSON_TYPES = ("application/json",)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    key: tenants.ApiKey
    signature: str
    vdn_id: int
    body: bytes
    content_type: str

    @property
    def ak(self) -> str:
        return self.key.ak

    def spend(self, conn: Connection, ctx: AppContext) -> None:
        """Inside a write transaction: the key is still active (a revocation takes effect at once) and the
        signature was not used before; records it as used. AuthError otherwise."""
        if not tenants.key_still_active(conn, self.key):
            raise AuthError("unknown or revoked AK")
        now = ctx.signature_clock.now_ms()
        # Kept for twice the window: a signature stays fresh from timestamp - window to timestamp + window.
        expires_at = now + 2 * ctx.settings.auth_window_seconds * 1000
        if not tenants.consume_signature(conn, self.signature, expires_at, now):
            raise AuthError("signature already used (replay)")

    def json(self, *, required: bool = True) -> Any:
        """The body as JSON. Empty body: {} unless required. Malformed: 02000008, answered with HTTP 200."""
        if not self.body.strip():
            if required:
                raise ApiError(errors.EMPTY, "request body is required")
            return {}
        return jsonbody.decode(self.body)

    def json_object(self, *, required: bool = True) -> dict[str, Any]:
        body = self.json(required=required)
        if not isinstance(body, dict):
            raise ApiError(errors.WRONG_TYPE, "request body must be a JSON object")
        return body


async def context(request: Request) -> AppContext:
    """The endpoints' AppContext. Async so that FastAPI calls it in place: a plain def dependency runs in a
    worker thread, and the two thread switches cost more than everything else it does."""
    return app_context(request)


def app_context(request: Request) -> AppContext:
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
    """The dependency of every signed route: the request verified, its signature spent."""
    req = await unspent_signed_request(request)
    ctx = app_context(request)
    try:
        await in_write_transaction(ctx.db, req.spend, ctx)
    except AuthError as exc:
        log.info("refused %s %s: %s", request.method, request.url.path, exc.reason)
        raise
    return req


async def unspent_signed_request(request: Request) -> SignedRequest:
    """A verified request whose signature is not spent yet: for a hot path that spends it inside its own
    transaction with spend_and_write (one transaction per request instead of two). Everything but the
    replay check is done: signature, freshness, AK bound to the path's VDN, path ids, Content-Type."""
    ctx = app_context(request)
    body = await read_body(request, ctx.settings.max_body_bytes)
    try:
        _refuse_repeated_headers(request.scope["headers"])
        parsed = auth.parse_authorization(request.headers.get("authorization"))
        vdn_text = request.path_params.get("vdnId", "")
        vdn_id = int(vdn_text) if _VDN_TEXT.fullmatch(vdn_text) else -1  # no VDN: refused below (401)
        key = tenants.remembered_key(parsed.ak)
        if key is None:
            key = await run_in_threadpool(_find_key, ctx, parsed.ak)  # once per AK and process
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        auth.verify(
            parsed,
            sk=key.sk,
            method=request.method,
            path=raw_path.decode("latin-1"),
            query_string=request.scope.get("query_string", b"").decode("latin-1"),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]},
            body=body,
            now_ms=ctx.signature_clock.now_ms(),
            window_seconds=ctx.settings.auth_window_seconds,
        )
        if vdn_id not in key.vdn_ids:
            raise AuthError(f"AK {key.ak} is not bound to vdnId {vdn_id}")
    except AuthError as exc:
        log.info("refused %s %s: %s", request.method, request.url.path, exc.reason)
        raise
    _check_path_ids(request.path_params)
    _refuse_nul_in_parameters(request)
    content_type = request.headers.get("content-type", "")
    if body and content_type.split(";")[0].strip().lower() not in _JSON_TYPES:
        raise ApiError("415", "Content-Type must be application/json; charset=UTF-8", http_status=415)
    return SignedRequest(key, parsed.signature, vdn_id, body, content_type)


_unreadable_logged: set[str] = set()


def _find_key(ctx: AppContext, ak: str) -> tenants.ApiKey:
    try:
        with ctx.db.read() as conn:
            key = tenants.find_active_key(conn, ctx.box, ak)
    except SecretUnreadable as exc:
        # The operator's mistake (another secret key), not the caller's: said once in the log, and to the
        # caller as a 401 that tells them to ask (start-up's check_opens normally stops this earlier).
        if ak not in _unreadable_logged:
            _unreadable_logged.add(ak)
            log.error("AK %s cannot be used: %s", ak, exc)
        raise ApiError(
            "401",
            "Unauthorized: the server cannot read this AK's secret; its operator must fix the secret key",
            http_status=401,
        ) from None
    if key is None:
        raise AuthError("unknown or revoked AK")
    return key


async def spend_and_write(
    ctx: AppContext,
    req: SignedRequest,
    fn: Callable[Concatenate[Connection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """`fn(conn, ...)` in one write transaction that first spends the request's signature (an unspent
    request). A refusal (ApiError) rolls the transaction back and then spends the signature in one of its
    own, so a replay of a refused request stays refused."""

    def spend_then(conn: Connection) -> T:
        req.spend(conn, ctx)
        return fn(conn, *args, **kwargs)

    try:
        return await in_write_transaction(ctx.db, spend_then)
    except ApiError:
        await in_write_transaction(ctx.db, req.spend, ctx)
        raise
    except AuthError as exc:
        log.info("refused a request of %s: %s", req.ak, exc.reason)
        raise


# The headers a signature may cover, and Authorization itself: sent twice, which one counts would be a
# guess (the verifier's or a proxy's), so such a request is refused outright.
_SINGLE_HEADERS = frozenset({b"authorization", b"host", b"content-type", b"content-length"})
_VDN_TEXT = re.compile(r"[0-9]{1,9}")


def _refuse_repeated_headers(headers: list[tuple[bytes, bytes]]) -> None:
    seen: set[bytes] = set()
    for name, _value in headers:
        lowered = name.lower()
        if lowered in _SINGLE_HEADERS:
            if lowered in seen:
                raise AuthError(f"more than one {lowered.decode()} header")
            seen.add(lowered)


def _refuse_nul_in_parameters(request: Request) -> None:
    """A NUL in a path or query parameter (%00) names nothing; PostgreSQL refuses it even in a WHERE."""
    params = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in params:
        if "\x00" in str(value) or "\x00" in name:
            raise ApiError(errors.INVALID_CHARS, f"{name.replace(chr(0), '')} must not contain NUL (%00)")


# Integer ids of the paths and the largest value their columns hold (INTEGER, or BIGINT for dataId). A larger
# number cannot name anything; refused here, it never reaches a database that would reject it (nor int(),
# which refuses more than 4,300 digits).
_PATH_ID_LIMITS = {"campaignId": 2**31 - 1, "holidayId": 2**31 - 1, "skillId": 2**31 - 1, "dataId": 2**63 - 1}


def _check_path_ids(path_params: dict[str, str]) -> None:
    for name, limit in _PATH_ID_LIMITS.items():
        text = str(path_params.get(name, "")).lstrip("+-")
        if text.isascii() and text.isdigit() and (len(text) > 19 or int(text) > limit):
            raise ApiError(errors.WRONG_VALUE, f"{name} must be between 1 and {limit}")
