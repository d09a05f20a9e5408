"""fetch_file against real SFTP servers (asyncssh in-process, and OpenSSH's sshd) over loopback sockets."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import asyncssh
import pytest
import xlsxwriter

from outdial import netguard
from outdial.errors import ApiError
from outdial.imports.failures import ImportFailure
from outdial.imports.paths import resolve_remote_path
from outdial.imports.readers import read_rows
from outdial.imports.sftp import FileServer, fetch_file, fingerprint, parse_host_keys, probe_host_key
from sftp_servers import LOOPBACK_NETWORKS, PASSWORD, SftpTestServer, running_asyncssh_sftp

LOOPBACK = tuple(netguard.parse_networks(LOOPBACK_NETWORKS))
LIMIT = 1024 * 1024
TIMEOUT = 20.0


def fetch(server: FileServer, remote: str, dest: Path, **kw: object) -> int:
    options: dict[str, object] = {"max_bytes": LIMIT, "timeout_s": TIMEOUT, **kw}
    return fetch_file(server, remote, dest, **options)  # type: ignore[arg-type]


def fetch_failure(server: FileServer, remote: str, dest: Path, **kw: object) -> str:
    with pytest.raises(ImportFailure) as caught:
        fetch(server, remote, dest, **kw)
    assert not dest.exists()  # nothing half-written is left behind
    return caught.value.reason


def small_workbook(path: Path) -> bytes:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["sessionId (Optional)", "called (Mandatory)"])
    sheet.write_row(1, 0, ["s1", '[{"calledNo":"13800000001"}]'])
    sheet.write_number(2, 0, 42)
    sheet.write_string(2, 1, '[{"calledNo":"13800000002"}]')
    book.close()
    return path.read_bytes()


# ---------------------------------------------------------------- success, on both servers


def test_fetch_workbook_from_a_folder_and_read_it(sftp_server: SftpTestServer, tmp_path: Path) -> None:
    data = small_workbook(tmp_path / "src.xlsx")
    sftp_server.put("isales/upload/demo.xlsx", data)
    server = sftp_server.file_server()  # key login, host key pinned
    remote = resolve_remote_path(server.default_path, "/isales/upload", "demo.xlsx")
    dest = tmp_path / "got.xlsx"
    assert fetch(server, remote, dest) == len(data)
    assert dest.read_bytes() == data
    _, rows = read_rows(dest)
    assert [r[:2] for r in rows] == [
        ["s1", '[{"calledNo":"13800000001"}]'],
        ["42", '[{"calledNo":"13800000002"}]'],
    ]


def test_fetch_larger_file_in_several_reads(sftp_server: SftpTestServer, tmp_path: Path) -> None:
    data = bytes(range(256)) * (40 * 1024 + 3)  # about 10 MB, more than two 4 MiB reads
    sftp_server.put("big.csv", data)
    dest = tmp_path / "big.csv"
    server = sftp_server.file_server()
    assert fetch(server, sftp_server.remote("big.csv"), dest, max_bytes=len(data)) == len(data)
    assert dest.read_bytes() == data


def test_unpinned_host_key_is_accepted_and_reported(sftp_server: SftpTestServer, tmp_path: Path) -> None:
    sftp_server.put("u.csv", b"called\n1\n")
    seen: list[str] = []
    server = sftp_server.file_server(host_key=None)
    fetch(server, sftp_server.remote("u.csv"), tmp_path / "u.csv", on_unpinned_key=seen.append)
    assert seen == [sftp_server.host_key]


def test_probe_host_key(sftp_server: SftpTestServer) -> None:
    assert probe_host_key(sftp_server.file_server(host_key=None), timeout_s=TIMEOUT) == sftp_server.host_key


def test_password_login(asyncssh_sftp: SftpTestServer, tmp_path: Path) -> None:
    asyncssh_sftp.put("p.csv", b"called\n1\n")
    dest = tmp_path / "p.csv"
    assert fetch(asyncssh_sftp.file_server(auth="password"), "/p.csv", dest) == 9


def test_known_hosts_line_can_be_pinned(asyncssh_sftp: SftpTestServer, tmp_path: Path) -> None:
    asyncssh_sftp.put("k.csv", b"called\n1\n")
    line = f"[127.0.0.1]:{asyncssh_sftp.port} {asyncssh_sftp.host_key} test"
    server = asyncssh_sftp.file_server(host_key="# pinned\n" + line + "\n")
    assert fetch(server, "/k.csv", tmp_path / "k.csv") == 9


# ---------------------------------------------------------------- failures


def test_server_down(closed_port: int, tmp_path: Path) -> None:
    server = FileServer(
        host="127.0.0.1", port=closed_port, username="u", password="p", allowed_networks=LOOPBACK
    )
    reason = fetch_failure(server, "/a.csv", tmp_path / "a.csv")
    assert (
        reason == f"connection refused by 127.0.0.1:{closed_port} (is the SFTP server running on that port?)"
    )


def test_server_that_never_answers_times_out(silent_port: int, tmp_path: Path) -> None:
    server = FileServer(
        host="127.0.0.1", port=silent_port, username="u", password="p", allowed_networks=LOOPBACK
    )
    reason = fetch_failure(server, "/a.csv", tmp_path / "a.csv", timeout_s=0.5)
    assert reason == f"no answer from 127.0.0.1:{silent_port} within 0.5 seconds"


def test_wrong_password(asyncssh_sftp: SftpTestServer, tmp_path: Path) -> None:
    server = asyncssh_sftp.file_server(auth="password", password="not-the-password")
    reason = fetch_failure(server, "/a.csv", tmp_path / "a.csv")
    assert (
        reason == f"login refused by 127.0.0.1:{asyncssh_sftp.port} for user 'isales' (wrong password or key)"
    )


def test_wrong_key(sftp_server: SftpTestServer, tmp_path: Path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_private_key("openssh").decode()
    server = sftp_server.file_server(private_key=other)
    assert "login refused by" in fetch_failure(server, sftp_server.remote("a.csv"), tmp_path / "a.csv")


def test_wrong_pinned_host_key(sftp_server: SftpTestServer, tmp_path: Path) -> None:
    sftp_server.put("h.csv", b"called\n1\n")
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    pinned = " ".join(impostor.export_public_key("openssh").decode().split()[:2])
    server = sftp_server.file_server(host_key=pinned)
    reason = fetch_failure(server, sftp_server.remote("h.csv"), tmp_path / "h.csv")
    real = fingerprint(parse_host_keys(sftp_server.host_key)[0])
    assert reason == (
        f"host key mismatch: 127.0.0.1:{sftp_server.port} presented {real}, "
        f"but the pinned key is {fingerprint(impostor)}"
    )


def test_pinned_key_of_another_type(asyncssh_sftp: SftpTestServer, tmp_path: Path) -> None:
    impostor = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    pinned = " ".join(impostor.export_public_key("openssh").decode().split()[:2])
    reason = fetch_failure(asyncssh_sftp.file_server(host_key=pinned), "/a.csv", tmp_path / "a.csv")
    real = fingerprint(parse_host_keys(asyncssh_sftp.host_key)[0])
    assert reason == (
        f"host key mismatch: 127.0.0.1:{asyncssh_sftp.port} presented {real}, "
        f"but the pinned key is {fingerprint(impostor)}"
    )


def test_pinned_key_that_is_not_a_key(asyncssh_sftp: SftpTestServer, tmp_path: Path) -> None:
    server = asyncssh_sftp.file_server(host_key="ssh-ed25519 not-base64")
    assert "pinned host key of" in fetch_failure(server, "/a.csv", tmp_path / "a.csv")


def test_missing_file(sftp_server: SftpTestServer, tmp_path: Path) -> None:
    remote = sftp_server.remote("nothing/here.xlsx")
    reason = fetch_failure(sftp_server.file_server(), remote, tmp_path / "x.xlsx")
    assert reason == f"file not found on 127.0.0.1:{sftp_server.port}: {remote}"


def test_empty_file(sftp_server: SftpTestServer, tmp_path: Path) -> None:
    sftp_server.put("empty.csv", b"")
    remote = sftp_server.remote("empty.csv")
    reason = fetch_failure(sftp_server.file_server(), remote, tmp_path / "e.csv")
    assert reason == f"{remote} on 127.0.0.1:{sftp_server.port} is empty"


def test_folder_instead_of_file(sftp_server: SftpTestServer, tmp_path: Path) -> None:
    sftp_server.put("folder.csv/inside.csv", b"x")
    remote = sftp_server.remote("folder.csv")
    assert "is a folder, not a file" in fetch_failure(sftp_server.file_server(), remote, tmp_path / "f.csv")


def test_oversized_file_is_refused_before_download(sftp_server: SftpTestServer, tmp_path: Path) -> None:
    sftp_server.put("huge.csv", b"x" * 5000)
    remote = sftp_server.remote("huge.csv")
    reason = fetch_failure(sftp_server.file_server(), remote, tmp_path / "h.csv", max_bytes=4999)
    assert reason == f"{remote} on 127.0.0.1:{sftp_server.port} is 5000 bytes; the limit is 4999 bytes"


class _SizeHidingSFTPServer(asyncssh.SFTPServer):
    """Reports no size, as some servers do for special files: only counting while reading can stop it."""

    def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        attrs = asyncssh.SFTPAttrs.from_local(os.stat(self.map_path(path)))
        attrs.size = None
        return attrs


def test_oversized_file_without_a_reported_size_stops_while_reading(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with running_asyncssh_sftp(root, _SizeHidingSFTPServer) as sftp:
        sftp.put("big.csv", b"z" * (12 * 1024 * 1024))
        reason = fetch_failure(sftp.file_server(), "/big.csv", tmp_path / "b.csv", max_bytes=5 * 1024 * 1024)
    assert (
        reason == f"/big.csv on 127.0.0.1:{sftp.port} is more than 5242880 bytes; the limit is 5242880 bytes"
    )


def test_file_of_exactly_the_limit_is_fetched(sftp_server: SftpTestServer, tmp_path: Path) -> None:
    sftp_server.put("edge.csv", b"y" * 5000)
    assert (
        fetch(sftp_server.file_server(), sftp_server.remote("edge.csv"), tmp_path / "e", max_bytes=5000)
        == 5000
    )


def test_no_credentials(asyncssh_sftp: SftpTestServer, tmp_path: Path) -> None:
    server = asyncssh_sftp.file_server(auth="password", password=None)
    assert "no password or private key is configured" in fetch_failure(server, "/a.csv", tmp_path / "a")


def test_unreadable_private_key(asyncssh_sftp: SftpTestServer, tmp_path: Path) -> None:
    server = asyncssh_sftp.file_server(private_key="-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n")
    assert "private key configured for" in fetch_failure(server, "/a.csv", tmp_path / "a")


def test_secrets_are_not_in_repr(asyncssh_sftp: SftpTestServer) -> None:
    text = repr(asyncssh_sftp.file_server(auth="password")) + repr(asyncssh_sftp.file_server())
    assert PASSWORD not in text
    assert "PRIVATE KEY" not in text


# ---------------------------------------------------------------- escapes


@pytest.mark.parametrize(
    ("file_path", "file_name"),
    [("../..", "passwd.csv"), ("/isales/../../..", "a.xlsx"), (None, "../a.csv"), ("..\\..", "a.csv")],
)
def test_escape_attempts_are_refused_before_any_connection(
    sftp_server: SftpTestServer, file_path: str | None, file_name: str
) -> None:
    with pytest.raises(ApiError):
        resolve_remote_path(sftp_server.default_path, file_path, file_name)


def test_test_server_is_chrooted(asyncssh_sftp: SftpTestServer, tmp_path: Path) -> None:
    # A file beside the served folder cannot be reached, even by a raw path that climbs out.
    outside = asyncssh_sftp.root.parent / "outside.csv"
    outside.write_bytes(b"called\n1\n")
    try:
        reason = fetch_failure(asyncssh_sftp.file_server(), "/../outside.csv", tmp_path / "o.csv")
        assert reason.startswith("file not found on")
    finally:
        outside.unlink()


def test_cipher_preference_keeps_every_default_cipher() -> None:
    # AES-GCM first (cheaper per byte), and nothing asyncssh would offer is dropped: a server without
    # AES-GCM still finds its cipher.
    from outdial.imports.sftp import ENCRYPTION_ALGS

    defaults = [alg.decode() for alg in asyncssh.encryption.get_default_encryption_algs()]
    assert ENCRYPTION_ALGS[0] == "aes128-gcm@openssh.com"
    assert sorted(ENCRYPTION_ALGS) == sorted(defaults)


# ---------------------------------------------------------------- network policy


def test_loopback_is_refused_by_default_before_any_connection(tmp_path: Path) -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(1)
        listening.setblocking(False)
        port = listening.getsockname()[1]
        for host in ("127.0.0.1", "localhost"):
            server = FileServer(
                host=host, port=port, username="u", password="p"
            )  # no allow-list: public only
            reason = fetch_failure(server, "/a.csv", tmp_path / "a.csv")
            assert reason == (
                f"file server {host!r}: its address is not allowed by the network policy "
                "(OUTDIAL_FILESERVER_ALLOWED_NETWORKS)"
            )
            with pytest.raises(ImportFailure, match="not allowed"):
                probe_host_key(server, timeout_s=TIMEOUT)
        with pytest.raises(BlockingIOError):
            listening.accept()  # nobody connected


def test_the_address_checked_is_the_address_dialed(
    asyncssh_sftp: SftpTestServer, tmp_path: Path, rebinding_dns: list[str]
) -> None:
    # files.example answers loopback (allowed) to the check, then an address of another network: the
    # fetch connects to the address it checked, and never asks again (no DNS rebinding)
    rebinding_dns.extend(["127.0.0.1", "192.0.2.1"])
    asyncssh_sftp.put("policy/a.csv", b"called\n1\n")
    server = asyncssh_sftp.file_server(host="files.example")
    assert fetch(server, asyncssh_sftp.remote("policy/a.csv"), tmp_path / "a.csv") == len(b"called\n1\n")
    assert rebinding_dns == ["192.0.2.1"]  # asked once


def test_a_public_only_policy_refuses_a_name_that_resolves_to_loopback(
    asyncssh_sftp: SftpTestServer, tmp_path: Path
) -> None:
    server = asyncssh_sftp.file_server(
        host="localhost", allowed_networks=netguard.parse_networks("8.8.8.0/24")
    )
    reason = fetch_failure(server, "/a.csv", tmp_path / "a.csv")
    assert "not allowed" in reason and "127.0.0.1" not in reason and "::1" not in reason
