"""Downloads of import files live under the data directory, readable by the service alone; what a dead
import left there is removed at start-up, what a live one holds is not (the kill -9 case itself:
test_import_crash.py)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import stat
from pathlib import Path

from outdial.imports import tempfiles
from outdial.imports.sftp import fetch_file
from sftp_servers import SftpTestServer


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_download_is_mode_0600_in_a_0700_folder_of_the_data_directory(
    asyncssh_sftp: SftpTestServer, tmp_path: Path
) -> None:
    previous = os.umask(0o002)  # a permissive umask must not widen either mode
    try:
        asyncssh_sftp.put("modes/a.csv", b"called\n13800000001\n")
        with tempfiles.download_file(tmp_path / "data", "import-t1") as local:
            fetch_file(
                asyncssh_sftp.file_server(),
                asyncssh_sftp.remote("modes/a.csv"),
                local,
                max_bytes=1000,
                timeout_s=20,
            )
            assert local.parent == tmp_path / "data" / "imports-tmp"
            assert local.read_bytes() == b"called\n13800000001\n"
            assert (mode(local), mode(local.parent)) == (0o600, 0o700)
        assert not local.exists()  # removed after the import
    finally:
        os.umask(previous)


def test_leftovers_of_dead_imports_go_and_live_imports_files_stay(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # a file written by an import in another process that was then killed
    ready = multiprocessing.get_context("fork").Event()

    def import_then_hang() -> None:
        with tempfiles.download_file(data, "import-dead") as path:
            path.write_bytes(b"customer data")
            ready.set()
            signal.pause()

    dying = multiprocessing.get_context("fork").Process(target=import_then_hang)
    dying.start()
    assert ready.wait(20)
    (dead_file,) = list((data / tempfiles.FOLDER).iterdir())
    assert tempfiles.remove_leftovers(data) == 0  # its process is alive: its file stays
    os.kill(dying.pid, signal.SIGKILL)
    dying.join(20)
    with tempfiles.download_file(data, "import-live") as live:
        assert tempfiles.remove_leftovers(data) == 1
        assert not dead_file.exists() and live.exists()
    assert list((data / tempfiles.FOLDER).iterdir()) == []


def test_no_folder_yet_is_nothing_to_remove(tmp_path: Path) -> None:
    assert tempfiles.remove_leftovers(tmp_path / "never-used") == 0
