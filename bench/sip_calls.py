"""SIP adapter capacity: concurrent calls one process drives, hang-ups per second, CPU per bridged pair.

Real endpoints on loopback (the test rig, tests/sip/rig.py): SIPp callees that answer after 2 s and echo
the audio, reached through Kamailio as the trunk proxy; SIPp agent phones for the bridged pairs.

1. Concurrency: N calls placed at once (10, 50, 100, 200), every callee answers 2 s after the INVITE
   reached it. "answered within" is the time between the callee's 200 OK and the adapter's `answered`
   event (AMD off: the event the runner sees at once), bounded from above (placement + 2 s: includes the
   INVITEs queueing to leave) and from below (the 180's event + 2 s).
   The persons then wait for an agent; none is logged in, so all N are abandoned 2 s after their answer:
   outdial hangs up N calls that carried audio at once. "hang-ups/s" is N over the time from the first
   abandonment due to the last `ended`.
2. Bridged pairs: P persons bridged to P agent phones, outdial relaying 10 ms frames both ways; the CPU the
   whole process (Python and the SIP stack's threads) uses over 10 s of steady talk, per pair.

Usage: PYTHONPATH=src .venv/bin/python bench/sip_calls.py [--calls 10,50,100,200] [--pairs 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "sip"))

from rig import Callee, Rig, free_port  # noqa: E402  (the tests' rig: SIPp and Kamailio by PID)
from support import Driver, request  # noqa: E402

from outdial.clock import RealClock  # noqa: E402
from outdial.engine.telephony.agentpool import AgentLogin, AgentPool  # noqa: E402
from outdial.engine.telephony.sip.adapter import SipRuntime, SipTelephony  # noqa: E402
from outdial.engine.telephony.sip.settings import SipSettings  # noqa: E402

ANSWER_MS = 2000


def concurrency(runtime: SipRuntime, rig: Rig, n: int) -> dict[str, Any]:
    callee = rig.callee(Callee(200, ring_ms=ANSWER_MS, talk_ms=120_000), name=f"c{n}")
    trunk = rig.kamailio({"1": callee.address})
    settings = SipSettings(
        route=f"sip:{{number}}@{trunk.address}",
        trunk=f"sip:{trunk.address}",
        listen_host=runtime.host,
        listen_port=runtime.port,
        max_lines=n,
        amd=False,
    )
    adapter = SipTelephony(settings, RealClock(), runtime=runtime)
    adapter.start()
    driver = Driver(adapter)
    ids = [f"n{n}-{i}" for i in range(n)]
    cpu0, wall0 = time.process_time(), time.monotonic()
    placed = {}
    for call_id in ids:
        placed[call_id] = adapter.clock.now_ms()
        adapter.place_call(request(call_id, f"1{call_id}", max_alerting_s=30))
    ended = driver.until_ended(ids, timeout_s=120)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    answered = {e.call_id: e for e in driver.events if e.kind == "answered"}
    ringing = {e.call_id: e for e in driver.events if e.kind == "ringing"}
    # from placement (an upper bound: includes the INVITE waiting to leave) and from the 180 (the callee
    # sends it on the INVITE's arrival and the 200 OK 2 s later; a lower bound when the 180 came late too)
    late = [answered[c].at_ms - (placed[c] + ANSWER_MS) for c in ids if c in answered]
    after_180 = [
        answered[c].at_ms - (ringing[c].at_ms + ANSWER_MS) for c in ids if c in answered and c in ringing
    ]
    first_abandon_due = min(answered[c].at_ms for c in answered) + 2000 if answered else 0
    last_end = max(e.at_ms for e in ended.values())
    adapter.close()
    trunk.process.stop()
    callee.process.stop()
    return {
        "calls": n,
        "answered": len(answered),
        "answer_worst_ms": max(late) if late else None,
        "answer_median_ms": sorted(late)[len(late) // 2] if late else None,
        "answer_after_180_worst_ms": max(after_180) if after_180 else None,
        "answer_after_180_median_ms": sorted(after_180)[len(after_180) // 2] if after_180 else None,
        "hangups_per_s": round(n / max((last_end - first_abandon_due) / 1000, 0.001), 1),
        "cpu_share": round(cpu / wall, 2),
        "outcomes": sorted({e.outcome for e in ended.values()}),
    }


def bridged(runtime: SipRuntime, rig: Rig, pairs: int) -> dict[str, Any]:
    callee = rig.callee(Callee(200, ring_ms=200, talk_ms=120_000), name="persons")
    phones = rig.callee(Callee(200), name="phones")
    pool = AgentPool(wrapup_ms=1000)
    pool.sync([AgentLogin(f"a{i}", (1,), f"sip:a{i}@{phones.address}", True, None) for i in range(pairs)], 0)
    settings = SipSettings(
        route=f"sip:{{number}}@{callee.address}",
        listen_host=runtime.host,
        listen_port=runtime.port,
        max_lines=pairs,
        amd=False,
    )
    adapter = SipTelephony(settings, RealClock(), runtime=runtime, pool=pool)
    adapter.start()
    driver = Driver(adapter)
    idle = _cpu_share(3.0)  # the process doing nothing (the SIP stack's timers), subtracted below
    ids = [f"p{i}" for i in range(pairs)]
    for call_id in ids:
        adapter.place_call(request(call_id, "1", max_alerting_s=30))
    for call_id in ids:
        driver.until(call_id, "connected", timeout_s=60)
    time.sleep(2)  # audio flowing on every pair
    share = _cpu_share(10.0)
    moved = sum(adapter.relay_stats[c].a_to_b_bytes + adapter.relay_stats[c].b_to_a_bytes for c in ids)
    for call_id in ids:
        adapter.hangup(call_id)
    driver.until_ended(ids, timeout_s=60)
    return {
        "pairs": pairs,
        "cpu_share": round(share, 3),
        "cpu_per_pair_pct": round(100 * (share - idle) / pairs, 2),
        "idle_cpu_share": round(idle, 3),
        "relayed_mb": round(moved / 1e6, 1),
    }


def _cpu_share(seconds: float) -> float:
    """CPU time of the whole process (every thread) over `seconds` of wall time."""
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return (time.process_time() - cpu0) / (time.monotonic() - wall0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", default="10,50,100,200")
    parser.add_argument("--pairs", type=int, default=20)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="outdial-sip-bench-"))
    rig = Rig(workdir)
    runtime = SipRuntime.shared("127.0.0.1", free_port(), (30000, 39999))
    print(
        f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    try:
        for n in (int(x) for x in args.calls.split(",") if x):
            print(concurrency(runtime, rig, n), flush=True)
        if args.pairs:
            print(bridged(runtime, rig, args.pairs), flush=True)
    finally:
        rig.close()
        runtime.close()


if __name__ == "__main__":
    main()
