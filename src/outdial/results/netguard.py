"""Network guard for callback targets: resolve the URL's host and refuse addresses outside the allow-list.

With no allow-list, only public addresses pass: loopback, private, link-local, multicast, unspecified and
reserved addresses are refused, so a tenant cannot point callbacks at the service's own network.

The check that counts is made on the address actually dialed (GuardedBackend, in the callback client's
connection pool): a host that resolved to a public address when the URL was checked cannot answer with an
internal one a moment later, when the connection is made (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RefusedTarget(Exception):
    """The callback URL is malformed, does not resolve, or resolves to a refused address."""


def parse_networks(text: str) -> list[Network]:
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]


def address_allowed(address: Address, allowed: list[Network]) -> bool:
    """Pure decision: inside the allow-list when one is set, else a public (global) address."""
    if allowed:
        return any(address.version == net.version and address in net for net in allowed)
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    )


def check_url(url: str, allowed: list[Network]) -> None:
    """Raise RefusedTarget unless every address the URL's host resolves to is allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedTarget(f"callback URL {url!r} is not an http(s) URL")
    allowed_address(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), allowed)


def allowed_address(host: str, port: int, allowed: list[Network]) -> str:
    """The address to connect to for host:port: the first it resolves to, provided every address it
    resolves to is allowed (RefusedTarget otherwise)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise RefusedTarget(f"callback host {host!r} does not resolve: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address_allowed(address, allowed):
            raise RefusedTarget(f"callback host {host!r} resolves to refused address {address}")
    return str(infos[0][4][0])


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, dialing only the address allowed_address approved: the name is resolved
    and checked once, here, for the connection itself. TLS still verifies the certificate against the
    URL's host name (httpcore passes it to start_tls, not the address)."""

    def __init__(self, allowed: list[Network]) -> None:
        super().__init__()
        self.allowed = allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        address = allowed_address(host, port, self.allowed)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


def guarded_client(allowed: list[Network], timeout: float) -> httpx.Client:
    """The callback pushes' HTTP client: connections only to allowed addresses (GuardedBackend), no
    redirects (a redirect could point anywhere), no proxy from the environment (it would be dialed
    instead of the target)."""
    transport = httpx.HTTPTransport(trust_env=False)
    pool = getattr(transport, "_pool", None)
    if not isinstance(getattr(pool, "_network_backend", None), httpcore.NetworkBackend):
        # httpx offers no public way to set the backend; refuse to run unguarded if its internals move
        raise RuntimeError("cannot install the callback network guard in this httpx version")
    pool._network_backend = GuardedBackend(allowed)  # type: ignore[union-attr]
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)
