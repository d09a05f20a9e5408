"""The answering-machine detector on audio made by espeak-ng and sox at test time, and its properties."""

from __future__ import annotations

import math
from array import array

import phones
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phones import AudioFiles, read_pcm, rms_dbfs_of, speech_wav

from outdial.engine.telephony.sip.amd import (
    AmdDecision,
    AmdSettings,
    AnsweringMachineDetector,
    goertzel_power,
)

DEFAULTS = AmdSettings()
audio_files = phones.audio_files  # the session fixture


def decide(pcm: bytes, settings: AmdSettings = DEFAULTS, chunk: int = 320) -> AmdDecision | None:
    """Feed `pcm` as a phone line delivers it (20 ms chunks by default); the one decision or None."""
    detector = AnsweringMachineDetector(settings)
    decisions = [d for i in range(0, len(pcm), chunk) if (d := detector.feed(pcm[i : i + chunk]))]
    assert len(decisions) <= 1
    return decisions[0] if decisions else None


def scaled(pcm: bytes, gain_db: float) -> bytes:
    factor = 10 ** (gain_db / 20)
    return array("h", (int(x * factor) for x in array("h", pcm))).tobytes()


def test_a_spoken_hello_is_a_person_within_two_seconds(audio_files: AudioFiles) -> None:
    decision = decide(read_pcm(audio_files.hello))
    assert decision is not None
    assert decision.answered_by == "person"
    assert decision.reason.startswith("HUMAN")
    # the word ends about 1 s into the file; the person is known after the 800 ms pause that follows
    assert 1000 < decision.at_ms <= 2000


def test_a_voicemail_greeting_is_a_machine(audio_files: AudioFiles) -> None:
    decision = decide(read_pcm(audio_files.voicemail))
    assert decision is not None
    assert decision.answered_by == "machine"
    assert decision.at_ms <= DEFAULTS.greeting_ms + 1000  # the greeting is still going on


def test_silence_gets_the_silence_decision_at_the_initial_silence_limit(audio_files: AudioFiles) -> None:
    decision = decide(read_pcm(audio_files.silence))
    assert decision == AmdDecision("machine", DEFAULTS.initial_silence_ms, "INITIALSILENCE-2500")
    as_person = AmdSettings(silence_answered_by="person", initial_silence_ms=1200)
    assert decide(read_pcm(audio_files.silence), as_person) == AmdDecision(
        "person", 1200, "INITIALSILENCE-1200"
    )


def test_noise_at_minus_50_dbfs_counts_as_silence(audio_files: AudioFiles) -> None:
    pcm = read_pcm(audio_files.noise)
    assert abs(rms_dbfs_of(pcm) - -50.0) < 1.0  # the fixture is what it claims
    decision = decide(pcm)
    assert decision is not None
    assert (decision.answered_by, decision.at_ms) == ("machine", DEFAULTS.initial_silence_ms)
    # the same noise is voice for a threshold below it: the threshold is what decides
    loose = decide(pcm, AmdSettings(voiced_dbfs=-55.0))
    assert loose is not None and not loose.reason.startswith("INITIALSILENCE")


@pytest.mark.parametrize("tone", ["cng", "ced"])
def test_fax_tones_are_a_fax(audio_files: AudioFiles, tone: str) -> None:
    decision = decide(read_pcm(getattr(audio_files, tone)))
    assert decision is not None
    assert decision.answered_by == "fax"
    assert decision.reason == f"FAXTONE-{tone.upper()}-{DEFAULTS.fax_tone_ms}"
    assert decision.at_ms == DEFAULTS.fax_tone_ms  # the tones start at once


def test_speech_is_never_taken_for_a_fax_tone(audio_files: AudioFiles) -> None:
    endless = AmdSettings(
        greeting_ms=60_000,
        max_words=1000,
        total_analysis_ms=60_000,
        max_word_ms=60_000,
        after_greeting_silence_ms=60_000,
    )
    assert decide(read_pcm(audio_files.voicemail), endless) is None


def test_a_quiet_hello_is_silence_until_the_threshold_is_lowered(audio_files: AudioFiles) -> None:
    quiet = scaled(read_pcm(audio_files.hello), -30.0)  # the word's frames now peak far below -35 dBFS
    assert decide(quiet).answered_by == "machine"  # type: ignore[union-attr]
    assert decide(quiet, AmdSettings(voiced_dbfs=-60.0)).answered_by == "person"  # type: ignore[union-attr]


def test_several_words_are_a_machine_before_the_greeting_limit(tmp_path) -> None:
    pcm = read_pcm(speech_wav(tmp_path / "four.wav", "One. Two. Three. Four. Five."))
    decision = decide(pcm, AmdSettings(greeting_ms=10_000))
    assert decision is not None
    assert decision.answered_by == "machine"
    assert decision.reason == f"MAXWORDS-{DEFAULTS.max_words}"


def test_undecided_audio_gets_the_undecided_decision_at_the_total_time() -> None:
    # a steady voiced 300 Hz tone: neither a word limit nor a greeting limit within 5 s, when both are raised
    tone = array("h", (int(8000 * math.sin(2 * math.pi * 300 * i / 8000)) for i in range(8000 * 6))).tobytes()
    s = AmdSettings(greeting_ms=10_000, max_word_ms=10_000)
    assert decide(tone, s) == AmdDecision("person", s.total_analysis_ms, f"TOOLONG-{s.total_analysis_ms}")


def test_goertzel_finds_its_frequency() -> None:
    n = 80
    sine = array("h", (int(10000 * math.sin(2 * math.pi * 1100 * i / 8000)) for i in range(n)))
    power = goertzel_power(sine, 8000, 1100)
    assert power == pytest.approx((10000 * n / 2) ** 2, rel=0.01)
    assert goertzel_power(sine, 8000, 2100) < power / 1000


def test_settings_from_env_and_their_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTDIAL_SIP_AMD_INITIAL_SILENCE_MS", "3000")
    assert AmdSettings.from_env().initial_silence_ms == 3000  # the process environment by default
    s = AmdSettings.from_env(
        {
            "OUTDIAL_SIP_AMD_GREETING_MS": "2000",
            "OUTDIAL_SIP_AMD_VOICED_DBFS": "-40",
            "OUTDIAL_SIP_AMD_SILENCE_ANSWERED_BY": "Person",
            "OUTDIAL_OTHER": "x",
        }
    )
    assert (s.greeting_ms, s.voiced_dbfs, s.silence_answered_by) == (2000, -40.0, "person")
    assert s.initial_silence_ms == DEFAULTS.initial_silence_ms
    with pytest.raises(ValueError, match="^OUTDIAL_SIP_AMD_GREETING_MS must be a number"):
        AmdSettings.from_env({"OUTDIAL_SIP_AMD_GREETING_MS": "long"})
    with pytest.raises(ValueError, match="^OUTDIAL_SIP_AMD_MAX_WORDS must be a positive integer"):
        AmdSettings.from_env({"OUTDIAL_SIP_AMD_MAX_WORDS": "0"})
    with pytest.raises(ValueError, match="^OUTDIAL_SIP_AMD_UNDECIDED_ANSWERED_BY must be person, machine"):
        AmdSettings.from_env({"OUTDIAL_SIP_AMD_UNDECIDED_ANSWERED_BY": "robot"})


def test_a_sample_split_across_feeds_is_joined_and_rate_is_checked() -> None:
    with pytest.raises(ValueError, match="^sample_rate"):
        AnsweringMachineDetector(DEFAULTS, sample_rate=8001)
    detector = AnsweringMachineDetector(DEFAULTS)
    assert detector.feed(b"\x00") is None
    assert detector.feed(b"\x00" * 159) is None
    assert detector.elapsed_ms == 10


# --- properties -----------------------------------------------------------------------------------------

SEGMENTS = st.lists(
    st.tuples(st.sampled_from(["silence", "voice", "cng", "quiet"]), st.integers(min_value=1, max_value=120)),
    min_size=1,
    max_size=12,
)


def synthesize(segments: list[tuple[str, int]]) -> bytes:
    """Audio from (kind, length in 5 ms units) segments: silence, a voiced 250 Hz wave, the CNG tone, faint hum."""
    out = array("h")
    t = 0
    for kind, units in segments:
        for _ in range(units * 40):
            if kind == "voice":
                x = 9000 * math.sin(2 * math.pi * 250 * t / 8000) + 3000 * math.sin(
                    2 * math.pi * 730 * t / 8000
                )
            elif kind == "cng":
                x = 12000 * math.sin(2 * math.pi * 1100 * t / 8000)
            elif kind == "quiet":
                x = 60 * math.sin(2 * math.pi * 180 * t / 8000)
            else:
                x = 0.0
            out.append(int(x))
            t += 1
    return out.tobytes()


@settings(max_examples=150, deadline=None)
@given(segments=SEGMENTS, cuts=st.lists(st.integers(min_value=0, max_value=1_000_000), max_size=30))
def test_any_split_of_the_audio_gives_the_same_single_decision(segments, cuts) -> None:
    pcm = synthesize(segments)
    whole = AnsweringMachineDetector(DEFAULTS).feed(pcm)

    detector = AnsweringMachineDetector(DEFAULTS)
    bounds = sorted({0, len(pcm), *(c % (len(pcm) + 1) for c in cuts)})
    decisions = [d for a, b in zip(bounds, bounds[1:], strict=False) if (d := detector.feed(pcm[a:b]))]

    assert decisions == ([whole] if whole else [])
    if whole is not None:
        assert detector.feed(pcm) is None and detector.feed(bytes(8000)) is None  # decided once only
        assert whole.at_ms % 10 == 0 and 0 < whole.at_ms <= len(pcm) // 16
        assert whole.at_ms <= DEFAULTS.total_analysis_ms
        assert detector.decision == whole


@settings(max_examples=100, deadline=None)
@given(segments=SEGMENTS, extra=st.integers(min_value=1, max_value=40))
def test_the_decision_does_not_depend_on_audio_after_it(segments, extra) -> None:
    pcm = synthesize(segments)
    whole = AnsweringMachineDetector(DEFAULTS).feed(pcm)
    longer = AnsweringMachineDetector(DEFAULTS).feed(pcm + synthesize([("voice", extra)]))
    if whole is not None:
        assert longer == whole
    else:
        # undecided audio always ends decided, at the latest at the total analysis time
        padded = AnsweringMachineDetector(DEFAULTS).feed(pcm + bytes(DEFAULTS.total_analysis_ms * 16))
        assert padded is not None and padded.at_ms <= DEFAULTS.total_analysis_ms
