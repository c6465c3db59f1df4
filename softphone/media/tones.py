"""Call-progress tones and music on hold, synthesised as 8 kHz s16le PCM.

Everything here is computed from formulas at run time: no audio asset is shipped or copied.
Results are cached per (tone, codec), so a PBX with many held calls computes music once.

Tone plans follow the Belgian column of ITU-T E.180 Supplement 2 / ETSI TR 101 041-2 (425 Hz,
the European norm): ringback 1 s on / 3 s off, busy 0.5 / 0.5, congestion 0.167 / 0.167, dial
tone continuous. The beep (before recording) and the confirmation tone (after a star code) are
our own choices, made distinct from call progress.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from functools import lru_cache

from softphone.media.g711 import SAMPLE_RATE, Codec, encode_frames, pcm16_from_samples

__all__ = [
    "DTMF_FREQUENCIES",
    "Tone",
    "ToneSegment",
    "cadence_pcm",
    "dtmf_pcm",
    "music_on_hold_frames",
    "music_on_hold_pcm",
    "tone_frames",
    "tone_pcm",
]

FULL_SCALE = 32767
DEFAULT_LEVEL_DBFS = -12.0  # per component; leaves headroom for dual tones
FADE_SECONDS = 0.004  # raised-cosine edges: a hard-gated sine clicks
EUROPEAN_TONE_HZ = 425.0

# ITU-T Q.23: DTMF row and column frequencies.
DTMF_FREQUENCIES: dict[str, tuple[float, float]] = {
    digit: (row, col)
    for row, keys in zip((697.0, 770.0, 852.0, 941.0), ("123A", "456B", "789C", "*0#D"),
                         strict=True)
    for col, digit in zip((1209.0, 1336.0, 1477.0, 1633.0), keys, strict=True)
}


@dataclass(slots=True, frozen=True)
class ToneSegment:
    """``duration`` seconds of the sum of ``frequencies`` (none: silence)."""

    frequencies: tuple[float, ...]
    duration: float
    level_dbfs: float = DEFAULT_LEVEL_DBFS


def _amplitude(level_dbfs: float) -> float:
    return FULL_SCALE * 10 ** (level_dbfs / 20)


def _samples(duration: float) -> int:
    return round(duration * SAMPLE_RATE)


def _envelope(index: int, count: int, fade: int) -> float:
    if fade <= 0:
        return 1.0
    edge = min(index, count - 1 - index)
    if edge >= fade:
        return 1.0
    return 0.5 - 0.5 * math.cos(math.pi * edge / fade)


def _segment_values(segment: ToneSegment) -> list[float]:
    count = _samples(segment.duration)
    if not segment.frequencies:
        return [0.0] * count
    amp = _amplitude(segment.level_dbfs)
    steps = [2 * math.pi * f / SAMPLE_RATE for f in segment.frequencies]
    fade = min(_samples(FADE_SECONDS), count // 2)
    return [amp * _envelope(n, count, fade) * sum(math.sin(step * n) for step in steps)
            for n in range(count)]


def tone_pcm(frequencies: tuple[float, ...] | float, duration: float,
             level_dbfs: float = DEFAULT_LEVEL_DBFS) -> bytes:
    """A sine (or the sum of several, each at ``level_dbfs`` peak) with soft edges."""
    freqs = (frequencies,) if isinstance(frequencies, float | int) else tuple(frequencies)
    return pcm16_from_samples(_segment_values(ToneSegment(tuple(map(float, freqs)), duration,
                                                          level_dbfs)))


def cadence_pcm(segments: tuple[ToneSegment, ...]) -> bytes:
    values: list[float] = []
    for segment in segments:
        values.extend(_segment_values(segment))
    return pcm16_from_samples(values)


def dtmf_pcm(digit: str, duration: float = 0.1, level_dbfs: float = -10.0) -> bytes:
    """In-band DTMF (Q.23) — for tests and for peers that cannot do RFC 4733."""
    return tone_pcm(DTMF_FREQUENCIES[digit.upper()], duration, level_dbfs)


class Tone(enum.Enum):
    """One cycle of each tone; players loop it."""

    DIAL = (ToneSegment((EUROPEAN_TONE_HZ,), 1.0),)
    RINGBACK = (ToneSegment((EUROPEAN_TONE_HZ,), 1.0), ToneSegment((), 3.0))
    BUSY = (ToneSegment((EUROPEAN_TONE_HZ,), 0.5), ToneSegment((), 0.5))
    CONGESTION = (ToneSegment((EUROPEAN_TONE_HZ,), 0.167), ToneSegment((), 0.167))
    BEEP = (ToneSegment((1000.0,), 0.25),)
    # Two rising notes a fifth apart: reads as "done" and cannot be mistaken for busy.
    CONFIRMATION = (ToneSegment((880.0,), 0.12), ToneSegment((), 0.04),
                    ToneSegment((1320.0,), 0.18))

    @property
    def segments(self) -> tuple[ToneSegment, ...]:
        return tuple(self.value)


@lru_cache(maxsize=32)
def tone_frames(tone: Tone, codec: Codec) -> tuple[bytes, ...]:
    """One cycle of ``tone`` as 20 ms G.711 frames."""
    return tuple(encode_frames(cadence_pcm(tone.segments), codec))


# --- music on hold --------------------------------------------------------------------------
# A gentle arpeggio over I–vi–IV–V–I–vi–ii–V in C major, 100 bpm eighth notes, with a soft bass.
# Notes are MIDI numbers; each bar is a chord spelled root, third, fifth.
_BPM = 100.0
_EIGHTH = 60.0 / _BPM / 2
_CHORDS = ((72, 76, 79), (69, 72, 76), (65, 69, 72), (67, 71, 74),
           (72, 76, 79), (69, 72, 76), (62, 65, 69), (67, 71, 74))
# Index into (root, third, fifth, root+12, third+12, fifth+12), one per eighth of the bar.
_ARPEGGIO = (0, 2, 3, 4, 5, 4, 3, 2)
_HARMONICS = ((1.0, 1.0), (2.0, 0.35), (3.0, 0.12))  # soft, slightly bell-like timbre
_MOH_PEAK_DBFS = -9.0


def _midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def _add_note(buffer: list[float], start: float, note: int, length: float, gain: float,
              decay: float) -> None:
    first = _samples(start)
    count = min(_samples(length), len(buffer) - first)
    freq = _midi_hz(note)
    attack = _samples(0.01)
    release = _samples(0.03)
    partials = [(2 * math.pi * freq * mult / SAMPLE_RATE, weight)
                for mult, weight in _HARMONICS if freq * mult < SAMPLE_RATE / 2 * 0.9]
    for n in range(count):
        env = math.exp(-n / (decay * SAMPLE_RATE))
        if n < attack:
            env *= n / attack
        if count - n < release:
            env *= (count - n) / release
        buffer[first + n] += gain * env * sum(w * math.sin(step * n) for step, w in partials)


def music_on_hold_pcm() -> bytes:
    """About 19 seconds that loop seamlessly (every note ends inside the loop)."""
    bar = 8 * _EIGHTH
    buffer = [0.0] * _samples(bar * len(_CHORDS))
    for index, chord in enumerate(_CHORDS):
        voicing = (*chord, *(n + 12 for n in chord))
        bar_start = index * bar
        for eighth, pick in enumerate(_ARPEGGIO):
            _add_note(buffer, bar_start + eighth * _EIGHTH, voicing[pick], _EIGHTH * 1.9,
                      gain=1.0, decay=0.35)
        for half in range(2):  # bass: the root an octave down (phones cut below ~300 Hz)
            _add_note(buffer, bar_start + half * bar / 2, chord[0] - 12, bar / 2, gain=0.5,
                      decay=0.9)
    peak = max(abs(v) for v in buffer) or 1.0
    scale = _amplitude(_MOH_PEAK_DBFS) / peak
    return pcm16_from_samples([v * scale for v in buffer])


@lru_cache(maxsize=2)
def music_on_hold_frames(codec: Codec) -> tuple[bytes, ...]:
    return tuple(encode_frames(music_on_hold_pcm(), codec))
