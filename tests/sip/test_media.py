"""media.py over real calls: baresip-python dials baresip-core phones on loopback; the phones record what
they receive, so each test checks the audio that really arrived at the far end."""

from __future__ import annotations

import asyncio
import contextlib
import wave
from array import array
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import phones
import pytest
from phones import (
    AGENT_TONES_HZ,
    AgentPhones,
    AudioFiles,
    free_port,
    read_pcm,
    running_phone,
    tone_share,
    tone_wav,
)

from outdial.engine.telephony.sip.amd import AmdSettings, AnsweringMachineDetector
from outdial.engine.telephony.sip.media import RelayStats, WavRecorder, detect, play, relay

audio_files = phones.audio_files  # fixtures
agent_phones = phones.agent_phones
T = TypeVar("T")


def on_sip_runtime(scenario: Callable[[Any, Any], Awaitable[T]], timeout_s: float = 60) -> T:
    """Run `scenario(runtime, user_agent)` on a baresip runtime.

    baresip allows one runtime per process: when one is already running on its own loop (the adapter tests'
    shared runtime), the scenario runs there; otherwise one is started for this scenario and closed after.
    """
    pytest.importorskip("baresip")
    from baresip import Account, Config, UserAgent
    from baresip.runtime import Runtime

    async def with_agent(runtime: Any, port: int) -> T:
        account = Account(user="outdial-media-test", domain=f"127.0.0.1:{port}", password="", reg_interval=0)
        return await scenario(runtime, await UserAgent.create(runtime, account))

    active = Runtime._active  # the one live runtime of the process, if any
    loop = getattr(active, "_loop", None)
    if active is not None and loop is not None and loop.is_running():
        return asyncio.run_coroutine_threadsafe(with_agent(active, 5060), loop).result(timeout_s)

    async def own() -> T:
        port = free_port()
        runtime = Runtime()
        config = Config(
            net_interface="127.0.0.1",
            max_concurrent_calls=None,
            extra_config_text=f"sip_listen 127.0.0.1:{port}\nrtp_ports {phones.RTP_PORTS}\n",
        )
        await runtime.start(config)
        try:
            return await asyncio.wait_for(with_agent(runtime, port), timeout_s)
        finally:
            await runtime.close()

    return asyncio.run(own())


async def hang_up(*calls: Any) -> None:
    from baresip import BaresipError

    for call in calls:
        with contextlib.suppress(BaresipError):  # already gone
            await call.hangup()


def channel(path: Path, index: int) -> bytes:
    """One channel of a stereo 16-bit WAV, as mono PCM."""
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (2, 2)
        samples = array("h", w.readframes(w.getnframes()))
    return samples[index::2].tobytes()


@pytest.mark.sip
def test_relay_carries_each_side_to_the_other_and_records_both(
    agent_phones: AgentPhones, tmp_path: Path
) -> None:
    customer, agent = agent_phones.agents[0], agent_phones.agents[1]  # they play 500 Hz and 700 Hz
    stats = RelayStats()
    recording = tmp_path / "rec" / "call.wav"

    async def scenario(runtime: Any, ua: Any) -> float:
        a = await ua.dial(customer.uri)
        b = await ua.dial(agent.uri)
        try:
            await a.wait_established(10)
            await b.wait_established(10)
            stop = asyncio.Event()
            recorder = WavRecorder(recording, 8000)
            loop = asyncio.get_running_loop()
            started = loop.time()
            task = asyncio.create_task(relay(a.audio, b.audio, stop, recorder, stats))
            await asyncio.sleep(3.0)
            stop.set()
            await asyncio.wait_for(task, 2)
            relayed_s = loop.time() - started
            recorder.close()
            return relayed_s
        finally:
            await hang_up(a, b)

    relayed_s = on_sip_runtime(scenario)
    customer.wait_event("CALL_CLOSED")
    agent.wait_event("CALL_CLOSED")

    # all of it each way (16,000 bytes a second while the relay ran), nothing refused by the send buffers
    assert abs(stats.a_to_b_bytes / 16_000 - relayed_s) < 0.3
    assert abs(stats.b_to_a_bytes / 16_000 - relayed_s) < 0.3
    assert stats.a_to_b_dropped == stats.b_to_a_dropped == 0
    assert stats.ticks > 200

    # what each phone received is the other's tone, not its own
    (heard_by_customer,) = customer.received_audio()
    (heard_by_agent,) = agent.received_audio()
    assert tone_share(read_pcm(heard_by_customer), AGENT_TONES_HZ[1]) > 0.8
    assert tone_share(read_pcm(heard_by_customer), AGENT_TONES_HZ[0]) < 0.05
    assert tone_share(read_pcm(heard_by_agent), AGENT_TONES_HZ[0]) > 0.8
    assert tone_share(read_pcm(heard_by_agent), AGENT_TONES_HZ[1]) < 0.05

    # the recording: customer left, agent right, as long as the relay ran
    with wave.open(str(recording)) as w:
        assert (w.getnchannels(), w.getframerate()) == (2, 8000)
        assert abs(w.getnframes() / 8000 - relayed_s) < 0.3
    assert tone_share(channel(recording, 0), AGENT_TONES_HZ[0]) > 0.8
    assert tone_share(channel(recording, 1), AGENT_TONES_HZ[1]) > 0.8


@pytest.mark.sip
def test_relay_ends_by_itself_when_a_side_hangs_up(agent_phones: AgentPhones, tmp_path: Path) -> None:
    # a customer who says 1.5 s of tone and hangs up (the phone ends the call at the end of its file)
    short = tone_wav(tmp_path / "short.wav", 1100, on_s=1.5, off_s=0.0)
    with running_phone(tmp_path, "leaver", plays=short) as leaver:
        stats = RelayStats()

        async def scenario(runtime: Any, ua: Any) -> float:
            a = await ua.dial(leaver.uri)
            b = await ua.dial(agent_phones.agents[2].uri)
            try:
                await a.wait_established(10)
                await b.wait_established(10)
                loop = asyncio.get_running_loop()
                started = loop.time()
                await asyncio.wait_for(relay(a.audio, b.audio, asyncio.Event(), None, stats), 10)
                return loop.time() - started
            finally:
                await hang_up(a, b)

        relayed_s = on_sip_runtime(scenario)
        leaver.wait_event("CALL_CLOSED")
    assert 1.3 < relayed_s < 5.0  # ended with the customer's call, not by the stop event (never set)
    assert stats.a_to_b_bytes >= 20_000  # the customer's 1.5 s went to the agent


@pytest.mark.sip
@pytest.mark.parametrize(("plays", "answered_by"), [("hello", "person"), ("voicemail", "machine")])
def test_detect_over_a_live_call(
    audio_files: AudioFiles, tmp_path: Path, plays: str, answered_by: str
) -> None:
    with running_phone(tmp_path, "callee", plays=getattr(audio_files, plays)) as callee:

        async def scenario(runtime: Any, ua: Any):
            call = await ua.dial(callee.uri)
            try:
                await call.wait_established(10)
                return await detect(call.audio, AnsweringMachineDetector(AmdSettings()), timeout_s=8)
            finally:
                await hang_up(call)

        decision = on_sip_runtime(scenario)
    assert decision.answered_by == answered_by
    assert not decision.reason.startswith("TIMEOUT")
    # decided on the audio, as on the file (the phone starts playing at its answer, within a frame or two)
    offline = AnsweringMachineDetector(AmdSettings()).feed(read_pcm(getattr(audio_files, plays)))
    assert offline is not None
    assert abs(decision.at_ms - offline.at_ms) <= 300


@pytest.mark.sip
def test_detect_times_out_to_the_undecided_decision(tmp_path: Path) -> None:
    with running_phone(tmp_path, "mute", plays=None) as callee:  # plays nothing: digital silence

        async def scenario(runtime: Any, ua: Any):
            call = await ua.dial(callee.uri)
            try:
                await call.wait_established(10)
                settings = AmdSettings(initial_silence_ms=4000, undecided_answered_by="person")
                return await detect(call.audio, AnsweringMachineDetector(settings), timeout_s=1.0)
            finally:
                await hang_up(call)

        decision = on_sip_runtime(scenario)
    assert decision.answered_by == "person"
    assert decision.reason == f"TIMEOUT-{decision.at_ms}"
    assert 300 <= decision.at_ms <= 1100  # about the second of audio that arrived


@pytest.mark.sip
def test_play_sends_the_file_to_the_phone(tmp_path: Path) -> None:
    # a message of 0.8 s at 1300 Hz whose last 0.2 s are at 700 Hz: its end is told from the rest
    body = read_pcm(tone_wav(tmp_path / "body.wav", 1300, on_s=0.8, off_s=0.0))
    end = read_pcm(tone_wav(tmp_path / "end.wav", 700, on_s=0.2, off_s=0.0))
    message = tmp_path / "message.wav"
    with wave.open(str(message), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(body + end)
    with running_phone(tmp_path, "listener", plays=None) as listener:

        async def scenario(runtime: Any, ua: Any) -> float:
            call = await ua.dial(listener.uri)
            try:
                await call.wait_established(10)
                loop = asyncio.get_running_loop()
                started = loop.time()
                await play(call.audio, str(message))
                return loop.time() - started
            finally:
                await hang_up(call)  # at once: play() returned only when the message was heard

        took_s = on_sip_runtime(scenario)
        listener.wait_event("CALL_CLOSED")
        (heard,) = listener.received_audio()
    assert took_s >= 1.0  # played in real time, not dumped into the buffer
    pcm = read_pcm(heard)
    blocks = [pcm[i : i + 320] for i in range(0, len(pcm) - 319, 320)]  # 20 ms each
    assert sum(tone_share(b, 1300) > 0.5 for b in blocks) * 0.02 >= 0.7
    assert sum(tone_share(b, 700) > 0.5 for b in blocks) * 0.02 >= 0.14  # the end arrived


@pytest.mark.sip
def test_play_refuses_a_file_at_another_rate(tmp_path: Path) -> None:
    wide = tmp_path / "wide.wav"
    with wave.open(str(wide), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(bytes(3200))
    with running_phone(tmp_path, "listener", plays=None) as listener:

        async def scenario(runtime: Any, ua: Any) -> None:
            call = await ua.dial(listener.uri)
            try:
                await call.wait_established(10)
                with pytest.raises(
                    ValueError, match="^wav_path: .* 16000 Hz; the call sends 16-bit, 1 channel"
                ):
                    await play(call.audio, str(wide))
            finally:
                await hang_up(call)

        on_sip_runtime(scenario)


@pytest.mark.sip
def test_the_phone_that_never_answers_rings_until_the_caller_gives_up(agent_phones: AgentPhones) -> None:
    from baresip import CallTimeout

    never = agent_phones.never_answers

    async def scenario(runtime: Any, ua: Any) -> None:
        call = await ua.dial(never.uri)
        # the phone rings (the INVITE reached it), and goes on ringing until the caller gives up
        await asyncio.to_thread(never.wait_event, "CALL_INCOMING")
        with pytest.raises(CallTimeout):
            await call.wait_established(1.5)  # hangs up (CANCEL) at the timeout

    on_sip_runtime(scenario)
    never.wait_event("CALL_CLOSED")
    assert "CALL_ESTABLISHED" not in never.event_types()


@pytest.mark.sip
def test_the_three_agent_phones_answer_at_once(agent_phones: AgentPhones) -> None:
    async def scenario(runtime: Any, ua: Any) -> None:
        calls = [await ua.dial(phone.uri) for phone in agent_phones.agents]
        try:
            await asyncio.gather(*(call.wait_established(5) for call in calls))
        finally:
            await hang_up(*calls)

    on_sip_runtime(scenario)
    for phone in agent_phones.agents:
        phone.wait_event("CALL_ESTABLISHED")
        phone.wait_event("CALL_CLOSED")


# --- the recorder alone -----------------------------------------------------------------------------------


def test_recorder_keeps_the_legs_aligned_and_pads_a_silent_leg(tmp_path: Path) -> None:
    path = tmp_path / "r.wav"
    recorder = WavRecorder(path, 8000)
    left = array("h", [1000] * 160).tobytes()
    right = array("h", [-2000] * 160).tobytes()
    recorder.add(left, b"")  # the agent's packet of this round is late
    assert recorder.frames == 0
    recorder.add(b"", right)
    assert recorder.frames == 160
    for _ in range(30):  # the agent leg goes silent (lost) for 300 ms: the customer is not held back
        recorder.add(left, b"")
    assert recorder.frames >= 30 * 160 - 1600  # at most the 200 ms skew is still waiting
    recorder.add(left[:7], b"")  # an odd byte is dropped, not misaligned
    recorder.close()
    recorder.close()  # idempotent
    with pytest.raises(ValueError, match="^recorder: closed"):
        recorder.add(left, right)
    got_left, got_right = channel(path, 0), channel(path, 1)
    assert len(got_left) == len(got_right) == recorder.frames * 2
    samples_left, samples_right = array("h", got_left), array("h", got_right)
    assert set(samples_left[: 31 * 160]) == {1000}
    assert samples_right[:160].tolist() == [-2000] * 160
    assert set(samples_right[160 : 31 * 160]) == {0}  # silence where the agent's audio was lost
