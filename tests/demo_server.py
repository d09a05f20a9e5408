"""`outdial serve --demo` in a subprocess, as the quick start runs it, with the key and campaign it prints."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class DemoServer:
    process: subprocess.Popen[str]
    base_url: str
    ak: str
    sk: str
    campaign_id: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_demo_server(data_dir: Path, *options: str) -> DemoServer:
    """Start `outdial serve --demo OPTIONS` on a free port and read its banner. The caller stops it."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTDIAL_")}
    env["OUTDIAL_DATA_DIR"] = str(data_dir)
    outdial = Path(sys.executable).with_name("outdial")
    process = subprocess.Popen(
        [str(outdial), "serve", "--demo", "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    printed = ""
    assert process.stdout is not None
    while "try:" not in printed:
        line = process.stdout.readline()
        if not line:
            process.kill()
            raise AssertionError(f"serve exited before printing the demo key: {printed}")
        printed += line
    found = re.search(r"AK (\w+), SK (\w+)", printed)
    campaign = re.search(r"demo campaign (\d+)", printed)
    assert found and campaign, printed
    return DemoServer(
        process, f"http://127.0.0.1:{port}", found.group(1), found.group(2), int(campaign.group(1))
    )
