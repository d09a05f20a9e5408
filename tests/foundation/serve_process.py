"""`outdial serve` as a subprocess in a directory of the test's choosing, with a log file to read."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

OUTDIAL = str(Path(sys.executable).with_name("outdial"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def outdial_env(**settings: str) -> dict[str, str]:
    """The environment without the caller's OUTDIAL_ settings, plus `settings` (OUTDIAL_ prefixed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTDIAL_")}
    env.update({f"OUTDIAL_{name.upper()}": value for name, value in settings.items()})
    env.setdefault("OUTDIAL_TIMEZONE", "UTC")
    return env


def run_outdial(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OUTDIAL, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def start_serve(cwd: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start `outdial serve` and wait for /healthz. The caller stops the process (stop())."""
    port = free_port()
    with log.open("wb") as log_file:  # a file, not a pipe: a full pipe would stall the server
        process = subprocess.Popen(
            [OUTDIAL, "serve", "--port", str(port)], cwd=cwd, env=env, stdout=log_file, stderr=log_file
        )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"outdial serve did not start: {log.read_text()}")
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return process, base_url
        except httpx.HTTPError:
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
