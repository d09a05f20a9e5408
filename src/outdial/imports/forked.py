"""Run a producer in a forked child process and consume what it yields in the parent, in order.

The import's pass has two halves that each take a core: reading + validating + formatting the rows
(Python) and writing them (SQLite's multi-row INSERTs, or feeding COPY while PostgreSQL works). A thread
cannot run the first half beside the second (the GIL), a process can; `fork` gives the child the opened
workbook, the campaign's numbers and the blacklist without copying them.

- The child sends each item through a pipe: bytes as they are, a list of built-in values (the
  SQLite blocks: str, int and None) marshaled, anything else pickled; then the producer's result, or
  the exception that stopped it. marshal is safe between a process and its own fork (the same
  interpreter) and costs about a third of pickle on both sides (~0.35 CPU s per 500,000 rows). The
  pipe is the bounded queue: when the parent is slower, the child blocks on write (memory stays flat).
- The child never touches what it inherited from the parent beyond the producer's objects: it closes
  its copies of every socket (a database connection, a listener) at once, and leaves through os._exit
  so no finalizer or atexit hook of the parent's runs in it.
- The parent re-raises the child's ImportFailure as it was; any other exception of the child as a
  RuntimeError naming it. A child that dies without a result (killed, crashed) is an error too.
- Whichever side dies first, the other stops: the parent sees the pipe end, the child gets EPIPE on its
  next write. Leaving the `with` block early kills the child and reaps it. A child that sends nothing
  for `stall_s` (hung: the worker's heartbeat would otherwise keep the task's claim alive forever) is
  an error too.

Where os.fork does not exist, the producer runs in the calling process (same items, same result).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import pickle
import select
import signal
import stat
import struct
import traceback
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from outdial.imports.failures import ImportFailure

R = TypeVar("R")

_HEAD = struct.Struct("<cQ")
_BYTES, _MARSHALED, _PICKLED, _RESULT, _FAILED, _ERROR = b"B", b"M", b"P", b"R", b"F", b"E"
PIPE_BYTES = 1 << 20  # a few blocks in flight; the kernel's default (64 KiB) would switch per block
STALL_S = 300.0  # a block of rows takes milliseconds; a whole file of refused rows, seconds
CAN_FORK = hasattr(os, "fork")


class ForkedStream(Generic[R]):
    """`with ForkedStream(produce) as stream: for item in stream: ...; stream.result`

    produce() returns (items, finish): an iterator of items, and a function called once the items are
    exhausted whose answer becomes `stream.result`. `close_in_child`: descriptors the child closes at
    once (the write end of a pipe it reads, so that it sees the end when the writer closes it)."""

    def __init__(
        self,
        produce: Callable[[], tuple[Iterator[Any], Callable[[], R]]],
        *,
        fork: bool = CAN_FORK,
        stall_s: float = STALL_S,
        close_in_child: tuple[int, ...] = (),
    ) -> None:
        self._produce = produce
        self._close_in_child = close_in_child
        self._fork = fork
        self._stall_s = stall_s
        self._pid = 0
        self._fd = -1
        self._done = False
        self.result: R

    def __enter__(self) -> ForkedStream[R]:
        if self._fork:
            read_fd, write_fd = os.pipe()
            try:
                import fcntl

                fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            except (ImportError, AttributeError, OSError):
                pass  # a smaller pipe only costs more switches
            pid = os.fork()
            if pid == 0:  # the child: never returns
                os.close(read_fd)
                for fd in self._close_in_child:  # e.g. the write end of a pipe the child reads
                    with contextlib.suppress(OSError):
                        os.close(fd)
                _child(self._produce, write_fd)
            self._pid = pid
            os.close(write_fd)
            self._fd = read_fd
        return self

    def __iter__(self) -> Iterator[Any]:
        if not self._fork:
            items, finish = self._produce()
            yield from items
            self.result = finish()
            self._done = True
            return
        assert self._fd >= 0, "iterate inside the with block"
        while True:
            kind, payload = _receive(self._fd, self._stall_s)
            if kind == _BYTES:
                yield payload
            elif kind == _MARSHALED:
                yield marshal.loads(payload)
            elif kind == _PICKLED:
                yield pickle.loads(payload)
            elif kind == _RESULT:
                self.result = pickle.loads(payload)
                self._done = True
                return
            elif kind == _FAILED:
                raise ImportFailure(pickle.loads(payload))
            else:
                name, message, trace = pickle.loads(payload)
                raise RuntimeError(f"{name}: {message} (in the import's reading process)\n{trace}")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._pid:
            if not self._done:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._pid, signal.SIGKILL)  # our own child, by its id
            os.waitpid(self._pid, 0)
            self._pid = 0


def _receive(fd: int, stall_s: float) -> tuple[bytes, bytes]:
    head = _read_exact(fd, _HEAD.size, stall_s)
    if len(head) < _HEAD.size:
        raise RuntimeError("the import's reading process ended without an answer")
    kind, size = _HEAD.unpack(head)
    payload = _read_exact(fd, size, stall_s)
    if len(payload) < size:
        raise RuntimeError("the import's reading process ended in the middle of a message")
    return kind, payload


def _read_exact(fd: int, size: int, stall_s: float) -> bytes:
    """`size` bytes, or fewer at the end of the pipe; waits at most stall_s for each read."""
    parts: list[bytes] = []
    left = size
    while left:
        ready, _, _ = select.select([fd], [], [], stall_s)
        if not ready:
            raise RuntimeError(f"the import's reading process sent nothing for {stall_s:g} s")
        chunk = os.read(fd, min(left, PIPE_BYTES))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _close_sockets(keep: int) -> None:
    """Close the child's copies of inherited sockets (database connections, listeners): the parent's
    connection must only ever be used by the parent, and a listener must not outlive it here."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd > 2 and fd != keep:
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.close(fd)
            except OSError:
                pass


def _marshaled(item: list[Any]) -> bytes | None:
    """The list marshaled, or None when it holds anything marshal cannot carry as it is (marshal takes
    only the exact built-in types: a subclass or any other object is refused, and goes by pickle)."""
    try:
        return marshal.dumps(item)
    except ValueError:
        return None


def _child(produce: Callable[[], tuple[Iterator[Any], Callable[[], Any]]], write_fd: int) -> None:
    code = 1
    try:
        # The parent's handlers (a server's SIGTERM, asyncio's wakeup socket) mean nothing here.
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _close_sockets(write_fd)
        with open(write_fd, "wb", buffering=PIPE_BYTES) as out:

            def send(kind: bytes, payload: bytes) -> None:
                out.write(_HEAD.pack(kind, len(payload)))
                out.write(payload)

            try:
                items, finish = produce()
                for item in items:
                    if item.__class__ is bytes:
                        send(_BYTES, item)
                    elif item.__class__ is list and (packed := _marshaled(item)) is not None:
                        send(_MARSHALED, packed)
                    else:
                        send(_PICKLED, pickle.dumps(item, pickle.HIGHEST_PROTOCOL))
                send(_RESULT, pickle.dumps(finish(), pickle.HIGHEST_PROTOCOL))
            except ImportFailure as failure:
                send(_FAILED, pickle.dumps(failure.reason))
            except BrokenPipeError:
                raise
            except Exception as exc:
                trace = traceback.format_exc(limit=-8)
                send(_ERROR, pickle.dumps((type(exc).__name__, str(exc), trace)))
        code = 0
    except BaseException:  # the parent is gone (broken pipe) or we were interrupted: just leave
        pass
    finally:
        os._exit(code)
