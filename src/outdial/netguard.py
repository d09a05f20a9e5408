"""Network guard for the addresses outdial dials on a tenant's behalf (callback targets, SFTP file servers):
resolve the host once and refuse addresses outside the allow-list.

With no allow-list, only global (public) addresses pass, in the standard library's sense
(`ipaddress.is_global`), so a tenant cannot point the server at its own network. IPv6 forms that carry an
IPv4 address (IPv4-mapped, IPv4-compatible, NAT64) are judged by that IPv4 address; 6to4 (2002::/16),
its relay anycast (192.88.99.0/24), Teredo and multicast are refused.

The check that counts is made on the address actually dialed: `allowed_address` resolves once and the
caller connects to the address it returns (GuardedBackend does so in the callback client's connection
pool; the SFTP fetch connects to it directly), so a host that resolved to a public address when it was
checked cannot answer with an internal one a moment later (DNS rebinding).

Refusals never say what a refused host resolved to (a tenant could otherwise resolve internal names
through the server) and are made before any connection, so they tell nothing about what listens there.
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

# is_global says yes to these, yet each reaches or embeds an address it cannot judge
_NOT_GLOBAL: tuple[Network, ...] = (
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments (Python 3.11 knows only parts)
    ipaddress.ip_network("192.88.99.0/24"),  # 6to4 relay anycast (deprecated, RFC 7526)
    ipaddress.ip_network("2002::/16"),  # 6to4: the IPv4 address is tunnelled to
    ipaddress.ip_network("2001::/32"),  # Teredo (already non-global in Python 3.11; kept explicit)
    ipaddress.ip_network("64:ff9b:1::/48"),  # NAT64 local use (RFC 8215)
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known NAT64 prefix: the last 32 bits are IPv4
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d


class RefusedTarget(Exception):
    """The target cannot be dialed now (a host that does not resolve may resolve later)."""


class PolicyRefusal(RefusedTarget):
    """Refused by the network policy (an address outside it, or a URL that is not http(s)): it will be
    refused again until the target or the policy changes."""


def parse_networks(text: str) -> list[Network]:
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, IPv4-compatible, NAT64), else None."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):  # not :: or ::1
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    """Pure: a global unicast address, judged by the IPv4 address it embeds when it embeds one."""
    inner = embedded_ipv4(address)
    if inner is not None:
        return is_public(inner)
    if any(address.version == net.version and address in net for net in _NOT_GLOBAL):
        return False
    return address.is_global and not address.is_multicast


def address_allowed(address: Address, allowed: list[Network]) -> bool:
    """Pure decision: inside the allow-list when one is set, else a public address."""
    if allowed:
        inner = embedded_ipv4(address)  # ::ffff:127.0.0.1 is in 127.0.0.0/8
        candidates = [address] if inner is None else [address, inner]
        return any(a.version == net.version and a in net for a in candidates for net in allowed)
    return is_public(address)


def check_url(url: str, allowed: list[Network]) -> None:
    """Raise RefusedTarget unless every address the URL's host resolves to is allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PolicyRefusal(f"callback URL {url!r} is not an http(s) URL")
    allowed_address(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), allowed)


def allowed_address(host: str, port: int, allowed: list[Network], *, what: str = "callback host") -> str:
    """The address to connect to for host:port: the first it resolves to, provided every address it
    resolves to is allowed (PolicyRefusal otherwise, RefusedTarget when it does not resolve). `what`
    names the host in the reason."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedTarget(f"{what} {host!r} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address_allowed(address, allowed):
            raise PolicyRefusal(f"{what} {host!r}: its address is not allowed by the network policy")
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
