"""Prompts and greetings are played from G.711 frames encoded once and kept."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from softphone.media import player as player_module
from softphone.media.g711 import Codec
from softphone.media.player import RtpPlayer, encoded_wav_frames
from softphone.media.wav import WavFormat, WavWriter


def write_wav(path: Path, fmt: WavFormat, data: bytes) -> Path:
    writer = WavWriter(path, fmt)
    writer.write(data)
    writer.close()
    return path


def test_a_pcm_wav_is_encoded_once_per_codec_and_kept(tmp_path: Path, monkeypatch) -> None:
    pcm = struct.pack("<h", 1234) * 800  # 0.1 s
    path = write_wav(tmp_path / "prompt.wav", WavFormat.PCM, pcm)
    calls: list[Codec] = []
    real = player_module.encode_frames

    def counting(data: bytes, codec: Codec) -> list[bytes]:
        calls.append(codec)
        return real(data, codec)

    monkeypatch.setattr(player_module, "encode_frames", counting)
    first = encoded_wav_frames(path, Codec.PCMU)
    assert encoded_wav_frames(path, Codec.PCMU) is first  # stored: no second encoding
    assert len(first) == 5 and all(len(frame) == 160 for frame in first)
    encoded_wav_frames(path, Codec.PCMA)
    assert calls == [Codec.PCMU, Codec.PCMA]
    # A changed file is encoded again.
    write_wav(path, WavFormat.PCM, pcm * 2)
    os.utime(path, ns=(1, 1))
    assert len(encoded_wav_frames(path, Codec.PCMU)) == 10


def test_a_wav_already_in_the_codecs_law_is_played_as_it_is(tmp_path: Path) -> None:
    raw = bytes(range(256)) * 2  # arbitrary µ-law octets
    path = write_wav(tmp_path / "prompt.pcmu.wav", WavFormat.MULAW, raw[:480])
    frames = encoded_wav_frames(path, Codec.PCMU)
    assert b"".join(frames) == raw[:480]  # untouched: no decode/encode round trip
    player = RtpPlayer.from_wav(path, Codec.PCMU)
    assert player.frames == frames
