"""G.711 µ-law (PCMU) and A-law (PCMA) as lookup tables, plus 16-bit linear PCM helpers.

ITU-T G.711 companding, computed once at import into byte tables so that the per-frame work
runs in C inside ``bytes.translate`` and ``map`` — no numpy at run time (it is only a test
dependency) and no ``audioop`` (removed in Python 3.13).

Linear PCM throughout this package is signed 16-bit little-endian mono ("s16le") in ``bytes``,
the layout of a PCM WAV file. A G.711 code maps to the 16-bit value of its segment midpoint
(the classic 14-bit µ-law / 13-bit A-law decoder output shifted to 16 bits).
"""

from __future__ import annotations

import enum
import sys
from array import array
from collections.abc import Callable, Iterable

__all__ = [
    "ALAW_SILENCE",
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "ULAW_SILENCE",
    "Codec",
    "alaw_decode",
    "alaw_encode",
    "alaw_to_ulaw",
    "decode_alaw_sample",
    "decode_ulaw_sample",
    "encode_alaw_sample",
    "encode_frames",
    "encode_ulaw_sample",
    "pcm16_from_samples",
    "pcm16_samples",
    "silence_frame",
    "ulaw_decode",
    "ulaw_encode",
    "ulaw_to_alaw",
]

SAMPLE_RATE = 8000  # G.711 / RFC 3551 §4.5.14: 8 kHz clock
FRAME_SAMPLES = 160  # 20 ms, the ptime every phone we meet defaults to
ULAW_SILENCE = 0xFF  # encodes 0
ALAW_SILENCE = 0xD5  # encodes +8, the A-law code nearest 0

# µ-law (G.711 §3): 14-bit magnitude plus bias 33, eight segments, inverted bits on the wire.
_ULAW_BIAS = 0x21
_ULAW_CLIP = 8159  # largest 14-bit magnitude that still fits after the bias
_ULAW_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
# A-law (G.711 §2): 13-bit magnitude, eight segments, even bits inverted (XOR 0x55).
_ALAW_SEGMENT_ENDS = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)
_ALAW_XOR = 0x55


def _segment(value: int, ends: tuple[int, ...]) -> int:
    for seg, end in enumerate(ends):
        if value <= end:
            return seg
    return len(ends)


def encode_ulaw_sample(sample: int) -> int:
    """One signed 16-bit sample to its µ-law code (the reference algorithm; tables use it)."""
    # 14-bit magnitude; negatives by one's complement as in the ITU-T G.191 reference code,
    # which keeps the rounding symmetric around zero.
    if sample < 0:
        value, mask = (~sample) >> 2, 0x7F
    else:
        value, mask = sample >> 2, 0xFF
    value = min(value, _ULAW_CLIP) + _ULAW_BIAS
    seg = _segment(value, _ULAW_SEGMENT_ENDS)
    if seg >= 8:  # full scale after the bias: clip to the largest code
        return 0x7F ^ mask
    code = (seg << 4) | ((value >> (seg + 1)) & 0x0F)
    return code ^ mask


def decode_ulaw_sample(code: int) -> int:
    code = ~code & 0xFF
    magnitude = ((((code & 0x0F) << 3) + (_ULAW_BIAS << 2)) << ((code & 0x70) >> 4))
    magnitude -= _ULAW_BIAS << 2
    return -magnitude if code & 0x80 else magnitude


def encode_alaw_sample(sample: int) -> int:
    value = sample >> 3  # 13-bit
    if value >= 0:
        mask = _ALAW_XOR | 0x80
    else:
        mask = _ALAW_XOR
        value = -value - 1
    seg = _segment(value, _ALAW_SEGMENT_ENDS)
    if seg >= 8:  # beyond the largest segment: clip to full scale
        return 0x7F ^ mask
    code = seg << 4
    code |= (value >> 1) & 0x0F if seg < 2 else (value >> seg) & 0x0F
    return code ^ mask


def decode_alaw_sample(code: int) -> int:
    code ^= _ALAW_XOR
    magnitude = (code & 0x0F) << 4
    seg = (code & 0x70) >> 4
    if seg == 0:
        magnitude += 8
    else:
        magnitude = (magnitude + 0x108) << (seg - 1)
    return magnitude if code & 0x80 else -magnitude


def _decode_tables(decode: Callable[[int], int]) -> tuple[bytes, bytes]:
    """Low-byte and high-byte translate tables: decode = interleave(translate(lo), (hi))."""
    words = [decode(code) & 0xFFFF for code in range(256)]
    return bytes(w & 0xFF for w in words), bytes(w >> 8 for w in words)


def _encode_table(encode: Callable[[int], int]) -> bytes:
    """65536 entries indexed by the sample's unsigned 16-bit view."""
    return bytes(encode(u - 0x10000 if u & 0x8000 else u) for u in range(0x10000))


_ULAW_DEC_LO, _ULAW_DEC_HI = _decode_tables(decode_ulaw_sample)
_ALAW_DEC_LO, _ALAW_DEC_HI = _decode_tables(decode_alaw_sample)
_ULAW_ENC = _encode_table(encode_ulaw_sample)
_ALAW_ENC = _encode_table(encode_alaw_sample)

# Transcoding tables for bytes.translate: decode with one law, re-encode with the other. This is
# the relay's one exception to "no decoding" (a PCMU leg bridged to a PCMA leg): one C-level
# translate per packet.
ulaw_to_alaw: bytes = bytes(_ALAW_ENC[decode_ulaw_sample(c) & 0xFFFF] for c in range(256))
alaw_to_ulaw: bytes = bytes(_ULAW_ENC[decode_alaw_sample(c) & 0xFFFF] for c in range(256))

_LITTLE_ENDIAN = sys.byteorder == "little"


def _decode(data: bytes | bytearray | memoryview, lo: bytes, hi: bytes) -> bytes:
    data = bytes(data)
    out = bytearray(2 * len(data))
    out[0::2] = data.translate(lo)
    out[1::2] = data.translate(hi)
    return bytes(out)


def _encode(pcm: bytes | bytearray | memoryview, table: bytes) -> bytes:
    if len(pcm) % 2:
        raise ValueError("16-bit PCM must have an even number of octets")
    if _LITTLE_ENDIAN:
        return bytes(map(table.__getitem__, memoryview(pcm).cast("B").cast("H")))
    words = array("H", bytes(pcm))
    words.byteswap()
    return bytes(map(table.__getitem__, words))


def ulaw_decode(data: bytes | bytearray | memoryview) -> bytes:
    """µ-law codes to s16le PCM (two octets per code)."""
    return _decode(data, _ULAW_DEC_LO, _ULAW_DEC_HI)


def alaw_decode(data: bytes | bytearray | memoryview) -> bytes:
    return _decode(data, _ALAW_DEC_LO, _ALAW_DEC_HI)


def ulaw_encode(pcm: bytes | bytearray | memoryview) -> bytes:
    """s16le PCM to µ-law codes (one octet per sample)."""
    return _encode(pcm, _ULAW_ENC)


def alaw_encode(pcm: bytes | bytearray | memoryview) -> bytes:
    return _encode(pcm, _ALAW_ENC)


class Codec(enum.Enum):
    """The two G.711 laws with their static payload type (RFC 3551 §6) and SDP name."""

    PCMU = (0, "PCMU")
    PCMA = (8, "PCMA")

    @property
    def static_payload_type(self) -> int:
        return int(self.value[0])

    @property
    def encoding_name(self) -> str:
        return str(self.value[1])

    @property
    def silence_code(self) -> int:
        return ULAW_SILENCE if self is Codec.PCMU else ALAW_SILENCE

    def encode(self, pcm: bytes | bytearray | memoryview) -> bytes:
        return ulaw_encode(pcm) if self is Codec.PCMU else alaw_encode(pcm)

    def decode(self, data: bytes | bytearray | memoryview) -> bytes:
        return ulaw_decode(data) if self is Codec.PCMU else alaw_decode(data)

    def transcode_table(self, target: Codec) -> bytes | None:
        """The ``bytes.translate`` table from this law to ``target``; None when equal."""
        if self is target:
            return None
        return ulaw_to_alaw if self is Codec.PCMU else alaw_to_ulaw


def silence_frame(codec: Codec, samples: int = FRAME_SAMPLES) -> bytes:
    return bytes([codec.silence_code]) * samples


def encode_frames(pcm: bytes, codec: Codec, samples_per_frame: int = FRAME_SAMPLES,
                  ) -> list[bytes]:
    """Encode s16le PCM and cut it into frames; the last one is padded with silence."""
    return frames_of_encoded(codec.encode(pcm), codec, samples_per_frame)


def frames_of_encoded(encoded: bytes, codec: Codec,
                      samples_per_frame: int = FRAME_SAMPLES) -> list[bytes]:
    """Already-encoded G.711 cut into frames (the last padded with silence)."""
    frames = [encoded[i:i + samples_per_frame]
              for i in range(0, len(encoded), samples_per_frame)]
    if frames and len(frames[-1]) < samples_per_frame:
        frames[-1] += bytes([codec.silence_code]) * (samples_per_frame - len(frames[-1]))
    return frames


def pcm16_samples(pcm: bytes | bytearray | memoryview) -> array[int]:
    """s16le bytes to an ``array('h')`` of samples (host order)."""
    samples = array("h", bytes(pcm))
    if not _LITTLE_ENDIAN:
        samples.byteswap()
    return samples


def pcm16_from_samples(samples: Iterable[float]) -> bytes:
    """Samples (rounded, clipped to 16 bits) to s16le bytes."""
    out = array("h", (max(-32768, min(32767, round(s))) for s in samples))
    if not _LITTLE_ENDIAN:
        out.byteswap()
    return out.tobytes()
