"""`outdial serve --workers N`: N server processes answering on one listening socket.

One process runs Python on one core at a time. With N processes the API scales across cores: the parent
binds the socket, forks the processes and restarts any that dies. Each process opens its own database
connections after the fork; process 0 alone runs the background workers (engine, imports, callbacks), so
their pacing and ordering do not depend on N. What one process changes, the workers of process 0 see at
their next look (at most about a second later: the engine refreshes every second, the others poll).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from outdial.context import AppContext
from outdial.db import Database

log = logging.getLogger("outdial.server")

RESTART_PAUSE_S = 1.0  # between the death of a process and its replacement, so a crash loop cannot spin


def freeze_startup_heap() -> None:
    """Take what startup allocated (modules, the app, SQLAlchemy's tables) out of the cyclic collector's
    sight. Otherwise every full collection walks those ~80,000 objects again, about 30 ms on the 2-core
    machine, inside whichever request happens to trigger it: the 1-in-100 outlier of the results queries
    (docs/benchmarks.md). What requests allocate later is collected as usual."""
    gc.collect()
    gc.freeze()


def serve_processes(
    ctx: AppContext, make_app: Callable[[AppContext, bool], FastAPI], host: str, port: int, processes: int
) -> None:
    """Run `processes` copies of `make_app(ctx, run_workers)` on host:port until SIGINT or SIGTERM."""
    ctx.db.dispose()  # no connection may cross the fork
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(2048)
    listener.set_inheritable(True)
    children: dict[int, int] = {}  # pid -> process index
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            _signal(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for index in range(processes):
        children[_fork(ctx, make_app, listener, index)] = index
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        index = children.pop(pid, -1)
        if index < 0 or stopping:
            continue
        log.error("server process %d (pid %d) ended with status %d; starting another", index, pid, status)
        time.sleep(RESTART_PAUSE_S)
        children[_fork(ctx, make_app, listener, index)] = index
    listener.close()


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _fork(
    ctx: AppContext, make_app: Callable[[AppContext, bool], FastAPI], listener: socket.socket, index: int
) -> int:
    pid = os.fork()
    if pid:
        return pid
    # the child: default signal handling (uvicorn installs its own), fresh database connections
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    code = 0
    try:
        ctx.db = Database(ctx.db.url, wal_limit_mb=ctx.db.wal_limit_mb)
        app = make_app(ctx, index == 0)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        freeze_startup_heap()
        server.run(sockets=[listener])
    except BaseException:  # the parent logs the exit and starts another
        log.exception("server process %d failed", index)
        code = 1
    finally:
        os._exit(code)
