"""Answering-machine detection: person, machine or fax, from the callee's first seconds of audio.

A pure detector (no I/O, no clock: time is the audio itself). Feed it the callee's PCM (signed 16-bit
little-endian mono) in chunks of any size from the instant of answer; it cuts the audio into fixed 10 ms
frames and decides once, at an audio instant `at_ms` counted from the first sample.

The rules are those of Asterisk's app_amd (energy and cadence):

- a frame is *voiced* when its RMS level is at least `voiced_dbfs` (default -35 dBFS), else silent;
- voice of at least `min_word_ms` after a silence of `between_words_silence_ms` starts a new *word*;
- silence for `initial_silence_ms` before anyone speaks -> the silence decision (`silence_answered_by`,
  machine by default, as app_amd's INITIALSILENCE);
- speech, then `after_greeting_silence_ms` of silence -> person (a short "Hello?" and a pause for reply);
- speech totalling `greeting_ms`, or `max_words` words, or one word of `max_word_ms` -> machine (a
  greeting that goes on);
- nothing decided within `total_analysis_ms` -> `undecided_answered_by` (person by default: app_amd's
  NOTSURE, given to an agent rather than dropping someone who may be a person).

Fax machines are told by their tones, measured with a Goertzel filter on voiced frames: a calling fax
sends CNG (1100 Hz, 0.5 s bursts), an answering fax CED (2100 Hz, 2.6-4 s). A tone holding at least
`fax_tone_ratio` of a frame's power for `fax_tone_ms` in a row -> fax. It is checked before the cadence
rules, so the tone (which is also voiced) never ends as a person or machine decision first.

Thresholds are documented in docs/telephony.md ("Answering-machine detection") with the detection times
measured on synthetic audio; real lines need them tuned (settings OUTDIAL_SIP_AMD_*).
"""

from __future__ import annotations

import math
import operator
import os
import sys
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal

AnsweredBy = Literal["person", "machine", "fax"]
FRAME_MS = 10  # analysis frame; the decision instant is a multiple of it
CNG_HZ = 1100.0  # fax calling tone (ITU-T T.30)
CED_HZ = 2100.0  # fax answer tone (ITU-T T.30 / V.25)
SETTINGS_PREFIX = "OUTDIAL_SIP_AMD_"


@dataclass(frozen=True)
class AmdSettings:
    """Detection thresholds. Defaults are app_amd's, except `max_words` (4, measured on synthetic speech).

    Each field is settable as OUTDIAL_SIP_AMD_<FIELD NAME IN CAPITALS> (see `from_env`).
    """

    voiced_dbfs: float = -35.0  # a frame at or above this RMS level is voice
    initial_silence_ms: int = 2500  # silence before any speech -> silence_answered_by
    greeting_ms: int = 1500  # total speech this long -> machine
    after_greeting_silence_ms: int = 800  # silence after speech -> person
    total_analysis_ms: int = 5000  # undecided this long -> undecided_answered_by
    min_word_ms: int = 100  # voice shorter than this is noise, not a word
    between_words_silence_ms: int = 50  # silence this long separates two words
    max_words: int = 4  # this many words -> machine
    max_word_ms: int = 5000  # one word this long -> machine
    fax_tone_ms: int = 400  # a fax tone (CNG 1100 Hz or CED 2100 Hz) this long -> fax
    fax_tone_ratio: float = 0.6  # share of a frame's power in the tone's Goertzel bin
    silence_answered_by: AnsweredBy = "machine"  # app_amd: INITIALSILENCE -> MACHINE
    undecided_answered_by: AnsweredBy = "person"  # app_amd: NOTSURE; a person is safer than a drop

    def __post_init__(self) -> None:
        for name in (
            "initial_silence_ms",
            "greeting_ms",
            "after_greeting_silence_ms",
            "total_analysis_ms",
            "min_word_ms",
            "between_words_silence_ms",
            "max_words",
            "max_word_ms",
            "fax_tone_ms",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not -96.0 <= self.voiced_dbfs <= 0.0:
            raise ValueError(f"voiced_dbfs must be between -96 and 0 dBFS, got {self.voiced_dbfs!r}")
        if not 0.0 < self.fax_tone_ratio <= 1.0:
            raise ValueError(f"fax_tone_ratio must be in (0, 1], got {self.fax_tone_ratio!r}")
        for name in ("silence_answered_by", "undecided_answered_by"):
            if getattr(self, name) not in ("person", "machine", "fax"):
                raise ValueError(f"{name} must be person, machine or fax, got {getattr(self, name)!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AmdSettings:
        """Settings from OUTDIAL_SIP_AMD_* variables (e.g. OUTDIAL_SIP_AMD_GREETING_MS=2000) of `env` (the
        process environment when None); other variables are ignored, unset ones keep their defaults.

        Raises ValueError naming the variable for a value that does not parse or is out of range.
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for field in fields(cls):
            key = SETTINGS_PREFIX + field.name.upper()
            raw = env.get(key)
            if raw is None or raw.strip() == "":
                continue
            default = getattr(cls, field.name)
            try:
                if isinstance(default, float):
                    values[field.name] = float(raw)
                elif isinstance(default, int):
                    values[field.name] = int(raw)
                else:
                    values[field.name] = raw.strip().lower()
            except ValueError:
                raise ValueError(f"{key} must be a number, got {raw!r}") from None
        try:
            return cls(**values)  # type: ignore[arg-type]
        except ValueError as exc:  # "<field> must be ...": name the variable instead
            field_name, _, rest = str(exc).partition(" ")
            raise ValueError(f"{SETTINGS_PREFIX}{field_name.upper()} {rest}") from None


@dataclass(frozen=True)
class AmdDecision:
    answered_by: AnsweredBy
    at_ms: int  # audio time since answer when decided
    reason: str  # which rule decided, app_amd style: e.g. "HUMAN-1-800", "LONGGREETING-1500-1500"


def goertzel_power(samples: array, sample_rate: int, freq_hz: float) -> float:
    """Power of `samples` at `freq_hz` (Goertzel's recursion over one block): |X(f)|^2."""
    coeff = 2.0 * math.cos(2.0 * math.pi * freq_hz / sample_rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


class AnsweringMachineDetector:
    """Feed the callee's audio from the answer on; `feed` returns the decision once, then always None."""

    def __init__(self, settings: AmdSettings, sample_rate: int = 8000) -> None:
        if sample_rate < 1000 or sample_rate % 100:
            raise ValueError(f"sample_rate must be a multiple of 100 Hz, at least 1000, got {sample_rate!r}")
        self.settings = settings
        self.sample_rate = sample_rate
        self._frame_bytes = sample_rate * FRAME_MS // 1000 * 2
        # RMS threshold on the sum of squares of one frame (no sqrt / log per frame).
        n = self._frame_bytes // 2
        self._voiced_sum_squares = n * (32768.0 * 10 ** (settings.voiced_dbfs / 20)) ** 2
        self._pending = bytearray()
        self._elapsed_ms = 0
        self.decision: AmdDecision | None = None
        # app_amd's state
        self._in_initial_silence = True
        self._in_greeting = False
        self._in_word = False
        self._silence_ms = 0  # consecutive silence
        self._word_voice_ms = 0  # consecutive voice
        self._voice_ms = 0  # all voice so far
        self._words = 0
        self._tone_ms = {CNG_HZ: 0, CED_HZ: 0}

    @property
    def elapsed_ms(self) -> int:
        """Audio analysed so far (whole frames)."""
        return self._elapsed_ms

    def feed(self, pcm: bytes) -> AmdDecision | None:
        """Analyse more audio; the decision the first time one is reached, else None."""
        if self.decision is not None:
            return None
        self._pending += pcm
        size = self._frame_bytes
        usable = len(self._pending) - len(self._pending) % size
        for start in range(0, usable, size):
            frame = array("h", self._pending[start : start + size])
            if sys.byteorder == "big":
                frame.byteswap()
            decision = self._frame(frame)
            if decision is not None:
                self.decision = decision
                self._pending.clear()
                return decision
        del self._pending[:usable]
        return None

    def _frame(self, frame: array) -> AmdDecision | None:
        s = self.settings
        self._elapsed_ms += FRAME_MS
        now = self._elapsed_ms
        sum_squares = float(sum(map(operator.mul, frame, frame)))
        voiced = sum_squares >= self._voiced_sum_squares

        if voiced:
            # Power a pure tone puts in its bin, relative to the frame's: |X|^2 / (N * sum of squares / 2).
            scale = len(frame) * sum_squares / 2.0
            for freq in (CNG_HZ, CED_HZ):
                if goertzel_power(frame, self.sample_rate, freq) / scale >= s.fax_tone_ratio:
                    self._tone_ms[freq] += FRAME_MS
                    if self._tone_ms[freq] >= s.fax_tone_ms:
                        name = "CNG" if freq == CNG_HZ else "CED"
                        return AmdDecision("fax", now, f"FAXTONE-{name}-{self._tone_ms[freq]}")
                else:
                    self._tone_ms[freq] = 0
        else:
            self._tone_ms[CNG_HZ] = self._tone_ms[CED_HZ] = 0

        if now >= s.total_analysis_ms:
            return AmdDecision(s.undecided_answered_by, now, f"TOOLONG-{now}")

        if not voiced:
            self._silence_ms += FRAME_MS
            if self._silence_ms >= s.between_words_silence_ms:
                self._in_word = False
                self._word_voice_ms = 0
            if self._in_initial_silence and self._silence_ms >= s.initial_silence_ms:
                return AmdDecision(s.silence_answered_by, now, f"INITIALSILENCE-{self._silence_ms}")
            if self._in_greeting and self._silence_ms >= s.after_greeting_silence_ms:
                return AmdDecision("person", now, f"HUMAN-{self._words}-{self._silence_ms}")
            return None

        self._silence_ms = 0  # silence is counted while consecutive, as app_amd's silence detector does
        self._word_voice_ms += FRAME_MS
        self._voice_ms += FRAME_MS
        if self._word_voice_ms >= s.min_word_ms and not self._in_word:
            self._words += 1
            self._in_word = True
        if self._word_voice_ms >= s.max_word_ms:
            return AmdDecision("machine", now, f"MAXWORDLENGTH-{self._word_voice_ms}")
        if self._words >= s.max_words:
            return AmdDecision("machine", now, f"MAXWORDS-{self._words}")
        if self._in_greeting and self._voice_ms >= s.greeting_ms:
            return AmdDecision("machine", now, f"LONGGREETING-{self._voice_ms}-{s.greeting_ms}")
        if self._voice_ms >= s.min_word_ms:
            # Speech has begun: silence from now on is a pause after a greeting, not initial silence.
            self._in_initial_silence = False
            self._in_greeting = True
        return None
