"""Call audio on the adapter's asyncio loop: detection, the customer-agent relay, playing, recording.

The functions take baresip-python `CallAudio` objects (`call.audio`): non-blocking buffers of signed 16-bit
PCM at the call's negotiated rate (8 kHz mono with G.711, the codecs outdial offers). They poll those
buffers every 10 ms (`FRAME_S`) on the running loop, never block it, and end by themselves when a call's
audio goes away (the call closed), so the adapter only has to cancel or stop them on a hang-up.

- `detect`: reads the callee's audio into an `AnsweringMachineDetector` until it decides.
- `relay`: both ways between the customer leg and the agent (or IVR) leg, optionally into a `WavRecorder`.
- `play`: a WAV file to one leg (e.g. a message), in real time.
- `WavRecorder`: both legs of a bridged call into one stereo WAV (left: customer, right: agent).
"""

from __future__ import annotations

import asyncio
import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from outdial.engine.telephony.sip.amd import AmdDecision, AnsweringMachineDetector

FRAME_S = 0.010  # the polling period: one 10 ms frame
READ_MAX = 32768  # bytes per read: everything buffered (baresip's receive buffer holds 32 KiB)
PLAY_AHEAD_S = 0.060  # play() keeps this much audio queued for the sender, no more
PLAY_TAIL_S = 0.200  # and returns this long after the last sample left the queue (in flight: ~80 ms idle)
MAX_SKEW_S = 0.200  # a recorder channel this far behind the other is filled with silence


class CallAudioLike(Protocol):
    """What this module uses of baresip's `CallAudio` (any object with these methods works)."""

    def info(self): ...  # AudioInfo: rx_sample_rate, rx_channels, tx_sample_rate, tx_channels, tx_buffered

    def read(self, max_bytes: int) -> bytes: ...

    def write(self, pcm: bytes) -> int: ...


def _audio_errors() -> tuple[type[Exception], type[Exception]]:
    """(AudioNotActive, AudioRestarted) from baresip, imported late so this module imports without it."""
    from baresip import AudioNotActive, AudioRestarted

    return AudioNotActive, AudioRestarted


@dataclass
class RelayStats:
    """What a relay moved, for tests and benchmarks (bytes of 16-bit PCM)."""

    a_to_b_bytes: int = 0  # customer -> agent
    b_to_a_bytes: int = 0  # agent -> customer
    a_to_b_dropped: int = 0  # bytes the agent leg's send buffer refused
    b_to_a_dropped: int = 0
    ticks: int = 0  # 10 ms polling rounds


async def _wait_active(audio: CallAudioLike, stop: asyncio.Event | None = None):
    """The audio's `AudioInfo` once its media is up (polled every frame); None if `stop` is set first."""
    not_active, _ = _audio_errors()
    while stop is None or not stop.is_set():
        try:
            info = audio.info()
            if info.rx_ready and info.tx_ready:
                return info
        except not_active:
            pass
        await asyncio.sleep(FRAME_S)
    return None


async def detect(
    audio: CallAudioLike, detector: AnsweringMachineDetector, *, timeout_s: float
) -> AmdDecision:
    """Feed the callee's audio to `detector` until it decides (audio time counted from the first read).

    Start it as soon as the call is established: baresip drops received audio until the call's first read,
    so a late start loses the beginning of the greeting (and detection then takes longer or decides wrong).
    If no decision comes within `timeout_s` of wall time (no audio arriving, a closed call), the answer is
    the detector's `undecided_answered_by`, reason "TIMEOUT-<audio ms analysed>". Raises ValueError when the
    call's receive format is not the detector's (mono at `detector.sample_rate`).
    """
    not_active, restarted = _audio_errors()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    timed_out = AmdDecision(detector.settings.undecided_answered_by, 0, "TIMEOUT-0")
    try:
        info = await asyncio.wait_for(_wait_active(audio), timeout_s)
    except TimeoutError:
        return timed_out
    if (info.rx_sample_rate, info.rx_channels) != (detector.sample_rate, 1):
        raise ValueError(
            f"audio: detection needs mono {detector.sample_rate} Hz, the call receives "
            f"{info.rx_channels} channel(s) at {info.rx_sample_rate} Hz"
        )
    while loop.time() < deadline:
        try:
            decision = detector.feed(audio.read(READ_MAX))
        except restarted:
            decision = None  # renegotiated mid-call: the next read binds to the new stream
        except not_active:
            break  # the call closed under us
        if decision is not None:
            return decision
        await asyncio.sleep(FRAME_S)
    return AmdDecision(
        detector.settings.undecided_answered_by, detector.elapsed_ms, f"TIMEOUT-{detector.elapsed_ms}"
    )


async def relay(
    a: CallAudioLike,
    b: CallAudioLike,
    stop: asyncio.Event,
    recorder: WavRecorder | None = None,
    stats: RelayStats | None = None,
) -> None:
    """Copy audio both ways between leg `a` (the customer) and leg `b` (the agent or IVR) every 10 ms.

    Runs until `stop` is set or either leg's audio goes away (its call closed). Each round moves everything
    each side has received since the last round, so no delay builds up. `recorder` gets both directions;
    `stats` (optional) counts what was moved. Raises ValueError if the legs' formats differ.
    """
    not_active, restarted = _audio_errors()
    info_a = await _wait_active(a, stop)
    info_b = await _wait_active(b, stop)
    if info_a is None or info_b is None:
        return
    format_a = (info_a.rx_sample_rate, info_a.rx_channels)
    format_b = (info_b.rx_sample_rate, info_b.rx_channels)
    if format_a != format_b:
        raise ValueError(f"audio: the legs differ (customer {format_a}, agent {format_b}: rate, channels)")
    stats = stats if stats is not None else RelayStats()
    loop = asyncio.get_running_loop()
    next_tick = loop.time()
    while not stop.is_set():
        from_a = from_b = b""
        try:
            from_a = a.read(READ_MAX)
            from_b = b.read(READ_MAX)
            if from_a:
                stats.a_to_b_dropped += len(from_a) - b.write(from_a)
            if from_b:
                stats.b_to_a_dropped += len(from_b) - a.write(from_b)
        except restarted:
            pass  # a leg renegotiated: what was read this round is lost, the next round rebinds
        except not_active:
            return
        stats.a_to_b_bytes += len(from_a)
        stats.b_to_a_bytes += len(from_b)
        stats.ticks += 1
        if recorder is not None and (from_a or from_b):
            recorder.add(from_a, from_b)
        # a fixed 10 ms cadence (not 10 ms after the work), resynchronised after a stall of the loop
        next_tick = max(next_tick + FRAME_S, loop.time())
        await asyncio.sleep(next_tick - loop.time())


async def play(audio: CallAudioLike, wav_path: str) -> None:
    """Send a 16-bit mono WAV to the call in real time; returns once it has been heard (or the call closed).

    The file's rate must be the call's send rate (8 kHz with G.711; make one with
    `sox in.wav -r 8000 -c 1 -b 16 out.wav`), else ValueError.
    """
    not_active, restarted = _audio_errors()
    with wave.open(wav_path, "rb") as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        pcm = w.readframes(w.getnframes())
    info = await _wait_active(audio)
    if (width, channels, rate) != (2, info.tx_channels, info.tx_sample_rate):
        raise ValueError(
            f"wav_path: {wav_path} is {width * 8}-bit, {channels} channel(s), {rate} Hz; the call sends "
            f"16-bit, {info.tx_channels} channel(s), {info.tx_sample_rate} Hz"
        )
    ahead = int(PLAY_AHEAD_S * rate) * 2 * channels
    sent = 0
    while True:
        try:
            buffered = audio.info().tx_buffered
            if sent < len(pcm) and buffered < ahead:
                sent += audio.write(pcm[sent : sent + ahead - buffered])
            elif sent >= len(pcm) and buffered == 0:
                # the last frames are still in the encoder, on the wire and in the far end's jitter buffer:
                # a hang-up at once would cut the end of the message
                await asyncio.sleep(PLAY_TAIL_S)
                return
        except restarted:
            pass  # renegotiated: the next round writes to the new stream
        except not_active:
            return
        await asyncio.sleep(FRAME_S)


class WavRecorder:
    """Both legs of a bridged call into one stereo 16-bit WAV: left the customer, right the agent.

    `add` takes whatever each leg delivered in one relay round (the two can differ in length); the channels
    are kept in step by writing only what both have, and a leg that falls `MAX_SKEW_S` behind (its audio
    lost) is filled with silence so the two stay aligned in time.
    """

    def __init__(self, path: str | Path, sample_rate: int = 8000) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.frames = 0  # stereo frames written
        self._left = array("h")
        self._right = array("h")
        self._max_skew = int(MAX_SKEW_S * sample_rate)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._wav: wave.Wave_write | None = wave.open(str(self.path), "wb")  # noqa: SIM115  # open for the call
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)

    def add(self, customer_pcm: bytes, agent_pcm: bytes) -> None:
        if self._wav is None:
            raise ValueError("recorder: closed")
        self._left.frombytes(customer_pcm[: len(customer_pcm) & ~1])
        self._right.frombytes(agent_pcm[: len(agent_pcm) & ~1])
        short, long_ = sorted((self._left, self._right), key=len)
        if len(long_) - len(short) > self._max_skew:
            short.extend(array("h", [0]) * (len(long_) - len(short)))
        self._write(min(len(self._left), len(self._right)))

    def _write(self, n: int) -> None:
        if n == 0 or self._wav is None:
            return
        stereo = array("h", bytes(4 * n))
        stereo[0::2] = self._left[:n]
        stereo[1::2] = self._right[:n]
        del self._left[:n]
        del self._right[:n]
        if sys.byteorder == "big":
            stereo.byteswap()
        self._wav.writeframes(stereo.tobytes())
        self.frames += n

    def close(self) -> None:
        """Write what is left (the shorter leg padded with silence) and finish the file. Idempotent."""
        if self._wav is None:
            return
        short, long_ = sorted((self._left, self._right), key=len)
        short.extend(array("h", [0]) * (len(long_) - len(short)))
        self._write(len(long_))
        self._wav.close()
        self._wav = None

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate
