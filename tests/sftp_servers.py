"""Real SFTP servers on loopback sockets, for any test that imports files.

Use from a test module or conftest:

    from sftp_servers import asyncssh_sftp, openssh_sftp, sftp_server, closed_port, silent_port  # noqa: F401

The servers listen on loopback, which the network policy refuses by default: `file_server()` allows
LOOPBACK_NETWORKS explicitly, and the imports tests' settings fixture sets the service's setting to it.

Fixtures (all session-scoped except where said):
- `asyncssh_sftp` -> SftpTestServer: an asyncssh SFTP server on 127.0.0.1 (ephemeral port) in a
  background thread with its own event loop. It serves a temp directory chrooted to "/", so its
  `default_path` is "/". Users: `password_user`/`password` and `key_user` (key in `client_private_key`).
- `openssh_sftp` -> SftpTestServer: OpenSSH's own sshd (/usr/sbin/sshd) on a loopback port with a
  temp sshd_config (own host key, key auth only, internal-sftp starting in the served directory, which
  is its `default_path`; no chroot: sshd wants a root-owned path for that). Key user only (the user
  running the tests). Skipped, saying why, only when sshd is not installed: CI installs the Debian
  package openssh-server.
- `sftp_server` (parametrized over both) -> SftpTestServer, for tests that must pass on each.
- `closed_port` (function) -> int: a loopback port nothing listens on.
- `silent_port` (function) -> int: a loopback port that accepts TCP but never speaks SSH (timeouts).
- `running_asyncssh_sftp(root, sftp_class)`: context manager behind `asyncssh_sftp`, for a test that
  needs its own server (e.g. one whose SFTP layer misbehaves on purpose).

SftpTestServer.put(relative_path, data) writes a file under the served directory and returns the
path relative to `default_path`; .file_server(auth="password"|"key", host_key=...) builds the
outdial FileServer to reach it, pinned to the server's real host key unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from outdial import netguard
from outdial.imports.sftp import FileServer

# The test servers listen on loopback, which the network policy refuses by default: every test that
# dials them allows it explicitly (FileServer.allowed_networks here, the service's setting in the
# imports tests' settings fixture).
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"

SSHD = "/usr/sbin/sshd"
PASSWORD_USER = "isales"
PASSWORD = "S3cret-pass!"
KEY_USER = "keyuser"
_UNSET: Any = object()


@dataclass
class SftpTestServer:
    kind: str  # "asyncssh" or "openssh"
    host: str
    port: int
    root: Path  # the served directory on this machine
    default_path: str  # the FileServer default path that means `root`
    host_key: str  # the server's public host key, OpenSSH form
    key_user: str
    client_private_key: str  # OpenSSH private key text accepted for key_user
    password_user: str | None = None
    password: str | None = None

    def put(self, relative_path: str, data: bytes) -> str:
        """Write a file under the served directory; returns its path relative to default_path."""
        target = self.root / relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return relative_path

    def remote(self, relative_path: str) -> str:
        """The absolute remote path of a file put() here."""
        return self.default_path.rstrip("/") + "/" + relative_path

    def file_server(self, *, auth: str = "key", host_key: str | None = _UNSET, **changes: Any) -> FileServer:
        if auth == "password":
            if self.password_user is None:
                raise ValueError(f"the {self.kind} test server has no password user")
            creds: dict[str, Any] = {"username": self.password_user, "password": self.password}
        else:
            creds = {"username": self.key_user, "private_key": self.client_private_key}
        fields: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "default_path": self.default_path,
            "host_key": self.host_key if host_key is _UNSET else host_key,
            "allowed_networks": tuple(netguard.parse_networks(LOOPBACK_NETWORKS)),
            **creds,
        }
        fields.update(changes)
        return FileServer(**fields)


def _private_text(key: asyncssh.SSHKey) -> str:
    return key.export_private_key("openssh").decode()


def _public_text(key: asyncssh.SSHKey) -> str:
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


# ---------------------------------------------------------------- asyncssh server


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sftp-test-server", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _asyncssh_server_class(client_key: asyncssh.SSHKey) -> type[asyncssh.SSHServer]:
    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True  # every user must authenticate

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return username == PASSWORD_USER and password == PASSWORD

        def public_key_auth_supported(self) -> bool:
            return True

        def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
            return username == KEY_USER and key.public_data == client_key.public_data

    return Server


@contextlib.contextmanager
def running_asyncssh_sftp(
    root: Path, sftp_class: type[asyncssh.SFTPServer] = asyncssh.SFTPServer
) -> Iterator[SftpTestServer]:
    """An asyncssh SFTP server chrooted to `root`, for as long as the block runs. `sftp_class` lets a
    test serve files through a server that misbehaves on purpose."""
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    loop = _LoopThread()

    async def start() -> Any:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[host_key],
            server_factory=_asyncssh_server_class(client_key),
            sftp_factory=lambda chan: sftp_class(chan, chroot=os.fsencode(root)),
            allow_scp=False,
        )

    acceptor = loop.run(start())
    port = acceptor.sockets[0].getsockname()[1]
    try:
        yield SftpTestServer(
            kind="asyncssh",
            host="127.0.0.1",
            port=port,
            root=root,
            default_path="/",
            host_key=_public_text(host_key),
            key_user=KEY_USER,
            client_private_key=_private_text(client_key),
            password_user=PASSWORD_USER,
            password=PASSWORD,
        )
    finally:

        async def stop() -> None:
            acceptor.close()
            await acceptor.wait_closed()

        loop.run(stop())
        loop.stop()


@pytest.fixture(scope="session")
def asyncssh_sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpTestServer]:
    with running_asyncssh_sftp(tmp_path_factory.mktemp("asyncssh-sftp-root")) as server:
        yield server


# ---------------------------------------------------------------- OpenSSH sshd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_banner(port: int, proc: subprocess.Popen[bytes], log: Path, deadline_s: float = 15) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait(5)
    raise RuntimeError(f"sshd did not start on port {port}: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="session")
def openssh_sftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpTestServer]:
    if not os.path.exists(SSHD):
        pytest.skip(f"OpenSSH sshd is not installed ({SSHD}); install the openssh-server package")
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    work = tmp_path_factory.mktemp("openssh")
    root = work / "files"
    root.mkdir()
    user = pwd.getpwuid(os.geteuid()).pw_name
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key_path = work / "ssh_host_ed25519_key"
    host_key_path.write_text(_private_text(host_key))
    host_key_path.chmod(0o600)
    authorized = work / "authorized_keys"
    authorized.write_text(_public_text(client_key) + "\n")
    authorized.chmod(0o600)
    port = _free_port()
    config = work / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key_path}",
                f"PidFile {work / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                f"AllowUsers {user}",
                "Subsystem sftp internal-sftp",
                f"ForceCommand internal-sftp -d {root}",
                "AllowTcpForwarding no",
                "X11Forwarding no",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    log = work / "sshd.log"
    with log.open("wb") as log_file:  # a file, not a pipe: nobody drains a pipe during the tests
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=log_file
        )
    try:
        _wait_for_banner(port, proc, log)
        yield SftpTestServer(
            kind="openssh",
            host="127.0.0.1",
            port=port,
            root=root,
            default_path=str(root),
            host_key=_public_text(host_key),
            key_user=user,
            client_private_key=_private_text(client_key),
        )
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(params=["asyncssh", "openssh"])
def sftp_server(request: pytest.FixtureRequest) -> SftpTestServer:
    """Each real server in turn."""
    return request.getfixturevalue(f"{request.param}_sftp")


# ---------------------------------------------------------------- no server


@pytest.fixture
def closed_port() -> int:
    return _free_port()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts connections (the kernel completes the handshake) and never sends a byte."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])
