"""Just enough RIFF/WAVE for telephony: read 8 kHz mono files, write crash-tolerant ones.

The stdlib ``wave`` module handles 16-bit PCM but refuses G.711 WAV files (format tags 6 and 7),
which phones and other PBXs produce and which our recorder can write; so the chunk walk is ours.
Resampling is deliberately out of scope: a wrong-rate file is rejected with the command that
converts it, instead of being resampled badly (aliasing) at load time.
"""

from __future__ import annotations

import enum
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from softphone.media.g711 import (
    SAMPLE_RATE,
    Codec,
    alaw_decode,
    pcm16_from_samples,
    ulaw_decode,
)

__all__ = [
    "WavError",
    "WavFormat",
    "WavInfo",
    "WavWriter",
    "read_wav_pcm16",
]

_CHUNK = struct.Struct("<4sI")
_FMT = struct.Struct("<HHIIHH")  # format tag, channels, rate, byte rate, block align, bits
_EXTENSIBLE_TAG = 0xFFFE
CONVERT_HINT = "convert it with: sox INPUT.wav -r 8000 -c 1 -b 16 OUTPUT.wav"


class WavError(Exception):
    """A WAV file we cannot use, with the reason in words."""


class WavFormat(enum.IntEnum):
    """RIFF format tags (RFC 2361 appendix A)."""

    PCM = 1
    ALAW = 6
    MULAW = 7


@dataclass(slots=True, frozen=True)
class WavInfo:
    format: WavFormat
    channels: int
    sample_rate: int
    bits_per_sample: int


def _parse_fmt(body: bytes) -> WavInfo:
    if len(body) < _FMT.size:
        raise WavError("fmt chunk truncated")
    tag, channels, rate, _byte_rate, _align, bits = _FMT.unpack_from(body)
    if tag == _EXTENSIBLE_TAG and len(body) >= 26:
        tag = struct.unpack_from("<H", body, 24)[0]  # first two octets of the sub-format GUID
    try:
        fmt = WavFormat(tag)
    except ValueError:
        raise WavError(f"WAV format tag {tag:#x} is not PCM, A-law or µ-law; "
                       f"{CONVERT_HINT}") from None
    return WavInfo(fmt, channels, rate, bits)


def _chunks(data: bytes) -> dict[bytes, bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + _CHUNK.size <= len(data):
        name, size = _CHUNK.unpack_from(data, offset)
        offset += _CHUNK.size
        # A writer that crashed leaves a data size of 0 or too large: take what is there.
        if name == b"data" and (size == 0 or offset + size > len(data)):
            size = len(data) - offset
        chunks.setdefault(name, data[offset:offset + size])
        offset += size + (size & 1)  # chunks are word-aligned
    if b"fmt " not in chunks or b"data" not in chunks:
        raise WavError("WAV file lacks a fmt or data chunk")
    return chunks


def _to_mono16(info: WavInfo, data: bytes) -> bytes:
    if info.format is WavFormat.MULAW:
        if info.bits_per_sample != 8:
            raise WavError("µ-law WAV must have 8 bits per sample")
        pcm = ulaw_decode(data)
    elif info.format is WavFormat.ALAW:
        if info.bits_per_sample != 8:
            raise WavError("A-law WAV must have 8 bits per sample")
        pcm = alaw_decode(data)
    elif info.bits_per_sample == 16:
        pcm = data[:len(data) - len(data) % 2]
    elif info.bits_per_sample == 8:  # unsigned 8-bit: widening is exact, so we do it
        pcm = pcm16_from_samples([(b - 128) << 8 for b in data])
    else:
        raise WavError(f"{info.bits_per_sample}-bit PCM is not supported; {CONVERT_HINT}")
    if info.channels == 1:
        return pcm
    if info.channels == 2:  # downmix by averaging: exact enough and trivial
        samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[:len(pcm) - len(pcm) % 4])
        return pcm16_from_samples([(samples[i] + samples[i + 1]) // 2
                                   for i in range(0, len(samples), 2)])
    raise WavError(f"{info.channels} channels; {CONVERT_HINT}")


def _read(path: str | os.PathLike[str]) -> tuple[WavInfo, bytes]:
    """The format and the data chunk of a WAV file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WavError(f"cannot read {path}: {exc}") from exc
    chunks = _chunks(data)
    return _parse_fmt(chunks[b"fmt "]), chunks[b"data"]


def read_wav_pcm16(path: str | os.PathLike[str]) -> bytes:
    """An 8 kHz WAV (PCM 8/16-bit, A-law or µ-law; mono or stereo) as 8 kHz mono s16le."""
    info, samples = _read(path)
    if info.sample_rate != SAMPLE_RATE:
        raise WavError(f"{path} is {info.sample_rate} Hz, telephony needs {SAMPLE_RATE} Hz; "
                       f"{CONVERT_HINT}")
    return _to_mono16(info, samples)


def read_wav_g711(path: str | os.PathLike[str], codec: Codec) -> bytes | None:
    """The raw samples of an 8 kHz mono WAV already in ``codec``'s law (format 7 µ-law for
    PCMU, 6 A-law for PCMA), ready to send; None for any other kind of WAV."""
    info, samples = _read(path)
    wanted = WavFormat.MULAW if codec is Codec.PCMU else WavFormat.ALAW
    if (info.format, info.channels, info.sample_rate, info.bits_per_sample) != (
            wanted, 1, SAMPLE_RATE, 8):
        return None
    return samples


class WavWriter:
    """Appends audio to a WAV file whose header is kept valid as it grows.

    Audio goes to the OS on every :meth:`write` (unbuffered file), so a crash of this process
    loses nothing that was written; the RIFF and data sizes in the header are patched by
    :meth:`sync`, which the caller runs at least every second, and on :meth:`close`. Readers
    that ignore the header sizes (ours does) see everything even before a sync.
    """

    __slots__ = ("_data_size", "_data_size_at", "_file", "_riff_size_at", "_synced_size",
                 "info")

    def __init__(self, path: str | os.PathLike[str], fmt: WavFormat = WavFormat.PCM) -> None:
        bits = 16 if fmt is WavFormat.PCM else 8
        self.info = WavInfo(fmt, 1, SAMPLE_RATE, bits)
        self._file: BinaryIO = open(path, "wb", buffering=0)  # noqa: SIM115 — owned, closed in close()
        header = self._header()
        self._file.write(header)
        self._riff_size_at = 4
        self._data_size_at = len(header) - 4
        self._data_size = 0
        self._synced_size = 0

    def _header(self) -> bytes:
        block_align = self.info.bits_per_sample // 8
        fmt_body = _FMT.pack(self.info.format, 1, SAMPLE_RATE, SAMPLE_RATE * block_align,
                             block_align, self.info.bits_per_sample)
        parts = [b"RIFF", struct.pack("<I", 0), b"WAVE"]
        if self.info.format is WavFormat.PCM:
            parts += [_CHUNK.pack(b"fmt ", len(fmt_body)), fmt_body]
        else:
            # Non-PCM formats carry cbSize (0 here) and a fact chunk (RIFF spec, 1991).
            parts += [_CHUNK.pack(b"fmt ", len(fmt_body) + 2), fmt_body, b"\0\0",
                      _CHUNK.pack(b"fact", 4), struct.pack("<I", 0)]
        parts.append(_CHUNK.pack(b"data", 0))
        return b"".join(parts)

    @property
    def closed(self) -> bool:
        return self._file.closed

    @property
    def frames_written(self) -> int:
        return self._data_size // (self.info.bits_per_sample // 8)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._file.write(data)
        self._data_size += len(data)

    def sync(self) -> None:
        """Patch the header sizes so that any WAV reader sees everything written so far."""
        if self._synced_size == self._data_size or self._file.closed:
            return
        fd = self._file.fileno()
        size = self._data_size
        os.pwrite(fd, struct.pack("<I", size), self._data_size_at)
        if self.info.format is not WavFormat.PCM:
            os.pwrite(fd, struct.pack("<I", self.frames_written), self._data_size_at - 8)
        riff_size = os.fstat(fd).st_size - 8  # includes a pad octet written by close()
        os.pwrite(fd, struct.pack("<I", riff_size), self._riff_size_at)
        self._synced_size = size

    def close(self) -> None:
        if self._file.closed:
            return
        if self._data_size & 1:  # RIFF chunks are word-aligned
            self._file.write(b"\0")
        self.sync()
        self._file.close()
