"""Player: 20 ms pacing on the monotonic clock, continuity, looping, on_finished."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from softphone.media.g711 import Codec
from softphone.media.player import RtpPlayer
from softphone.media.rtp import RtpPacket
from softphone.media.tones import Tone


async def test_pacing_is_20_ms_and_the_stream_is_continuous() -> None:
    player = RtpPlayer.from_tone(Tone.RINGBACK, Codec.PCMA)
    got: list[tuple[float, RtpPacket]] = []
    loop = asyncio.get_running_loop()
    player.add_sink(lambda p: got.append((loop.time(), RtpPacket.parse(p))))
    player.start()
    await asyncio.sleep(0.5)
    await player.stop()
    assert not player.running
    # 0.5 s / 20 ms = 25 intervals, plus the packet sent at t=0.
    assert 24 <= len(got) <= 27
    packets = [p for _, p in got]
    assert packets[0].marker and not any(p.marker for p in packets[1:])
    assert {p.payload_type for p in packets} == {8}
    for before, after in itertools.pairwise(packets):
        assert after.sequence_number == (before.sequence_number + 1) & 0xFFFF
        assert after.timestamp == (before.timestamp + 160) & 0xFFFFFFFF
    # Drift-free: packet n leaves at start + n*20 ms, whatever the timer jitter.
    start = got[0][0]
    for index, (sent_at, _) in enumerate(got):
        assert sent_at - (start + index * 0.02) == pytest.approx(0.0, abs=0.015)


async def test_finite_playback_ends_and_calls_on_finished() -> None:
    done = asyncio.Event()
    sent: list[bytes] = []
    player = RtpPlayer([b"\xff" * 160] * 5, on_finished=lambda p: done.set())
    player.add_sink(sent.append)
    player.start()
    async with asyncio.timeout(1.0):
        await done.wait()
    assert player.finished and not player.running
    assert len(sent) == 5
    await player.stop()  # harmless after the end


async def test_loop_option_repeats_frames_and_a_broken_sink_does_not_stop_others() -> None:
    frames = [bytes([n]) * 160 for n in (1, 2, 3)]
    player = RtpPlayer(frames, loop_playback=True)
    got: list[bytes] = []

    def broken(packet: bytes) -> None:
        raise RuntimeError("sink bug")

    player.add_sink(broken)
    player.add_sink(lambda p: got.append(RtpPacket.parse(p).payload[:1]))
    player.start()
    await asyncio.sleep(0.15)
    await player.stop()
    assert got[:7] == [b"\x01", b"\x02", b"\x03", b"\x01", b"\x02", b"\x03", b"\x01"]
    player.remove_sink(broken)
    assert len(player.sinks) == 1


async def test_stop_does_not_swallow_the_callers_cancellation() -> None:
    player = RtpPlayer([b"\xff" * 160], loop_playback=True)
    player.start()

    async def stopper() -> None:
        await player.stop()

    task = asyncio.ensure_future(stopper())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await player.stop()


def test_nothing_to_play_is_an_error() -> None:
    with pytest.raises(ValueError, match="nothing"):
        RtpPlayer([])
