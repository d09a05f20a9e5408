"""Real SIP endpoints for the tests: free loopback ports, SIPp callee scenarios (one per outcome), and a
minimal Kamailio as the trunk proxy. Every process is started on 127.0.0.1 and stopped by its PID.

A SIPp callee answers every INVITE the same way (one scenario per process; SIPp cannot key a status on the
request). Kamailio forwards by the called number's prefix to the SIPp process of that outcome, so one
trunk serves a campaign of mixed outcomes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HOST = "127.0.0.1"
SIP_BINARIES = ("sipp", "kamailio")


def missing_binaries(names: tuple[str, ...] = SIP_BINARIES) -> list[str]:
    return [name for name in names if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]


def skip_without(*names: str) -> pytest.MarkDecorator:
    missing = missing_binaries(names or SIP_BINARIES)
    return pytest.mark.skipif(
        bool(missing),
        reason=f"not installed: {', '.join(missing)} (Debian packages "
        "sip-tester, kamailio, baresip-core; see .ci/run)",
    )


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A loopback port free for UDP and TCP now (the OS picks it)."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
        try:
            with socket.socket(socket.AF_INET, other) as s:
                s.bind((HOST, port))
        except OSError:
            continue
        return port


def free_port_pair() -> int:
    """An even UDP port whose successor is free too (RTP + RTCP)."""
    while True:
        port = free_port()
        if port % 2:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((HOST, port + 1))
        except OSError:
            continue
        return port


# --- SIPp scenarios ---------------------------------------------------------------------------------------

_PROVISIONAL = """
  <send><![CDATA[

SIP/2.0 {status} {phrase}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
"""

# A REFER in the call, answered with `status` (talk_ms then counts from it); a BYE first ends the call.
_REFER_REPLY = """
  <recv request="BYE" optional="true" next="bye_received"/>
  <recv request="REFER" timeout="{talk_ms}" ontimeout="hangup"/>
  <send><![CDATA[

SIP/2.0 {status} {phrase}
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"""

_FINAL_FAILURE = """
  <send><![CDATA[

SIP/2.0 {status} {phrase}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq: [$cseq] INVITE
{reason}Content-Length: 0

]]></send>
  <recv request="ACK"/>
"""

_INVITE = """
  <recv request="INVITE" rrs="true">
    <action>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" check_it="true" assign_to="cseq"/>
{dialog}    </action>
  </recv>
"""

_DIALOG = """      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="invite_from"/>
      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="invite_to"/>
"""

# A CANCEL while ringing: 200 to the CANCEL, 487 to the INVITE (with the INVITE's CSeq), ACK.
_CANCELLED = (
    """
  <label id="cancelled"/>
  <send><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"""
    + _FINAL_FAILURE.format(status=487, phrase="Request Terminated", reason="")
    + """
  <nop><action><exec int_cmd="stop_call"/></action></nop>
"""
)

_ANSWER = """
  <label id="answer"/>
  <send retrans="500"><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq: [$cseq] INVITE
[last_Record-Route:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20

]]></send>
  <recv request="ACK" crlf="true"/>
{play}{refer}
  <recv request="BYE" timeout="{talk_ms}" ontimeout="hangup" next="bye_received"/>
  <label id="hangup"/>
  <send retrans="500"><![CDATA[

BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$invite_to];tag=[pid]SIPpTag01[call_number]
To: [$invite_from]
[last_Call-ID:]
CSeq: 2 BYE
[routes]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" crlf="true" next="end"/>
  <label id="bye_received"/>
  <send><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <label id="end"/>
"""


@dataclass(frozen=True)
class Callee:
    """What a SIPp callee does with every INVITE.

    `status` 200 answers after `ring_ms` and talks `talk_ms` (then hangs up with a BYE) unless the caller
    hangs up first; `play` streams a WAV (8 kHz mu-law) after the answer. Any other status is sent after
    `ring_ms` of ringing (no ringing when `ring_ms` is 0), with `reason` as a Reason header
    (e.g. "Q.850;cause=20"). `status` None rings until the caller cancels. `refer_reply` (a status): an
    answered callee answers a REFER with it (405 or 603: refused; 202: accepted, and then never reports
    the transfer's outcome) and talks `talk_ms` more.
    A CANCEL during the ringing is always answered 487.
    """

    status: int | None
    ring_ms: int = 0
    talk_ms: int = 600_000
    reason: str | None = None
    phrase: str = ""
    play: str | None = None
    refer_reply: int | None = None

    def scenario(self) -> str:
        ringing = self.status is None or self.ring_ms > 0
        dialog = _DIALOG if self.status == 200 else ""
        body = [
            _INVITE.format(dialog=dialog),
            _PROVISIONAL.format(status=100, phrase="Trying")
            .replace("[last_To:];tag=[pid]SIPpTag01[call_number]", "[last_To:]")
            .replace("[last_Record-Route:]\n", ""),
        ]
        if ringing:
            body.append(_PROVISIONAL.format(status=180, phrase="Ringing"))
        if self.status is None:
            body.append('  <recv request="CANCEL" next="cancelled"/>\n')
        else:
            wait = max(self.ring_ms, 1)
            after = "answer" if self.status == 200 else "final"
            body.append(f'  <recv request="CANCEL" timeout="{wait}" ontimeout="{after}" next="cancelled"/>\n')
            if self.status == 200:
                play = (
                    f'  <nop><action><exec rtp_stream="{self.play},1,0"/></action></nop>\n'
                    if self.play
                    else ""
                )
                refer = (
                    _REFER_REPLY.format(
                        status=self.refer_reply,
                        phrase=_PHRASES.get(self.refer_reply, "Refused"),
                        talk_ms=max(self.talk_ms, 1),
                    )
                    if self.refer_reply
                    else ""
                )
                body.append(_ANSWER.format(play=play, refer=refer, talk_ms=max(self.talk_ms, 1)))
            else:
                reason = f"Reason: {self.reason}\n" if self.reason else ""
                body.append('  <label id="final"/>\n')
                body.append(
                    _FINAL_FAILURE.format(
                        status=self.status,
                        phrase=self.phrase or _PHRASES.get(self.status, "Failed"),
                        reason=reason,
                    )
                )
            body.append('  <nop next="done"/>\n')
        body.append(_CANCELLED)
        body.append('  <label id="done"/>\n')
        return (
            '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="outdial callee">\n'
            + "".join(body)
            + "</scenario>\n"
        )


_PHRASES = {
    404: "Not Found",
    202: "Accepted",
    405: "Method Not Allowed",
    408: "Request Timeout",
    480: "Temporarily Unavailable",
    484: "Address Incomplete",
    486: "Busy Here",
    503: "Service Unavailable",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
}


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGTERM)
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
            except ProcessLookupError:
                pass

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class SippCallee:
    callee: Callee
    port: int
    media_port: int
    process: Process

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"


@dataclass
class Rig:
    """Processes a test started; `close` stops every one by PID."""

    workdir: Path
    processes: list[Process] = field(default_factory=list)

    def callee(self, callee: Callee, *, name: str = "callee") -> SippCallee:
        """A SIPp process answering every INVITE as `callee` says, on free loopback ports. A port taken
        between choosing it and binding it (parallel test runs) makes SIPp exit: tried again elsewhere."""
        for attempt in range(3):
            try:
                return self._callee(callee, name)
            except PortTaken:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _callee(self, callee: Callee, name: str) -> SippCallee:
        port = free_port()
        media_port = free_port_pair()
        scenario = self.workdir / f"{name}-{port}.xml"
        scenario.write_text(callee.scenario())
        log = self.workdir / f"{name}-{port}.log"
        argv = [
            "sipp", "-sf", str(scenario), "-i", HOST, "-p", str(port), "-mi", HOST, "-mp", str(media_port),
            *([] if callee.play else ["-rtp_echo"]), "-nostdin", "-trace_err", "-error_file", str(self.workdir / f"{name}-{port}.err"),
            "-max_recv_loops", "10000", "-l", "1000",
        ]  # fmt: skip
        with log.open("wb") as out:
            popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir)
        process = Process(name, popen, log)
        self.processes.append(process)
        _wait_udp_bound(port, popen)
        return SippCallee(callee, port, media_port, process)

    def kamailio(
        self, routes: Mapping[str, str], *, registrar: bool = False, port: int | None = None
    ) -> Kamailio:
        """A trunk proxy: an INVITE whose called number starts with a key of `routes` goes to that host:port
        (the longest prefix wins); others get 404. With `registrar`, REGISTER is accepted (no auth), else
        refused 403. `port`: listen there (e.g. to restart a trunk that was stopped)."""
        for attempt in range(3):
            try:
                return self._kamailio(routes, registrar, port or free_port())
            except PortTaken:
                if attempt == 2 or port is not None:
                    raise
        raise AssertionError("unreachable")

    def _kamailio(self, routes: Mapping[str, str], registrar: bool, port: int) -> Kamailio:
        cfg = self.workdir / f"kamailio-{port}.cfg"
        cfg.write_text(kamailio_cfg(port, routes, registrar=registrar))
        pidfile = self.workdir / f"kamailio-{port}.pid"
        log = self.workdir / f"kamailio-{port}.log"
        argv = ["kamailio", "-f", str(cfg), "-P", str(pidfile), "-w", str(self.workdir), "-E", "-D",
                "-m", "32", "-M", "8"]  # fmt: skip
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        argv[0] = binary
        with log.open("wb") as out:
            popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir)
        process = Process("kamailio", popen, log)
        self.processes.append(process)
        _wait_udp_bound(port, popen)
        return Kamailio(port, process)

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


@dataclass
class Kamailio:
    port: int
    process: Process

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"


def kamailio_cfg(port: int, routes: Mapping[str, str], *, registrar: bool = False) -> str:
    """No database: usrloc in memory (db_mode 0), record-route, and a prefix table to the callees."""
    branches = []
    for prefix in sorted(routes, key=len, reverse=True):
        branches.append(
            f'    if ($rU =~ "^{prefix}") {{ $du = "sip:{routes[prefix]}"; route(RELAY); exit; }}\n'
        )
    register = (
        '    if (is_method("REGISTER")) { save("location"); exit; }\n'
        if registrar
        else '    if (is_method("REGISTER")) { sl_send_reply("403", "Forbidden"); exit; }\n'
    )
    return f"""#!KAMAILIO
debug=1
log_stderror=yes
fork=yes
children=2
auto_aliases=no
listen=udp:{HOST}:{port}
disable_tcp=yes

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "xlog.so"

modparam("usrloc", "db_mode", 0)
modparam("rr", "enable_full_lr", 1)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ route(RELAY); exit; }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    t_check_trans();
{register}    if (is_method("INVITE")) {{ record_route(); }}
{"".join(branches)}    sl_send_reply("404", "No route");
    exit;
}}

route[RELAY] {{
    if (!t_relay()) {{ sl_reply_error(); }}
    exit;
}}
"""


class PortTaken(RuntimeError):
    """The process exited before listening (usually: its port was taken meanwhile)."""


def _wait_udp_bound(port: int, popen: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Until something listens on the UDP port (binding it ourselves fails)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise PortTaken(f"{popen.args[0]} exited with {popen.returncode} before listening on {port}")
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((HOST, port))
        except OSError:
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on udp {port} after {timeout_s} s")


@pytest.fixture
def rig() -> Iterator[Rig]:
    workdir = Path(tempfile.mkdtemp(prefix="outdial-sip-"))
    rig = Rig(workdir)
    try:
        yield rig
    finally:
        rig.close()
        shutil.rmtree(workdir, ignore_errors=True)
