"""Recorder: crash safety (read back without close), gap filling, stored formats."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np

from softphone.media.g711 import Codec
from softphone.media.recorder import RtpRecorder
from softphone.media.rtp import RtpPacket
from softphone.media.tones import Tone, tone_frames, tone_pcm
from softphone.media.wav import WavFormat, read_wav_pcm16


async def test_a_recording_that_is_never_closed_is_readable_within_a_second(
        tmp_path: Path) -> None:
    path = tmp_path / "crash.wav"
    recorder = RtpRecorder(path, Codec.PCMU, sync_interval=0.2)
    frames = tone_frames(Tone.BEEP, Codec.PCMU)
    for frame in frames:
        recorder.write_payload(frame)
    # No close(): as if the engine died now. Data is already in the file; the header follows
    # within sync_interval.
    assert len(read_wav_pcm16(path)) == 2 * 160 * len(frames)
    await asyncio.sleep(0.3)
    with wave.open(str(path)) as wav:
        assert wav.getnframes() == 160 * len(frames)
        assert wav.readframes(wav.getnframes()) == Codec.PCMU.decode(b"".join(frames))
    recorder.close()


def test_header_sync_without_an_event_loop_happens_on_write(tmp_path: Path) -> None:
    path = tmp_path / "sync.wav"
    recorder = RtpRecorder(path, Codec.PCMA, sync_interval=0.0)
    recorder.write_payload(b"\xd5" * 160)
    with wave.open(str(path)) as wav:
        assert wav.getnframes() == 160
    recorder.close()


def _packet(seq: int, ts: int, payload: bytes, pt: int = 0, ssrc: int = 5) -> bytes:
    return RtpPacket(payload_type=pt, sequence_number=seq, timestamp=ts, ssrc=ssrc,
                     payload=payload).serialize()


def test_lost_packets_become_silence_and_late_ones_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "gaps.wav"
    recorder = RtpRecorder(path, Codec.PCMU, store=WavFormat.MULAW)
    loud = b"\x80" * 160
    recorder.write_packet(_packet(1, 1000, loud))
    recorder.write_packet(_packet(3, 1320, loud))  # packet 2 lost
    recorder.write_packet(_packet(2, 1160, loud))  # ...arrives late: dropped
    recorder.write_packet(_packet(4, 1480, bytes(4), pt=101))  # DTMF: not audio
    recorder.write_packet(b"\x80\x00")  # garbage
    recorder.close()
    data = path.read_bytes()
    audio = data[-480:]
    assert audio == loud + b"\xff" * 160 + loud
    assert recorder.frames_written == 480


def test_alaw_stream_stored_as_mulaw_and_as_pcm(tmp_path: Path) -> None:
    pcm = tone_pcm(800.0, 0.1)
    alaw = Codec.PCMA.encode(pcm)
    as_ulaw = RtpRecorder(tmp_path / "u.wav", Codec.PCMA, store=WavFormat.MULAW)
    as_pcm = RtpRecorder(tmp_path / "p.wav", Codec.PCMA)
    for recorder in (as_ulaw, as_pcm):
        recorder.write_payload(alaw)
        recorder.close()
    decoded = np.frombuffer(read_wav_pcm16(tmp_path / "u.wav"), "<i2").astype(float)
    original = np.frombuffer(pcm, "<i2").astype(float)
    assert np.max(np.abs(decoded - original)) < 0.05 * np.max(np.abs(original))
    assert read_wav_pcm16(tmp_path / "p.wav") == Codec.PCMA.decode(alaw)
