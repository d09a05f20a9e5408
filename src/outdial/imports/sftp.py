"""Fetch one file from an SFTP file server (asyncssh), for the import worker.

`fetch_file` is synchronous: it runs its own event loop, so a worker thread simply calls it. Every
failure is an ImportFailure whose reason tells the user what to fix (server down, timeout, login
refused, host key mismatch, file missing/empty/too large); none carries a password or key.

Host keys: when the file server has a pinned key (`host_key`, one or more OpenSSH public keys or
known_hosts lines), the server must present one of them or the fetch fails before logging in. When
none is pinned the key is accepted (trust on first use is the caller's choice): its fingerprint is
logged and handed to `on_unpinned_key`, so the caller may pin it; `probe_host_key` fetches it up front.
Nothing is read from the process's ~/.ssh (no config, keys, agent or known_hosts).

Network policy: the host is resolved once and the connection made to that address, which must be allowed
by the file server's `allowed_networks` (outdial.netguard: public addresses only when empty; the service
passes OUTDIAL_FILESERVER_ALLOWED_NETWORKS). A refused address is never connected to, and its reason is
the same whatever listens there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import asyncssh

from outdial import netguard
from outdial.imports.failures import ImportFailure

log = logging.getLogger("outdial.imports.sftp")

READ_CHUNK = 4 * 1024 * 1024  # asyncssh splits one read into parallel SFTP requests
# The ciphers asyncssh offers, AES-GCM first: with AES instructions it costs about a quarter less CPU per
# byte than asyncssh's first choice, chacha20-poly1305 (a 75 MB file over loopback: 0.51 vs 0.67 s). A
# server without AES-GCM gets the rest of the default list, in its order.
_GCM = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]
ENCRYPTION_ALGS = _GCM + [
    name for alg in asyncssh.encryption.get_default_encryption_algs() if (name := alg.decode()) not in _GCM
]


@dataclass(frozen=True)
class FileServer:
    """Where and how to log in. The secrets are plain text here (decrypted by the caller) and never
    shown by repr."""

    host: str
    port: int
    username: str
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)  # OpenSSH or PEM text, unencrypted
    default_path: str = "."
    host_key: str | None = None  # pinned public key(s), OpenSSH or known_hosts form; None: not pinned
    allowed_networks: tuple[netguard.Network, ...] = ()  # where it may resolve to; empty: public only

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


async def _dial_address(server: FileServer) -> str:
    """The one address to connect to, resolved once and checked against the network policy."""
    try:
        return await asyncio.to_thread(
            netguard.allowed_address,
            server.host,
            server.port,
            list(server.allowed_networks),
            what="file server host",
        )
    except netguard.PolicyRefusal:
        raise ImportFailure(
            f"file server {server.host!r}: its address is not allowed by the network policy "
            "(OUTDIAL_FILESERVER_ALLOWED_NETWORKS)"
        ) from None
    except netguard.RefusedTarget:
        raise ImportFailure(f"cannot resolve the file server's host name {server.host!r}") from None


# ---------------------------------------------------------------- host keys


def parse_host_keys(text: str) -> list[asyncssh.SSHKey]:
    """The public keys in OpenSSH form ("ssh-ed25519 AAAA... comment") or known_hosts lines
    ("host ssh-ed25519 AAAA..."), one per line. Raises ValueError when a line holds no valid key."""
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        for i, token in enumerate(tokens[:-1]):
            if token.startswith(("ssh-", "ecdsa-", "sk-", "rsa-")):
                try:
                    keys.append(asyncssh.import_public_key(f"{token} {tokens[i + 1]}"))
                except (asyncssh.KeyImportError, ValueError):
                    continue
                break
        else:
            raise ValueError(f"line {number} of the host key is not an OpenSSH public key")
    if not keys:
        raise ValueError("the host key holds no OpenSSH public key")
    return keys


def host_key_text(key: asyncssh.SSHKey) -> str:
    """A public key in OpenSSH form, without comment: what to store to pin it."""
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


def fingerprint(key: asyncssh.SSHKey) -> str:
    return key.get_fingerprint("sha256")


# ---------------------------------------------------------------- fetch


def fetch_file(
    server: FileServer,
    remote_path: str,
    dest_path: str | Path | int,
    *,
    max_bytes: int,
    timeout_s: float,
    on_unpinned_key: Callable[[str], None] | None = None,
) -> int:
    """Download `remote_path` to `dest_path`; returns the bytes written. The file must exist, be a
    regular file, be non-empty and at most `max_bytes` (checked from its size before reading, and again
    while reading, which stops as soon as the limit is passed). `timeout_s` bounds the whole fetch.
    On failure `dest_path` is removed and ImportFailure raised. `dest_path` may also be a file
    descriptor (the write end of a pipe, for a reader that works while the file arrives): written to,
    never closed."""
    dest: Path | int = dest_path if isinstance(dest_path, int) else Path(dest_path)
    try:
        return _run(_fetch_with_timeout(server, remote_path, dest, max_bytes, timeout_s, on_unpinned_key))
    except BaseException:
        if not isinstance(dest, int):
            dest.unlink(missing_ok=True)
        raise


def probe_host_key(server: FileServer, *, timeout_s: float) -> str:
    """The server's host key in OpenSSH form (to pin it), without logging in."""

    async def probe() -> str:
        key = await asyncssh.get_server_host_key(await _dial_address(server), server.port, config=None)
        if key is None:
            raise ImportFailure(f"{server.address} presented no host key")
        return host_key_text(key)

    async def bounded() -> str:
        try:
            return await asyncio.wait_for(probe(), timeout_s)
        except Exception as exc:
            raise _failure(exc, server, "", None, timeout_s) from None

    return _run(bounded())


def _run(coro: Any) -> Any:
    """Run a coroutine on a fresh event loop, in another thread if this one already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _fetch_with_timeout(
    server: FileServer,
    remote_path: str,
    dest: Path | int,
    max_bytes: int,
    timeout_s: float,
    on_unpinned_key: Callable[[str], None] | None,
) -> int:
    presented: list[asyncssh.SSHKey] = []
    pinned = _pinned_keys(server)
    try:
        return await asyncio.wait_for(
            _fetch(server, remote_path, dest, max_bytes, timeout_s, pinned, presented, on_unpinned_key),
            timeout_s,
        )
    except ImportFailure:
        raise
    except Exception as exc:
        raise _failure(exc, server, remote_path, pinned, timeout_s, presented) from None


def _pinned_keys(server: FileServer) -> list[asyncssh.SSHKey] | None:
    if not server.host_key or not server.host_key.strip():
        return None
    try:
        return parse_host_keys(server.host_key)
    except ValueError as exc:
        raise ImportFailure(f"the pinned host key of {server.address} cannot be used: {exc}") from None


def _host_key_algs(pinned: list[asyncssh.SSHKey]) -> list[str]:
    """The pinned keys' algorithms first (so a server with several host keys shows a pinned one), then
    every other: a server without a key of the pinned type then shows another key, and the reason
    names its fingerprint, instead of the handshake failing with no key to show."""
    algs: list[bytes] = [alg for key in pinned for alg in key.sig_algorithms]
    algs += asyncssh.public_key.get_default_public_key_algs()
    return list(dict.fromkeys(alg.decode() for alg in algs))


def _client_keys(server: FileServer) -> list[asyncssh.SSHKey] | None:
    if not server.private_key:
        return None
    try:
        return [asyncssh.import_private_key(server.private_key)]
    except (asyncssh.KeyImportError, ValueError):
        raise ImportFailure(
            f"the private key configured for {server.address} cannot be read (it must be an unencrypted "
            "OpenSSH or PEM private key)"
        ) from None


async def _fetch(
    server: FileServer,
    remote_path: str,
    dest: Path | int,
    max_bytes: int,
    timeout_s: float,
    pinned: list[asyncssh.SSHKey] | None,
    presented: list[asyncssh.SSHKey],
    on_unpinned_key: Callable[[str], None] | None,
) -> int:
    client_keys = _client_keys(server)
    if client_keys is None and not server.password:
        raise ImportFailure(f"no password or private key is configured for {server.address}")

    class Client(asyncssh.SSHClient):
        def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
            presented.append(key)  # only called for a key that is not pinned: remember it for the reason
            return False

    options: dict[str, Any] = {
        "username": server.username,
        "password": server.password or None,
        "client_keys": client_keys,
        "known_hosts": (pinned, [], []) if pinned else None,
        "server_host_key_algs": _host_key_algs(pinned) if pinned else (),
        "client_factory": Client,
        "agent_path": None,
        "config": None,
        "gss_host": None,
        "host_based_auth": False,
        "disable_trivial_auth": True,
        "encryption_algs": ENCRYPTION_ALGS,
        "connect_timeout": timeout_s,
        "login_timeout": timeout_s,
    }
    address = await _dial_address(server)
    async with asyncssh.connect(address, server.port, **options) as conn:
        if not pinned:
            key = conn.get_server_host_key()
            if key is not None:
                log.warning(
                    "host key of %s is not pinned; accepted %s (%s)",
                    server.address,
                    fingerprint(key),
                    key.get_algorithm(),
                )
                if on_unpinned_key is not None:
                    on_unpinned_key(host_key_text(key))
        async with conn.start_sftp_client() as sftp:
            attrs = await sftp.stat(remote_path)
            if attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
                raise ImportFailure(f"{remote_path} on {server.address} is a folder, not a file")
            if attrs.size == 0:
                raise ImportFailure(f"{remote_path} on {server.address} is empty")
            if attrs.size is not None and attrs.size > max_bytes:
                raise ImportFailure(_too_large(remote_path, server, max_bytes, attrs.size))
            written = 0
            async with sftp.open(remote_path, "rb") as remote:
                # Blocking writes are fine: this runs in a worker thread (into a pipe they wait for
                # its reader, which keeps the memory flat).
                local = open(dest, "wb", closefd=False) if isinstance(dest, int) else dest.open("wb")  # noqa: SIM115
                try:
                    while chunk := await remote.read(READ_CHUNK):
                        written += len(chunk)
                        if written > max_bytes:  # the file grew, or the server did not report its size
                            raise ImportFailure(_too_large(remote_path, server, max_bytes, None))
                        local.write(cast(bytes, chunk))
                finally:
                    local.close()
    if written == 0:
        raise ImportFailure(f"{remote_path} on {server.address} is empty")
    return written


def _too_large(remote_path: str, server: FileServer, max_bytes: int, size: int | None) -> str:
    actual = f"{size} bytes" if size is not None else f"more than {max_bytes} bytes"
    return f"{remote_path} on {server.address} is {actual}; the limit is {max_bytes} bytes"


def _failure(
    exc: BaseException,
    server: FileServer,
    remote_path: str,
    pinned: list[asyncssh.SSHKey] | None,
    timeout_s: float,
    presented: list[asyncssh.SSHKey] | None = None,
) -> ImportFailure:
    """One plain reason for anything asyncssh or the network raised."""
    where = server.address
    if isinstance(exc, ImportFailure):
        return exc
    if isinstance(exc, asyncssh.HostKeyNotVerifiable) or (
        pinned and isinstance(exc, asyncssh.KeyExchangeFailed) and "host key" in str(exc.reason).lower()
    ):
        expected = ", ".join(fingerprint(k) for k in pinned or [])
        got = f"presented {fingerprint(presented[-1])}" if presented else "offered no key of the pinned type"
        return ImportFailure(f"host key mismatch: {where} {got}, but the pinned key is {expected}")
    if isinstance(exc, asyncssh.PermissionDenied):
        return ImportFailure(f"login refused by {where} for user {server.username!r} (wrong password or key)")
    if isinstance(exc, asyncssh.SFTPNoSuchFile):
        return ImportFailure(f"file not found on {where}: {remote_path}")
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return ImportFailure(f"permission denied on {where} reading {remote_path}")
    if isinstance(exc, asyncssh.SFTPError):
        return ImportFailure(f"SFTP error on {where} reading {remote_path}: {exc.reason}")
    if isinstance(exc, asyncssh.ChannelOpenError):
        return ImportFailure(f"{where} refused to open an SFTP session: {exc.reason}")
    if isinstance(exc, asyncssh.DisconnectError):
        return ImportFailure(f"SSH connection to {where} failed: {exc.reason}")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return ImportFailure(f"no answer from {where} within {timeout_s:g} seconds")
    if isinstance(exc, ConnectionRefusedError):
        return ImportFailure(f"connection refused by {where} (is the SFTP server running on that port?)")
    if isinstance(exc, socket.gaierror):
        return ImportFailure(f"cannot resolve the file server's host name {server.host!r}")
    if isinstance(exc, OSError):
        return ImportFailure(f"cannot reach {where}: {exc.strerror or exc}")
    return ImportFailure(f"fetching {remote_path} from {where} failed: {type(exc).__name__}: {exc}")
