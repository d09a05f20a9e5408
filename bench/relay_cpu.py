"""CPU per bridged pair: outdial's audio relay (media.relay, in Python, 10 ms rounds) between real calls.

One baresip-python runtime (this process) places N calls to a "customer" baresip-core phone and N to an
"agent" phone (both auto-answer, each playing a tone), then measures this process's CPU (all its threads:
the SIP/RTP stack too) over a window with the 2N legs up but not relayed, and over a window with N relays
running. Prints, per N: CPU of one core per pair with the relay, the relay's own part (the difference), and
what the relays moved (bytes per second each way, bytes refused).

Usage: .venv/bin/python bench/relay_cpu.py [--pairs 1,10,25] [--seconds 10]
Needs baresip-core and sox (tests/sip/phones.py starts the phones on loopback free ports).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "sip"))

from phones import RTP_PORTS, free_port, running_phone, tone_wav  # noqa: E402

from outdial.engine.telephony.sip.media import RelayStats, relay  # noqa: E402


async def cpu_over(seconds: float) -> float:
    """This process's CPU over `seconds` of wall time, in cores (1.0 = one core busy)."""
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu0) / (time.monotonic() - wall0)


async def measure(ua, customer_uri: str, agent_uri: str, pairs: int, seconds: float) -> dict[str, float]:
    from baresip import BaresipError

    customers = [await ua.dial(customer_uri) for _ in range(pairs)]
    agents = [await ua.dial(agent_uri) for _ in range(pairs)]
    try:
        await asyncio.gather(*(c.wait_established(15) for c in customers + agents))
        await asyncio.sleep(1.0)  # media up everywhere
        idle = await cpu_over(seconds)
        stop = asyncio.Event()
        stats = [RelayStats() for _ in range(pairs)]
        tasks = [
            asyncio.create_task(relay(c.audio, a.audio, stop, None, s))
            for c, a, s in zip(customers, agents, stats, strict=True)
        ]
        await asyncio.sleep(1.0)
        before = [(s.a_to_b_bytes, s.b_to_a_bytes) for s in stats]
        relayed = await cpu_over(seconds)
        moved = [(s.a_to_b_bytes - b[0], s.b_to_a_bytes - b[1]) for s, b in zip(stats, before, strict=True)]
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        for call in customers + agents:
            with contextlib.suppress(BaresipError):
                await call.hangup()
        await asyncio.sleep(2.0)
    return {
        "pairs": pairs,
        "per_pair": relayed / pairs,
        "relay_per_pair": (relayed - idle) / pairs,
        "legs_only": idle,
        "min_bytes_per_s": min(min(m) for m in moved) / seconds,
        "refused": sum(s.a_to_b_dropped + s.b_to_a_dropped for s in stats),
    }


async def main(pair_counts: list[int], seconds: float, tmp: Path) -> None:
    from baresip import Account, Config, UserAgent
    from baresip.runtime import Runtime

    most = max(pair_counts)
    tone_a = tone_wav(tmp / "a.wav", 500, on_s=600, off_s=0.1)
    tone_b = tone_wav(tmp / "b.wav", 700, on_s=600, off_s=0.1)
    with (
        running_phone(tmp, "customer", plays=tone_a, max_calls=most + 2) as customer,
        running_phone(tmp, "agent", plays=tone_b, max_calls=most + 2) as agent,
    ):
        port = free_port()
        runtime = Runtime()
        await runtime.start(
            Config(
                net_interface="127.0.0.1",
                max_concurrent_calls=None,
                extra_config_text=f"sip_listen 127.0.0.1:{port}\nrtp_ports {RTP_PORTS}\n",
            )
        )
        try:
            ua = await UserAgent.create(
                runtime, Account(user="bench", domain=f"127.0.0.1:{port}", password="", reg_interval=0)
            )
            print(
                "pairs  CPU/pair (core)  relay's part/pair  2N legs unrelayed  min bytes/s each way  refused"
            )
            for n in pair_counts:
                r = await measure(ua, customer.uri, agent.uri, n, seconds)
                print(
                    f"{n:5d}  {r['per_pair']:15.2%}  {r['relay_per_pair']:17.2%}  {r['legs_only']:17.2%}  "
                    f"{r['min_bytes_per_s']:20.0f}  {r['refused']:7d}"
                )
        finally:
            await runtime.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="1,10,25", help="comma-separated pair counts")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per mode")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relay-cpu-") as tmp:
        asyncio.run(main([int(p) for p in args.pairs.split(",")], args.seconds, Path(tmp)))
