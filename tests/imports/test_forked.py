"""ForkedStream: a producer run in a forked child, its items consumed in the parent in order; its
failures, its death and an early exit of the parent each end in a known way."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from imports.helpers import process_gone
from outdial.imports.failures import ImportFailure
from outdial.imports.forked import CAN_FORK, ForkedStream

pytestmark = pytest.mark.skipif(not CAN_FORK, reason="needs os.fork")

Producer = Callable[[Any, Any], tuple[Iterator[Any], Callable[[], Any]]]


def counting(n: int) -> Producer:
    """Items alternate bytes and lists of tuples (pickled); the result says how many were made, so it
    can only be right if it was computed after the items, in the same process."""

    def produce(_state: Any, _argument: Any) -> tuple[Iterator[Any], Callable[[], Any]]:
        made = [0]

        def items() -> Iterator[Any]:
            for i in range(n):
                made[0] += 1
                yield f"line {i}\n".encode() * 1000 if i % 2 == 0 else [(i, "x" * i, None)]

        return items(), lambda: ("made", made[0], os.getpid())

    return produce


@pytest.mark.parametrize("fork", [True, False])
def test_items_in_order_then_the_result(fork: bool) -> None:
    with ForkedStream(counting(50), fork=fork) as stream:
        got = list(stream)
    assert got == [f"line {i}\n".encode() * 1000 if i % 2 == 0 else [(i, "x" * i, None)] for i in range(50)]
    made, count, pid = stream.result
    assert (made, count) == ("made", 50)
    assert (pid != os.getpid()) is fork


class Kind(enum.IntEnum):
    A = 1


class Name(str):
    pass


@dataclasses.dataclass
class Point:
    x: int


def test_lists_come_back_with_their_exact_types() -> None:
    """Plain lists take marshal, which knows only the exact built-in types: a list holding anything
    else (an IntEnum, a str subclass, an object) must come back as it went, by pickle."""
    items = [["a", 1, None, 2.5, "é" * 300], ["a", Kind.A], [Point(3), "b"], [Name("n")]]
    with ForkedStream(lambda _s, _a: (iter(items), lambda: None)) as stream:
        got = list(stream)
    assert got == items
    assert [type(item[-1]) for item in got] == [str, Kind, str, Name]
    assert type(got[2][0]) is Point


def test_a_large_stream_passes_through_the_bounded_pipe() -> None:
    # Far more than the pipe holds: the child must wait for the parent, and nothing is lost.
    block = bytes(range(256)) * 4096  # 1 MiB
    with ForkedStream(lambda _s, _a: ((block for _ in range(64)), lambda: "done")) as stream:
        total = sum(len(item) for item in stream if item == block)
    assert (total, stream.result) == (64 * len(block), "done")


def failing(exc: BaseException, after: int = 2) -> Producer:
    def produce(_state: Any, _argument: Any) -> tuple[Iterator[Any], Callable[[], Any]]:
        def items() -> Iterator[Any]:
            yield from (b"ok" for _ in range(after))
            raise exc

        return items(), lambda: "never"

    return produce


@pytest.mark.parametrize("fork", [True, False])
def test_an_import_failure_of_the_child_is_raised_as_it_was(fork: bool) -> None:
    reason = "data.csv: line 7 is not valid CSV (unexpected end of data)"
    got: list[Any] = []
    with pytest.raises(ImportFailure) as raised, ForkedStream(failing(ImportFailure(reason)), fork=fork) as stream:
        got.extend(stream)
    assert raised.value.reason == reason
    assert got == [b"ok", b"ok"]


def test_another_exception_of_the_child_names_it() -> None:
    expected = r"ZeroDivisionError: division by zero \(in the import's reading"
    with pytest.raises(RuntimeError, match=expected), ForkedStream(failing(ZeroDivisionError("division by zero"))) as stream:
        list(stream)


def test_a_child_that_dies_without_an_answer_is_an_error() -> None:
    def produce(_state: Any, _argument: Any) -> tuple[Iterator[Any], Callable[[], Any]]:
        def items() -> Iterator[Any]:
            yield b"first"
            os.kill(os.getpid(), signal.SIGKILL)  # the child kills itself, as the OOM killer would
            yield b"never"

        return items(), lambda: "never"

    got: list[Any] = []
    with pytest.raises(RuntimeError, match="ended without an answer"), ForkedStream(produce) as stream:
        got.extend(stream)
    assert got in ([], [b"first"])  # the child's buffered write may or may not have reached the pipe


def test_leaving_early_kills_and_reaps_the_child() -> None:
    def produce(_state: Any, _argument: Any) -> tuple[Iterator[Any], Callable[[], Any]]:
        return (b"x" * 65536 for _ in iter(int, 1)), lambda: "never"  # endless

    stream = ForkedStream(produce)
    with stream:
        pid = stream._pid
        assert next(iter(stream)) == b"x" * 65536
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left behind
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_child_holds_no_inherited_socket() -> None:
    # The parent's sockets (a PostgreSQL connection, a listener) must never be shared with the child.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def produce(_state: Any, _argument: Any) -> tuple[Iterator[Any], Callable[[], Any]]:
        def sockets() -> int:
            count = 0
            for name in os.listdir("/proc/self/fd"):
                with contextlib.suppress(OSError):  # the fd listdir itself used
                    count += stat.S_ISSOCK(os.fstat(int(name)).st_mode)
            return count

        return iter(()), sockets

    try:
        with ForkedStream(produce) as stream:
            list(stream)
        assert stream.result == 0
        assert listener.fileno() >= 0 and listener.getsockname()  # the parent's own is untouched
    finally:
        listener.close()


def test_a_child_that_sends_nothing_for_too_long_is_stopped() -> None:
    def produce(_state: Any, _argument: Any) -> tuple[Iterator[Any], Callable[[], Any]]:
        def items() -> Iterator[Any]:
            time.sleep(60)  # hung, as far as the parent can tell
            yield b"late"

        return items(), lambda: "never"

    stream = ForkedStream(produce, stall_s=0.2)
    with pytest.raises(RuntimeError, match=r"sent nothing for 0.2 s"), stream:
        pid = stream._pid
        list(stream)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped


def test_a_killed_worker_takes_its_reader_down(tmp_path: Any) -> None:
    # The worker process is killed mid-pass (SIGKILL: no cleanup at all); its reader must not live on.
    script = tmp_path / "worker.py"
    script.write_text(
        "import os, sys, time\n"
        "from outdial.imports.forked import ForkedStream\n"
        "def produce(state, argument):\n"
        "    return (b'x' * 65536 for _ in iter(int, 1)), lambda: None\n"
        "with ForkedStream(produce) as stream:\n"
        "    print(stream._pid, flush=True)\n"
        "    for _ in stream:\n"
        "        time.sleep(0.01)  # a slow writer: the reader is ahead, blocked on the full pipe\n"
    )
    worker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        reader = int(worker.stdout.readline())
        time.sleep(0.3)
        assert not process_gone(reader)
    finally:
        worker.kill()
        worker.wait()
    deadline = time.monotonic() + 10
    while not process_gone(reader) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(reader)


@pytest.mark.parametrize("fork", [True, False])
def test_prepare_then_start_then_produce(fork: bool) -> None:
    """prepare() runs first, in the child; its summary reaches the parent, which then sends the argument
    that produce() gets together with prepare()'s state."""

    def prepare() -> tuple[Any, Any]:
        return {"opened_in": os.getpid()}, ("ready", os.getpid())

    def produce(state: Any, argument: Any) -> tuple[Iterator[Any], Callable[[], Any]]:
        return iter([f"{argument}:{state['opened_in']}".encode()]), lambda: os.getpid()

    with ForkedStream(produce, prepare=prepare, fork=fork) as stream:
        word, opened_in = stream.prepared()
        stream.start("go")
        got = list(stream)
    assert word == "ready"
    assert got == [f"go:{opened_in}".encode()]
    assert stream.result == opened_in  # prepare and produce ran in the same process
    assert (opened_in != os.getpid()) is fork


@pytest.mark.parametrize("fork", [True, False])
def test_a_failure_of_prepare_is_raised_by_prepared(fork: bool) -> None:
    def prepare() -> tuple[Any, Any]:
        raise ImportFailure("data.csv: the header has no called column")

    def produce(_state: Any, _argument: Any) -> tuple[Iterator[Any], Callable[[], Any]]:
        raise AssertionError("never produced")

    with pytest.raises(ImportFailure, match="no called column"), ForkedStream(produce, prepare=prepare, fork=fork) as stream:
        stream.prepared()


def test_leaving_before_start_ends_the_waiting_child() -> None:
    stream = ForkedStream(lambda _s, _a: (iter(()), lambda: None))
    with stream:
        pid = stream._pid
        stream.prepared()  # the child now waits for start
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped


MiB = 1024 * 1024


def test_the_memory_limit_counts_only_what_the_child_adds() -> None:
    # 64 MiB beyond what it inherited is within a 128 MiB allowance, whatever the parent's own size.
    def produce(_state: Any, _argument: Any) -> tuple[Iterator[Any], Callable[[], Any]]:
        block = bytearray(64 * MiB)
        return iter([bytes(block[:8])]), lambda: len(block)

    with ForkedStream(produce, memory_mb=128) as stream:
        got = list(stream)
    assert (got, stream.result) == ([bytes(8)], 64 * MiB)


def test_a_child_over_its_memory_limit_fails_the_import_with_a_reason() -> None:
    def prepare() -> tuple[Any, Any]:
        return bytearray(256 * MiB), None  # Python's MemoryError under a 128 MiB allowance

    with pytest.raises(ImportFailure) as raised, ForkedStream(lambda _s, _a: (iter(()), lambda: None), prepare=prepare, memory_mb=128) as stream:
        stream.prepared()
    assert "more memory than an import may use (128 MiB, OUTDIAL_IMPORT_MEMORY_MB)" in raised.value.reason


def test_a_child_that_aborts_under_a_memory_limit_fails_the_import_with_a_reason() -> None:
    # calamine (Rust) aborts the process when an allocation fails: SIGABRT, no answer.
    def produce(_state: Any, _argument: Any) -> tuple[Iterator[Any], Callable[[], Any]]:
        def items() -> Iterator[Any]:
            yield b"first"
            os.abort()

        return items(), lambda: "never"

    with pytest.raises(ImportFailure) as raised, ForkedStream(produce, memory_mb=512) as stream:
        list(stream)
    assert raised.value.reason.startswith("reading the file was stopped (SIGABRT): it needs more memory")
    assert stream._pid == 0  # reaped when its end was read


def test_without_a_memory_limit_a_dead_child_is_named_by_its_signal() -> None:
    def produce(_state: Any, _argument: Any) -> tuple[Iterator[Any], Callable[[], Any]]:
        os.abort()

    with pytest.raises(RuntimeError, match=r"ended without an answer \(SIGABRT\)"), ForkedStream(produce) as stream:
        list(stream)
