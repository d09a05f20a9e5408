from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from outdial import auth
from outdial.clock import Clock, RealClock

CONTENT_TYPE = "application/json; charset=UTF-8"


@dataclass
class Response:
    status_code: int
    body: Any  # parsed JSON when the answer is JSON, else the text

    @property
    def code(self) -> str | None:
        return self.body.get("resultCode") if isinstance(self.body, dict) else None

    @property
    def ok(self) -> bool:
        return self.status_code == 200 and self.code == "0200000"


class BaseClient:
    """`http` may be any httpx.Client (e.g. FastAPI's TestClient); by default one is made for base_url."""

    def __init__(
        self,
        base_url: str,
        ak: str,
        sk: str,
        *,
        http: httpx.Client | None = None,
        clock: Clock | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.ak = ak
        self.sk = sk
        self.http = http or httpx.Client(timeout=timeout)
        self.clock = clock or RealClock()
        # signs each request as it is sent, with a millisecond timestamp: a retry is a new signature
        self.auth = auth.AuthV2(ak, sk, now_ms=self.clock.now_ms)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        raw_body: bytes | None = None,
    ) -> Response:
        """Send a signed request. `path` starts with /rest/...; `body` is sent as JSON unless None."""
        url = self.base_url + path
        data = (
            raw_body
            if raw_body is not None
            else (
                b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            )
        )
        query_string = urlencode({k: v for k, v in (query or {}).items() if v is not None})
        full_url = url + ("?" + query_string if query_string else "")
        headers = {"content-type": CONTENT_TYPE, "content-length": str(len(data))}
        response = self.http.request(method, full_url, content=data, headers=headers, auth=self.auth)
        try:
            parsed: Any = response.json()
        except ValueError:
            parsed = response.text
        return Response(response.status_code, parsed)

    def close(self) -> None:
        self.http.close()
