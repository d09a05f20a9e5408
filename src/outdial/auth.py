"""auth-v2 ("C2" AK/SK) signatures: one signer, used by outdial.client and by the verifier.

Authorization: auth-v2/{AK}/{timestamp}/{signedHeaders}/{signature}
See docs/authentication.md for the algorithm and for outdial's choices (window, replay, signed headers).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

import httpx

from outdial.errors import AuthError

_UNRESERVED = "-._~"
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{3})?Z$")
_HEADER_NAME = re.compile(r"^[a-z0-9-]+$")


def norm(value: str | bytes) -> str:
    """Percent-encode every UTF-8 byte except A-Z a-z 0-9 - . _ ~ (uppercase hex)."""
    return quote(value, safe=_UNRESERVED)


def canonical_query(query_string: str) -> str:
    pairs = parse_qsl(query_string, keep_blank_values=True)
    return "&".join(sorted(f"{norm(k)}={norm(v)}" for k, v in pairs))


def canonical_request(
    method: str, path: str, query_string: str, signed_headers: list[str], headers: dict[str, str], body: bytes
) -> str:
    """`headers` maps lowercase names to values; `signed_headers` are lowercase and sorted."""
    parts = [method.upper(), path]
    if query_string:
        parts.append(canonical_query(query_string))
    parts.append(";".join(signed_headers))
    parts.append("\n".join(f"{norm(name)}:{norm(headers.get(name, '').strip())}" for name in signed_headers))
    text = "\n".join(parts) + "\n"
    if body:
        text += norm(body)
    return text


def signature_for(sk: str, ak: str, timestamp: str, signed_headers: list[str], canonical: str) -> str:
    prefix = f"auth-v2/{ak}/{timestamp}/{';'.join(signed_headers)}"
    signing_key = hmac.new(sk.encode(), prefix.encode(), hashlib.sha256).hexdigest()
    return hmac.new(signing_key.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def format_timestamp(ms: int, with_millis: bool = False) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if with_millis:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


SIGNED_HEADERS = ("content-length", "content-type", "host")


def sign(
    *,
    ak: str,
    sk: str,
    method: str,
    path: str,
    query_string: str,
    headers: dict[str, str],
    body: bytes,
    now_ms: int,
    signed_headers: tuple[str, ...] = SIGNED_HEADERS,
    with_millis: bool = True,
) -> str:
    """The Authorization header value for a request. `headers` must hold every signed header.

    The timestamp has milliseconds by default: the server refuses a signature it has seen (replay), and a
    client that retries a request within the same second would otherwise send the very same one."""
    lowered = {k.lower(): v for k, v in headers.items()}
    names = sorted(h for h in signed_headers if h in lowered)
    if "host" not in names:
        raise ValueError("the host header must be signed")
    timestamp = format_timestamp(now_ms, with_millis)
    canonical = canonical_request(method, path, query_string, names, lowered, body)
    return f"auth-v2/{ak}/{timestamp}/{';'.join(names)}/{signature_for(sk, ak, timestamp, names, canonical)}"


@dataclass(frozen=True, slots=True)
class ParsedAuthorization:
    ak: str
    timestamp: str
    timestamp_ms: int
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str | None) -> ParsedAuthorization:
    if not value:
        raise AuthError("missing Authorization header")
    parts = value.strip().split("/")
    if len(parts) != 5 or parts[0] != "auth-v2":
        raise AuthError("malformed Authorization header")
    _, ak, timestamp, headers_text, signature = parts
    match = _TIMESTAMP.match(timestamp)
    if not ak or not match:
        raise AuthError("malformed Authorization header")
    try:
        dt = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise AuthError("malformed timestamp") from None
    millis = int(match.group(2)[1:]) if match.group(2) else 0
    signed = headers_text.split(";")
    if signed != sorted(signed) or any(not _HEADER_NAME.match(h) for h in signed) or "host" not in signed:
        raise AuthError("signed headers must be sorted lowercase names including host")
    if not re.fullmatch(r"[0-9a-f]{64}", signature):
        raise AuthError("malformed signature")
    return ParsedAuthorization(ak, timestamp, int(dt.timestamp()) * 1000 + millis, signed, signature)


def verify(
    parsed: ParsedAuthorization,
    *,
    sk: str,
    method: str,
    path: str,
    query_string: str,
    headers: dict[str, str],
    body: bytes,
    now_ms: int,
    window_seconds: int,
) -> None:
    """Raise AuthError unless the signature is right and fresh. Replay is checked by the caller."""
    if abs(now_ms - parsed.timestamp_ms) > window_seconds * 1000:
        raise AuthError("timestamp outside the accepted window")
    canonical = canonical_request(method, path, query_string, parsed.signed_headers, headers, body)
    expected = signature_for(sk, parsed.ak, parsed.timestamp, parsed.signed_headers, canonical)
    if not hmac.compare_digest(expected, parsed.signature):
        raise AuthError("signature does not match")


class AuthV2(httpx.Auth):
    """auth-v2 as an httpx authentication, for integrators who send requests with their own httpx client:
    `httpx.Client(base_url=..., auth=AuthV2(ak, sk)).post("/rest/isales/...", content=...)`.

    Each request is signed as it is sent, with a millisecond timestamp, so a retry gets a new signature.
    Signed: host, and content-type and content-length when the request has them. `now_ms` replaces the
    real clock (tests, simulations)."""

    requires_request_body = True

    def __init__(self, ak: str, sk: str, *, now_ms: Callable[[], int] | None = None) -> None:
        self.ak = ak
        self.sk = sk
        self.now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        body = request.content
        if body and "content-length" not in request.headers:
            request.headers["content-length"] = str(len(body))
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        request.headers["authorization"] = sign(
            ak=self.ak,
            sk=self.sk,
            method=request.method,
            path=path,
            query_string=query,
            headers=dict(request.headers),
            body=body,
            now_ms=self.now_ms(),
        )
        yield request
