"""Run a file's reader in a forked child process and consume what it yields in the parent, in order.

The import's pass has two halves that each take a core: reading + validating + formatting the rows
(Python) and writing them (SQLite's multi-row INSERTs, or feeding COPY while PostgreSQL works). A thread
cannot run the first half beside the second (the GIL), a process can.

The child works in two steps, so that everything that parses the file runs in it and the parent only
ever sees what the child makes of it:
- `prepare()` opens the file (calamine loads the whole sheet then; a .csv's header is read) and answers
  a summary, which `stream.prepared()` returns in the parent (or raises the child's failure). The
  parent does this before its transaction, so the campaign's lock is not held meanwhile.
- `produce(state, argument)` then reads, validates and formats the rows, with the argument the parent
  sends by `stream.start(argument)` (what it read of the campaign inside its transaction: pickled).
- `memory_mb`: the child may use this much address space beyond what it inherited (RLIMIT_AS). A file
  whose reading needs more (a 5 KB workbook with one cell at XFD1048576 makes calamine ask for 512 GiB
  at once; a cell at row 500,000 and column 300 for 4.6 GB) stops the child, not the service: the parent
  raises ImportFailure saying so.

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

Where os.fork does not exist, prepare and produce run in the calling process (same items, same result;
no memory limit).
"""

from __future__ import annotations

import contextlib
import faulthandler
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
Prepare = Callable[[], tuple[Any, Any]]  # () -> (state kept in the child, summary for the parent)
Produce = Callable[[Any, Any], tuple[Iterator[Any], Callable[[], R]]]  # (state, argument) -> (items, finish)

_HEAD = struct.Struct("<cQ")
_PREPARED, _BYTES, _MARSHALED, _PICKLED, _RESULT, _FAILED, _ERROR = b"O", b"B", b"M", b"P", b"R", b"F", b"E"
PIPE_BYTES = 1 << 20  # a few blocks in flight; the kernel's default (64 KiB) would switch per block
STALL_S = 300.0  # a block of rows takes milliseconds; a whole file of refused rows, seconds
CAN_FORK = hasattr(os, "fork")
# How a child that hit its memory limit ends: calamine (Rust) aborts when an allocation fails, the
# kernel's OOM killer sends SIGKILL, a failed mmap in C code may end in SIGSEGV or SIGBUS.
_OUT_OF_MEMORY_SIGNALS = (signal.SIGABRT, signal.SIGKILL, signal.SIGSEGV, signal.SIGBUS)


def _no_preparation() -> tuple[None, None]:
    return None, None


class ForkedStream(Generic[R]):
    """`with ForkedStream(produce, prepare=open_file) as stream:`
    `summary = stream.prepared(); stream.start(argument); for item in stream: ...; stream.result`

    prepare() (optional) returns (state, summary); produce(state, argument) returns (items, finish): an
    iterator of items, and a function called once the items are exhausted whose answer becomes
    `stream.result`. Iterating without prepared() or start() does both (with the argument None).
    `close_in_child`: descriptors the child closes at once (the write end of a pipe it reads, so that it
    sees the end when the writer closes it)."""

    def __init__(
        self,
        produce: Produce[R],
        *,
        prepare: Prepare = _no_preparation,
        fork: bool = CAN_FORK,
        stall_s: float = STALL_S,
        close_in_child: tuple[int, ...] = (),
        memory_mb: int | None = None,
    ) -> None:
        self._produce = produce
        self._prepare = prepare
        self._close_in_child = close_in_child
        self._fork = fork
        self._stall_s = stall_s
        self._memory_mb = memory_mb
        self._pid = 0
        self._fd = -1
        self._start_fd = -1
        self._state: Any = None
        self._summary: Any = None
        self._is_prepared = False
        self._argument: Any = None
        self._started = False
        self._done = False
        self.result: R

    def __enter__(self) -> ForkedStream[R]:
        if self._fork:
            read_fd, write_fd = os.pipe()
            start_read, start_write = os.pipe()
            with contextlib.suppress(ImportError, AttributeError, OSError):
                import fcntl

                fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # a smaller pipe only costs switches
            pid = os.fork()
            if pid == 0:  # the child: never returns
                os.close(read_fd)
                os.close(start_write)
                for fd in self._close_in_child:  # e.g. the write end of a pipe the child reads
                    with contextlib.suppress(OSError):
                        os.close(fd)
                _child(self._prepare, self._produce, write_fd, start_read, self._memory_mb)
            self._pid = pid
            os.close(write_fd)
            os.close(start_read)
            self._fd, self._start_fd = read_fd, start_write
        return self

    def prepared(self) -> Any:
        """Wait for the child's prepare(); its summary, or its failure raised here."""
        if not self._is_prepared:
            if self._fork:
                assert self._fd >= 0, "call inside the with block"
                kind, payload = self._message()
                if kind != _PREPARED:
                    raise RuntimeError("the import's reading process answered out of turn")
                self._summary = pickle.loads(payload)
            else:
                self._state, self._summary = self._prepare()
            self._is_prepared = True
        return self._summary

    def start(self, argument: Any = None) -> None:
        """Let the child produce, with `argument` (pickled to it)."""
        self.prepared()
        if self._started:
            raise RuntimeError("the stream was started already")
        self._started = True
        if not self._fork:
            self._argument = argument
            return
        payload = pickle.dumps(argument, pickle.HIGHEST_PROTOCOL)
        try:
            with open(self._start_fd, "wb", closefd=True) as out:
                self._start_fd = -1
                out.write(_HEAD.pack(_PICKLED, len(payload)))
                out.write(payload)
        except BrokenPipeError:
            pass  # the child is gone: iterating says why

    def __iter__(self) -> Iterator[Any]:
        if not self._started:
            self.start(None)
        if not self._fork:
            items, finish = self._produce(self._state, self._argument)
            yield from items
            self.result = finish()
            self._done = True
            return
        assert self._fd >= 0, "iterate inside the with block"
        while True:
            kind, payload = self._message()
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
            else:
                raise RuntimeError("the import's reading process answered out of turn")

    def _message(self) -> tuple[bytes, bytes]:
        """The child's next message; its failure, error or death raised."""
        try:
            kind, payload = _receive(self._fd, self._stall_s)
        except EOFError as ended:
            raise self._death(str(ended)) from None
        if kind == _FAILED:
            raise ImportFailure(pickle.loads(payload))
        if kind == _ERROR:
            name, message, trace = pickle.loads(payload)
            if name == "MemoryError" and self._memory_mb:
                raise ImportFailure(self._out_of_memory("ran out of memory"))
            raise RuntimeError(f"{name}: {message} (in the import's reading process)\n{trace}")
        return kind, payload

    def _death(self, what: str) -> Exception:
        """The child ended without an answer: reap it and say how it ended."""
        how = ""
        if self._pid:
            _, status = os.waitpid(self._pid, 0)
            self._pid = 0
            if os.WIFSIGNALED(status):
                number = os.WTERMSIG(status)
                how = signal.Signals(number).name if number in signal.valid_signals() else f"signal {number}"
                if self._memory_mb and number in _OUT_OF_MEMORY_SIGNALS:
                    return ImportFailure(self._out_of_memory(f"was stopped ({how})"))
            else:
                how = f"exit status {os.WEXITSTATUS(status)}"
        return RuntimeError(f"{what} ({how})" if how else what)

    def _out_of_memory(self, what: str) -> str:
        return (
            f"reading the file {what}: it needs more memory than an import may use "
            f"({self._memory_mb} MiB, OUTDIAL_IMPORT_MEMORY_MB); a sheet whose cells reach far more rows "
            "or columns than its records (a cell far to the right or far down), an overlong line, or a "
            "damaged file"
        )

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for fd in (self._fd, self._start_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._start_fd = -1
        if self._pid:
            if not self._done:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._pid, signal.SIGKILL)  # our own child, by its id
            os.waitpid(self._pid, 0)
            self._pid = 0


def _receive(fd: int, stall_s: float | None) -> tuple[bytes, bytes]:
    """The next message; EOFError when the pipe ends before a whole one."""
    head = _read_exact(fd, _HEAD.size, stall_s)
    if len(head) < _HEAD.size:
        raise EOFError("the import's reading process ended without an answer")
    kind, size = _HEAD.unpack(head)
    payload = _read_exact(fd, size, stall_s)
    if len(payload) < size:
        raise EOFError("the import's reading process ended in the middle of a message")
    return kind, payload


def _read_exact(fd: int, size: int, stall_s: float | None) -> bytes:
    """`size` bytes, or fewer at the end of the pipe; waits at most stall_s for each read (None: as long
    as it takes)."""
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


def _limit_memory(extra_mb: int) -> None:
    """Allow this process `extra_mb` MiB of address space beyond what it has now (inherited mappings,
    thread stacks and arenas of the parent's count in its address space, not in what it may use)."""
    import resource

    with open("/proc/self/status") as status:
        size_kib = next((int(line.split()[1]) for line in status if line.startswith("VmSize:")), 0)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size_kib * 1024 + extra_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _read_start(fd: int) -> Any:
    """The parent's argument (start), or EOFError when the parent left without one."""
    _, payload = _receive(fd, None)
    return pickle.loads(payload)


def _child(prepare: Prepare, produce: Produce[Any], write_fd: int, start_fd: int, memory_mb: int | None) -> None:
    code = 1
    try:
        # The parent's handlers (a server's SIGTERM, asyncio's wakeup socket) mean nothing here.
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        faulthandler.disable()  # a crash here is the parent's to report (e.g. an abort at the memory limit)
        _close_sockets(write_fd)
        if memory_mb:
            _limit_memory(memory_mb)
        with open(write_fd, "wb", buffering=PIPE_BYTES) as out:

            def send(kind: bytes, payload: bytes) -> None:
                out.write(_HEAD.pack(kind, len(payload)))
                out.write(payload)

            try:
                state, summary = prepare()
                send(_PREPARED, pickle.dumps(summary, pickle.HIGHEST_PROTOCOL))
                out.flush()
                argument = _read_start(start_fd)
                items, finish = produce(state, argument)
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
            except (BrokenPipeError, EOFError):
                raise  # the parent is gone
            except Exception as exc:
                trace = traceback.format_exc(limit=-8)
                send(_ERROR, pickle.dumps((type(exc).__name__, str(exc), trace)))
        code = 0
    except BaseException:  # the parent is gone (broken pipe) or we were interrupted: just leave
        pass
    finally:
        os._exit(code)
