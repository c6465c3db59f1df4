"""Tone files for real phones, and a detector for what they heard (stdlib only).

Detection as in ../shared/notes/real-peers.md: 100 ms Hann-windowed blocks; a block carries
the tone when the Goertzel power at the expected frequency (±20 Hz, three bins) is at least
half of the block's power and the block is louder than -45 dBFS.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 8000
BLOCK = RATE // 10  # 100 ms


def write_tone(path: Path, frequency: float, seconds: float = 20.0,
               level_dbfs: float = -10.0) -> Path:
    amplitude = 32767 * 10 ** (level_dbfs / 20)
    frames = b"".join(
        struct.pack("<h", round(amplitude * math.sin(2 * math.pi * frequency * n / RATE)))
        for n in range(int(seconds * RATE)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(frames)
    return path


def read_samples(path: Path) -> tuple[list[float], int]:
    with wave.open(str(path), "rb") as source:
        rate, width, channels = source.getframerate(), source.getsampwidth(), \
            source.getnchannels()
        data = source.readframes(source.getnframes())
    assert width == 2, f"{path}: {width * 8}-bit audio"
    values = struct.unpack(f"<{len(data) // 2}h", data)[::channels]
    return [v / 32768 for v in values], rate


def _goertzel_power(block: list[float], frequency: float, rate: int) -> float:
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in block:
        s1, s2 = x + coefficient * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coefficient * s1 * s2


def tone_presence(path: Path, frequency: float) -> list[tuple[bool, float]]:
    """Per 100 ms block of a WAV file: (the tone is there, the block's level in dBFS)."""
    samples, rate = read_samples(path)
    size = rate // 10
    window = [0.5 - 0.5 * math.cos(2 * math.pi * i / (size - 1)) for i in range(size)]
    out: list[tuple[bool, float]] = []
    for start in range(0, len(samples) - size + 1, size):
        raw = samples[start:start + size]
        block = [s * w for s, w in zip(raw, window, strict=True)]
        energy = sum(x * x for x in block)
        rms = math.sqrt(sum(x * x for x in raw) / size)
        level = 20 * math.log10(max(rms, 1e-9))
        if energy <= 0:
            out.append((False, level))
            continue
        # Parseval for a Hann-windowed block: a bin's Goertzel power relates to the block's
        # energy by N/2; three bins cover ±20 Hz around the tone at 10 Hz resolution.
        tone = sum(_goertzel_power(block, frequency + d, rate) for d in (-10, 0, 10))
        share = tone / (energy * size / 2 * 1.5)
        out.append((share >= 0.5 and level >= -45, level))
    return out


def tone_blocks(path: Path, frequency: float) -> tuple[int, int, float]:
    """(blocks with the tone, blocks in all, loudest level in dBFS) of a WAV file."""
    blocks = tone_presence(path, frequency)
    return (sum(hit for hit, _ in blocks), len(blocks),
            max((level for _, level in blocks), default=-120.0))
