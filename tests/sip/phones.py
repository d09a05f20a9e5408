"""Test fixtures for real audio and real phones.

- Audio files made at test time by espeak-ng and sox (8 kHz mono 16-bit WAV): a spoken "Hello?" (a person),
  a long voicemail greeting (a machine), fax tones (CNG 1100 Hz, CED 2100 Hz), silence, faint noise.
- baresip-core (`baresip` binary) auto-answer phones on loopback free ports, each with its own config dir,
  playing a WAV with `aufile`, reporting JSON events over ctrl_tcp; plus one phone that never answers.

Import the fixtures into a test module by name (`from phones import audio_files`), as tests/engine does
with runner_support.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

import pytest

SAMPLE_RATE = 8000
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
