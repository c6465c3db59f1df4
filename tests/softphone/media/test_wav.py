"""WAV reading (8 kHz only, clear rejections) and the growing-file writer."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from softphone.media.g711 import Codec
from softphone.media.tones import tone_pcm
from softphone.media.wav import WavError, WavFormat, WavWriter, read_wav_pcm16


def _write_stdlib(path: Path, pcm: bytes, *, rate: int = 8000, channels: int = 1,
                  width: int = 2) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(pcm)


def test_reads_an_8khz_mono_16bit_file(tmp_path: Path) -> None:
    pcm = tone_pcm(440.0, 0.2)
    _write_stdlib(tmp_path / "a.wav", pcm)
    assert read_wav_pcm16(tmp_path / "a.wav") == pcm


def test_downmixes_stereo_and_widens_8bit(tmp_path: Path) -> None:
    mono = np.array([1000, -2000, 3000], dtype="<i2")
    stereo = np.repeat(mono, 2).astype("<i2").tobytes()
    _write_stdlib(tmp_path / "s.wav", stereo, channels=2)
    assert read_wav_pcm16(tmp_path / "s.wav") == mono.tobytes()
    _write_stdlib(tmp_path / "u8.wav", bytes([128, 255, 0]), width=1)
    assert np.frombuffer(read_wav_pcm16(tmp_path / "u8.wav"), "<i2").tolist() == [0, 32512,
                                                                                 -32768]


def test_rejects_other_rates_with_the_conversion_command(tmp_path: Path) -> None:
    _write_stdlib(tmp_path / "wide.wav", bytes(3200), rate=16000)
    with pytest.raises(WavError, match=r"16000 Hz.*sox .* -r 8000"):
        read_wav_pcm16(tmp_path / "wide.wav")
    (tmp_path / "junk.wav").write_bytes(b"not a wav")
    with pytest.raises(WavError, match="RIFF"):
        read_wav_pcm16(tmp_path / "junk.wav")
    with pytest.raises(WavError, match="cannot read"):
        read_wav_pcm16(tmp_path / "missing.wav")


@pytest.mark.parametrize(("fmt", "codec"), [(WavFormat.MULAW, Codec.PCMU),
                                            (WavFormat.ALAW, Codec.PCMA)])
def test_g711_wav_written_by_us_reads_back(tmp_path: Path, fmt: WavFormat,
                                           codec: Codec) -> None:
    pcm = tone_pcm(1000.0, 0.1)
    writer = WavWriter(tmp_path / "g.wav", fmt)
    writer.write(codec.encode(pcm)[:799])  # odd length: the pad octet path
    writer.close()
    data = (tmp_path / "g.wav").read_bytes()
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    assert read_wav_pcm16(tmp_path / "g.wav") == codec.decode(codec.encode(pcm)[:799])


def test_pcm_writer_output_is_read_by_the_stdlib(tmp_path: Path) -> None:
    writer = WavWriter(tmp_path / "p.wav")
    writer.write(bytes(320))
    writer.write(bytes(320))
    writer.close()
    writer.close()  # idempotent
    with wave.open(str(tmp_path / "p.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (8000, 1, 320)
