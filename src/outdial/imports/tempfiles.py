"""Where an import keeps the file it downloaded while reading it: `<data_dir>/imports-tmp/`, readable by the
service's user alone (folder 0700, files 0600), never the system's temp directory.

The process importing a file holds an flock on it for as long as the file exists. The kernel drops the
lock when the process dies, so at start-up the imports worker removes every file there whose lock it can
take: what a killed import left behind, and never a file another live process (`outdial worker`, a
second `serve` on the same data directory) is importing.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("outdial.imports")

FOLDER = "imports-tmp"


def folder(data_dir: Path) -> Path:
    """The folder, created if need be, and kept at mode 0700 (mkdir's mode is masked by the umask, and a
    folder made earlier keeps its own)."""
    path = data_dir / FOLDER
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


@contextlib.contextmanager
def download_file(data_dir: Path, prefix: str) -> Iterator[Path]:
    """A new empty file (mode 0600) for one download, locked by this process, removed on exit."""
    where = folder(data_dir)
    while True:
        fd, name = tempfile.mkstemp(prefix=f"{prefix}-", dir=where)  # O_EXCL, mode 0600
        fcntl.flock(fd, fcntl.LOCK_EX)
        if _same_file(fd, name):
            break
        os.close(fd)  # a start-up sweep removed it between its creation and the lock: make another
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def remove_leftovers(data_dir: Path) -> int:
    """Remove the files no live process holds (left by an import that was killed). Returns how many."""
    where = data_dir / FOLDER
    if not where.is_dir():
        return 0
    removed = 0
    for entry in where.iterdir():
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:  # gone meanwhile, or not a regular file we may open
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a live import's file
        try:
            if _same_file(fd, str(entry)):
                entry.unlink()
                removed += 1
        finally:
            os.close(fd)
    if removed:
        log.warning("removed %d file(s) left in %s by imports that were interrupted", removed, where)
    return removed


def _same_file(fd: int, name: str) -> bool:
    """The open file is still the one at `name` (not removed, nor replaced)."""
    try:
        return os.stat(name, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
