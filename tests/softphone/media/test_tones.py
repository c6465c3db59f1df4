"""Tone plans and music on hold, checked by their spectrum and cadence."""

from __future__ import annotations

import numpy as np
import pytest

from softphone.media.g711 import SAMPLE_RATE, Codec
from softphone.media.tones import (
    Tone,
    dtmf_pcm,
    music_on_hold_frames,
    music_on_hold_pcm,
    tone_frames,
    tone_pcm,
)


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def _peaks(pcm: bytes, count: int) -> list[float]:
    samples = _samples(pcm)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)
    found: list[float] = []
    for index in np.argsort(spectrum)[::-1]:
        if all(abs(freqs[index] - f) > 20 for f in found):
            found.append(float(freqs[index]))
        if len(found) == count:
            break
    return sorted(found)


def _active_windows(pcm: bytes, window: float = 0.05) -> list[bool]:
    samples = _samples(pcm)
    size = int(window * SAMPLE_RATE)
    return [bool(np.sqrt(np.mean(samples[i:i + size] ** 2)) > 100)
            for i in range(0, len(samples) - size + 1, size)]


def test_ringback_is_425_hz_one_second_on_three_off() -> None:
    frames = tone_frames(Tone.RINGBACK, Codec.PCMA)
    assert len(frames) == 200  # 4 s of 20 ms
    pcm = Codec.PCMA.decode(b"".join(frames))
    (peak,) = _peaks(pcm[:SAMPLE_RATE * 2], 1)
    assert abs(peak - 425) <= 5
    active = _active_windows(pcm)
    assert sum(active) == pytest.approx(20, abs=1)  # 1 s of 50 ms windows
    assert all(active[1:19]) and not any(active[21:])


def test_busy_cadence_is_half_a_second() -> None:
    pcm = Codec.PCMU.decode(b"".join(tone_frames(Tone.BUSY, Codec.PCMU)))
    active = _active_windows(pcm)
    assert len(active) == 20 and all(active[1:9]) and not any(active[11:])


def test_dual_tone_has_both_components() -> None:
    peaks = _peaks(dtmf_pcm("5", duration=0.5), 2)
    assert abs(peaks[0] - 770) <= 5 and abs(peaks[1] - 1336) <= 5


def test_tone_edges_fade_in_and_out() -> None:
    samples = _samples(tone_pcm(1000.0, 0.1))
    assert abs(samples[0]) < 50 and abs(samples[-1]) < 50
    assert np.max(np.abs(samples)) == pytest.approx(32767 * 10 ** (-12 / 20), rel=0.01)


def test_confirmation_and_beep_are_distinct_from_call_progress() -> None:
    for tone in (Tone.CONFIRMATION, Tone.BEEP):
        pcm = Codec.PCMU.decode(b"".join(tone_frames(tone, Codec.PCMU)))
        assert all(abs(p - 425) > 50 for p in _peaks(pcm, 1))


def test_music_on_hold_is_audible_in_band_and_loops_in_whole_frames() -> None:
    pcm = music_on_hold_pcm()
    samples = _samples(pcm)
    assert 15 < len(samples) / SAMPLE_RATE < 25
    rms = np.sqrt(np.mean(samples ** 2))
    assert 1000 < rms < 12000  # present, and well below full scale
    assert np.max(np.abs(samples)) < 32767
    # Mostly inside the telephone band (300-3400 Hz), nothing folded above it.
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)
    in_band = spectrum[(freqs > 250) & (freqs < 3400)].sum() / spectrum.sum()
    assert in_band > 0.8
    frames = music_on_hold_frames(Codec.PCMU)
    assert all(len(f) == 160 for f in frames)
    assert music_on_hold_frames(Codec.PCMU) is frames  # cached: computed once per codec
