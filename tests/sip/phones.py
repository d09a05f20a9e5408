"""Test fixtures for real audio and real phones.

- Audio files made at test time by espeak-ng and sox (8 kHz mono 16-bit WAV): a spoken "Hello?" (a person),
  a long voicemail greeting (a machine), fax tones (CNG 1100 Hz, CED 2100 Hz), silence, faint noise.
- baresip-core (`baresip` binary) auto-answer phones on loopback free ports, each with its own config dir,
  playing a WAV with `aufile`, reporting JSON events over ctrl_tcp; plus one phone that never answers.

Import the fixtures into a test module by name (`from phones import audio_files`), as tests/engine does
with runner_support.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import signal
import socket
import subprocess
import threading
import time
import wave
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SAMPLE_RATE = 8000
RTP_PORTS = "10000-19999"  # below the OS's ephemeral ports (32768+), where free_port() finds SIP ports
SILENT_PHONE_S = 300  # a phone that plays nothing sends this much silence, then hangs up
HELLO_TEXT = "Hello?"
VOICEMAIL_TEXT = (
    "Hi, you have reached the voicemail of John Smith. I am not available right now. Please leave your "
    "name, your number and a short message after the tone, and I will call you back as soon as I can."
)


def missing(*binaries: str) -> list[str]:
    return [b for b in binaries if shutil.which(b) is None]


def require(*binaries: str) -> None:
    """Skip the calling test, with the reason, when a binary it needs is not installed."""
    absent = missing(*binaries)
    if absent:
        pytest.skip(f"needs {', '.join(absent)} (Debian: apt-get install {' '.join(_debian(absent))})")


def _debian(binaries: list[str]) -> list[str]:
    return [{"baresip": "baresip-core", "sipp": "sip-tester"}.get(b, b) for b in binaries]


def _sox(*args: str | Path) -> None:
    subprocess.run(["sox", *map(str, args)], check=True, capture_output=True, timeout=60)


def speech_wav(path: Path, text: str, *, lead_s: float = 0.3, tail_s: float = 3.0) -> Path:
    """`text` spoken by espeak-ng, resampled to 8 kHz mono 16-bit, after `lead_s` and before `tail_s` of silence."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True, timeout=60)
    _sox(raw, "-r", SAMPLE_RATE, "-c", 1, "-b", 16, path, "pad", lead_s, tail_s)
    raw.unlink()
    return path


def tone_wav(path: Path, freq_hz: float, *, on_s: float, off_s: float, repeats: int = 1) -> Path:
    """A sine of `freq_hz` (at -6 dBFS) for `on_s`, then `off_s` of silence, `repeats` times."""
    effects = f"synth {on_s} sine {freq_hz} vol 0.5 pad 0 {off_s} repeat {repeats - 1}"
    _sox("-n", "-r", SAMPLE_RATE, "-c", 1, "-b", 16, path, *effects.split())
    return path


def silence_wav(path: Path, seconds: float) -> Path:
    _sox("-n", "-r", SAMPLE_RATE, "-c", 1, "-b", 16, path, "trim", 0, seconds)
    return path


def noise_wav(path: Path, rms_dbfs: float, seconds: float) -> Path:
    """White noise whose RMS level is `rms_dbfs` (sox makes it, then it is scaled to the level measured)."""
    loud = path.with_suffix(".loud.wav")
    _sox("-n", "-r", SAMPLE_RATE, "-c", 1, "-b", 16, loud, "synth", seconds, "whitenoise", "vol", 0.5)
    gain_db = rms_dbfs - rms_dbfs_of(read_pcm(loud))
    _sox(loud, path, "gain", f"{gain_db:.2f}")
    loud.unlink()
    return path


def read_pcm(path: Path) -> bytes:
    """The samples of a 16-bit mono WAV (little-endian, as the detector takes them)."""
    with wave.open(str(path)) as w:
        assert (w.getsampwidth(), w.getnchannels()) == (2, 1), f"{path} is not 16-bit mono"
        return w.readframes(w.getnframes())


def rms_dbfs_of(pcm: bytes) -> float:
    samples = array("h", pcm)
    if not samples:
        return -math.inf
    mean_square = sum(x * x for x in samples) / len(samples)
    return 10 * math.log10(mean_square / 32768.0**2) if mean_square else -math.inf


@dataclass(frozen=True)
class AudioFiles:
    hello: Path  # 0.3 s silence, "Hello?", 3 s silence
    voicemail: Path  # a 10 s greeting
    cng: Path  # fax calling tone: 0.5 s of 1100 Hz, 3 s silence, three times
    ced: Path  # fax answer tone: 3 s of 2100 Hz
    silence: Path  # 6 s of digital silence
    noise: Path  # 6 s of white noise at -50 dBFS RMS


@pytest.fixture(scope="session")
def audio_files(tmp_path_factory: pytest.TempPathFactory) -> AudioFiles:
    require("espeak-ng", "sox")
    d = tmp_path_factory.mktemp("audio")
    return AudioFiles(
        hello=speech_wav(d / "hello.wav", HELLO_TEXT),
        voicemail=speech_wav(d / "voicemail.wav", VOICEMAIL_TEXT, tail_s=1.0),
        cng=tone_wav(d / "cng.wav", 1100, on_s=0.5, off_s=3.0, repeats=3),
        ced=tone_wav(d / "ced.wav", 2100, on_s=3.0, off_s=1.0),
        silence=silence_wav(d / "silence.wav", 6),
        noise=noise_wav(d / "noise.wav", -50.0, 6),
    )


# --- baresip-core phones -------------------------------------------------------------------------------


def free_port() -> int:
    """A port asked of the OS, free on 127.0.0.1 for UDP and TCP, and its next one for TCP too (SIP listens
    on UDP and TCP at the port, baresip's TLS transport on the port + 1)."""
    for _ in range(50):
        with contextlib.ExitStack() as held:
            tcp = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)).bind(("127.0.0.1", port))
                held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)).bind(
                    ("127.0.0.1", port + 1)
                )
            except OSError:
                continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")


@dataclass
class Phone:
    """One baresip-core process: a SIP phone at `uri`, with its events (ctrl_tcp JSON) collected in `events`.

    `auto_answer` phones answer at once and play `plays` (a WAV; SILENT_PHONE_S of silence when None) from
    the start of each call, and HANG UP when it ends (baresip's menu module ends the call at the source's
    end of file): a short file makes a callee that hangs up. Each call's audio is recorded by the phone
    (sndfile module) into `directory`: `*-dec.wav` what it received, `*-enc.wav` what it sent.
    """

    name: str
    directory: Path
    sip_port: int
    ctrl_port: int
    auto_answer: bool
    plays: Path | None
    max_calls: int = 4  # calls at once (baresip's call_max_calls)
    process: subprocess.Popen | None = None
    events: list[dict] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _sock: socket.socket | None = None

    @property
    def uri(self) -> str:
        return f"sip:{self.name}@127.0.0.1:{self.sip_port}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.plays is None:  # aufile needs a file, and the phone hangs up at its end: a long silence
            self.plays = self.directory / "silence.wav"
            with wave.open(str(self.plays), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(SAMPLE_RATE)
                w.writeframes(bytes(2 * SAMPLE_RATE * SILENT_PHONE_S))
        source = f"aufile,{self.plays}"
        config = f"""\
poll_method epoll
sip_listen 127.0.0.1:{self.sip_port}
net_interface 127.0.0.1
audio_source {source}
audio_player aufile,/dev/null
audio_alert aufile,/dev/null
audio_srate 8000
audio_channels 1
call_max_calls {self.max_calls}
rtp_ports {RTP_PORTS}
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module sndfile.so
snd_path {self.directory}
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}
"""
        # no stdio.so (there is no TTY); the account answers by itself or rings until the caller gives up
        answermode = "auto" if self.auto_answer else "manual"
        (self.directory / "config").write_text(config)
        (self.directory / "accounts").write_text(
            f"<{self.uri}>;regint=0;answermode={answermode};audio_codecs=PCMU,PCMA\n"
        )
        log = open(self.directory / "baresip.log", "wb")  # noqa: SIM115  # the process owns it
        self.process = subprocess.Popen(
            ["baresip", "-f", str(self.directory)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                self._sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=0.2)
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"phone {self.name} did not start: {self.log_tail()}") from None
                time.sleep(0.05)
        self._sock.settimeout(None)
        threading.Thread(target=self._read_events, name=f"phone-{self.name}", daemon=True).start()

    def _read_events(self) -> None:
        """ctrl_tcp frames are netstrings ("<length>:<json>,"); events have "event": true."""
        assert self._sock is not None
        buffer = b""
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b":" in buffer:
                head, _, rest = buffer.partition(b":")
                length = int(head)
                if len(rest) < length + 1:
                    break
                message = json.loads(rest[:length])
                buffer = rest[length + 1 :]
                with self._cond:
                    self.events.append(message)
                    self._cond.notify_all()

    def command(self, command: str, params: str = "") -> None:
        assert self._sock is not None
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._sock.sendall(b"%d:%s," % (len(body), body))

    def event_types(self) -> list[str]:
        with self._cond:
            return [e.get("type", "") for e in self.events if e.get("event")]

    def wait_event(self, kind: str, count: int = 1, timeout_s: float = 10.0) -> list[dict]:
        """Wait until `count` events of type `kind` (e.g. CALL_ESTABLISHED, CALL_CLOSED) have arrived."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                found = [e for e in self.events if e.get("event") and e.get("type") == kind]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"phone {self.name}: {count} x {kind} not seen; events {self.event_types()}"
                    )
                self._cond.wait(remaining)

    def received_audio(self) -> list[Path]:
        """The WAV files of what this phone received, one per call, oldest first (complete once closed)."""
        return sorted(self.directory.glob("dump-*-dec.wav"))

    def log_tail(self, lines: int = 20) -> str:
        path = self.directory / "baresip.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@contextlib.contextmanager
def running_phone(
    directory: Path, name: str, *, plays: Path | None, auto_answer: bool = True, max_calls: int = 4
) -> Iterator[Phone]:
    """A started phone, stopped (by its PID) when the block ends."""
    require("baresip")
    phone = Phone(name, directory / name, free_port(), free_port(), auto_answer, plays, max_calls)
    try:
        phone.start()
        yield phone
    finally:
        phone.stop()


@dataclass(frozen=True)
class AgentPhones:
    agents: list[Phone]  # auto-answer phones, each playing its own tone (AGENT_TONES_HZ) for AGENT_TONE_S
    never_answers: Phone  # rings until the caller gives up


AGENT_TONES_HZ = (500.0, 700.0, 900.0)  # what agent phone i says: a tone, told apart by tone_share
AGENT_TONE_S = 300  # and for how long: an agent hangs up when its tone ends


_agent_tones: dict[float, Path] = {}  # made once per session (5 MB each)


def agent_tone(tmp_path_factory: pytest.TempPathFactory, freq_hz: float) -> Path:
    if freq_hz not in _agent_tones or not _agent_tones[freq_hz].exists():
        directory = tmp_path_factory.mktemp("agent-tones")
        _agent_tones[freq_hz] = tone_wav(
            directory / f"{freq_hz:g}.wav", freq_hz, on_s=AGENT_TONE_S, off_s=0.1
        )
    return _agent_tones[freq_hz]


@pytest.fixture
def agent_phones(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentPhones]:
    """Three auto-answer agent phones (agent i plays AGENT_TONES_HZ[i]) and one that never answers."""
    require("baresip", "sox")
    with contextlib.ExitStack() as stack:
        agents = []
        for i, freq in enumerate(AGENT_TONES_HZ):
            tone = agent_tone(tmp_path_factory, freq)
            agents.append(stack.enter_context(running_phone(tmp_path, f"agent{i + 1}", plays=tone)))
        never = stack.enter_context(running_phone(tmp_path, "noanswer", plays=None, auto_answer=False))
        yield AgentPhones(agents, never)


def tone_share(pcm: bytes, freq_hz: float, sample_rate: int = SAMPLE_RATE) -> float:
    """Share of the audio's power at `freq_hz` (Goertzel over 20 ms blocks): ~1 for that tone alone."""
    from outdial.engine.telephony.sip.amd import goertzel_power

    samples = array("h", pcm)
    block = sample_rate // 50
    in_bin = total = 0.0
    for start in range(0, len(samples) - block + 1, block):
        chunk = samples[start : start + block]
        in_bin += goertzel_power(chunk, sample_rate, freq_hz) * 2 / block
        total += sum(x * x for x in chunk)
    return in_bin / total if total else 0.0
