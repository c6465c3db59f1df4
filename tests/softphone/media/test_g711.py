"""G.711 tables against known values and round-trip properties; tones through G.711 by FFT."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from softphone.media import g711
from softphone.media.g711 import Codec
from softphone.media.tones import tone_pcm


def _pcm(samples: np.ndarray) -> bytes:
    return samples.astype("<i2").tobytes()


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


@pytest.mark.parametrize(("code", "value"), [
    (0xFF, 0), (0x7F, 0), (0x80, 32124), (0x00, -32124), (0xF0, 120), (0x70, -120),
])
def test_ulaw_decodes_to_the_g711_values(code: int, value: int) -> None:
    assert g711.decode_ulaw_sample(code) == value
    assert g711.ulaw_decode(bytes([code])) == value.to_bytes(2, "little", signed=True)


@pytest.mark.parametrize(("code", "value"), [
    (0xD5, 8), (0x55, -8), (0xAA, 32256), (0x2A, -32256), (0xD4, 24),
])
def test_alaw_decodes_to_the_g711_values(code: int, value: int) -> None:
    assert g711.decode_alaw_sample(code) == value
    assert g711.alaw_decode(bytes([code])) == value.to_bytes(2, "little", signed=True)


def test_zero_and_full_scale_encode_to_the_expected_codes() -> None:
    assert g711.ulaw_encode(_pcm(np.array([0, 32767, -32768]))) == bytes([0xFF, 0x80, 0x00])
    assert g711.alaw_encode(_pcm(np.array([0, 32767, -32768]))) == bytes([0xD5, 0xAA, 0x2A])


@pytest.mark.parametrize("codec", list(Codec))
def test_every_code_survives_decode_then_encode(codec: Codec) -> None:
    codes = bytes(range(256))
    again = codec.encode(codec.decode(codes))
    if codec is Codec.PCMU:  # µ-law has two zeros (0x7F, 0xFF); both encode back to 0xFF
        assert again == codes.replace(b"\x7f", b"\xff")
    else:
        assert again == codes


@pytest.mark.parametrize("codec", list(Codec))
def test_encoding_is_monotonic_and_error_is_bounded(codec: Codec) -> None:
    ramp = np.arange(-32768, 32768, dtype=np.int64)
    decoded = _samples(codec.decode(codec.encode(_pcm(ramp))))
    assert np.all(np.diff(decoded) >= 0)
    error = np.abs(decoded - ramp)
    # G.711 keeps the quantisation error within half a step of its segment: < 3.4 % of the
    # value above the first segments (worst at segment starts), a few LSBs near zero.
    big = np.abs(ramp) > 1024
    assert np.all(error[big] <= np.abs(ramp[big]) * 0.034 + 1)
    assert error[~big].max() <= 32


@given(st.lists(st.integers(-32768, 32767), max_size=200))
def test_round_trip_is_idempotent(samples: list[int]) -> None:
    pcm = _pcm(np.array(samples, dtype=np.int64))
    for codec in Codec:
        once = codec.decode(codec.encode(pcm))
        assert codec.decode(codec.encode(once)) == once


def test_transcode_tables_match_decode_then_encode() -> None:
    codes = bytes(range(256))
    assert codes.translate(g711.ulaw_to_alaw) == g711.alaw_encode(g711.ulaw_decode(codes))
    assert codes.translate(g711.alaw_to_ulaw) == g711.ulaw_encode(g711.alaw_decode(codes))
    assert Codec.PCMU.transcode_table(Codec.PCMU) is None
    assert Codec.PCMU.transcode_table(Codec.PCMA) is g711.ulaw_to_alaw


def test_frames_are_20_ms_and_the_last_is_padded_with_silence() -> None:
    frames = g711.encode_frames(bytes(2 * 400), Codec.PCMA)
    assert [len(f) for f in frames] == [160, 160, 160]
    assert frames[-1][80:] == bytes([g711.ALAW_SILENCE]) * 80
    assert g711.silence_frame(Codec.PCMU) == b"\xff" * 160


def _peak_frequency(pcm: bytes) -> tuple[float, float]:
    samples = _samples(pcm)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / g711.SAMPLE_RATE)
    return float(freqs[int(np.argmax(spectrum))]), float(np.sqrt(np.mean(samples ** 2)))


@pytest.mark.parametrize("codec", list(Codec))
@pytest.mark.parametrize("frequency", [425.0, 1000.0, 3000.0])
def test_a_tone_survives_g711_with_its_frequency_and_level(codec: Codec,
                                                           frequency: float) -> None:
    pcm = tone_pcm(frequency, 1.0, level_dbfs=-12.0)
    decoded = codec.decode(b"".join(g711.encode_frames(pcm, codec)))
    peak, rms = _peak_frequency(decoded)
    assert abs(peak - frequency) <= 5
    expected_rms = 32767 * 10 ** (-12 / 20) / np.sqrt(2)
    assert rms == pytest.approx(expected_rms, rel=0.05)
    original = _samples(pcm)
    noise = _samples(decoded)[:len(original)] - original
    snr = 10 * np.log10(np.mean(original ** 2) / np.mean(noise ** 2))
    assert snr > 30  # G.711 gives ~35-38 dB on a sine at this level


def test_pcm_helpers_round_trip_and_clip() -> None:
    pcm = g711.pcm16_from_samples([0, 1.4, -1.6, 40000, -40000])
    assert list(g711.pcm16_samples(pcm)) == [0, 1, -2, 32767, -32768]
