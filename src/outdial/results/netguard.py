"""Network guard for callback targets: resolve the URL's host and refuse addresses outside the allow-list.

With no allow-list, only public addresses pass: loopback, private, link-local, multicast, unspecified and
reserved addresses are refused, so a tenant cannot point callbacks at the service's own network.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

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
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise RefusedTarget(f"callback host {parts.hostname!r} does not resolve: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address_allowed(address, allowed):
            raise RefusedTarget(f"callback host {parts.hostname!r} resolves to refused address {address}")
