"""RTP packets (RFC 3550 §5.1): a slotted dataclass for clarity, struct helpers for speed.

Two ways in, on purpose:

* :class:`RtpPacket` parses and serializes the whole header (CSRC list, header extension,
  padding) and validates it. Use it where packets are few: tests, the player, the recorder,
  debugging.
* The ``read_*`` / ``rewrite_header`` helpers read or overwrite the fixed 12-byte header in
  place with precompiled :class:`struct.Struct` objects and build no object. The relay's
  per-packet path uses the same ``Struct`` objects inline (see ``relay.py``): measured, every
  Python call per packet costs capacity there.

Wire input never trips an ``assert``: anything malformed raises :class:`RtpError`.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

__all__ = [
    "DYNAMIC_PAYLOAD_TYPES",
    "RTCP_MUX_PAYLOAD_TYPES",
    "RTP_HEADER_SIZE",
    "RTP_VERSION",
    "HeaderExtension",
    "PayloadType",
    "RtpError",
    "RtpPacket",
    "is_rtcp_muxed",
    "looks_like_rtp",
    "payload_bounds",
    "read_marker",
    "read_payload_type",
    "read_sequence",
    "read_ssrc",
    "read_timestamp",
    "rewrite_header",
    "seq_distance",
]

# RFC 3550 §5.1: V=2, fixed header of 12 octets, up to 15 CSRCs.
RTP_VERSION = 2
RTP_HEADER_SIZE = 12
MAX_CSRC = 15
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32

# First octet: V(2) P(1) X(1) CC(4); second octet: M(1) PT(7).
VERSION_MASK = 0xC0
VERSION_BITS = RTP_VERSION << 6
PADDING_BIT = 0x20
EXTENSION_BIT = 0x10
CSRC_COUNT_MASK = 0x0F
MARKER_BIT = 0x80
PAYLOAD_TYPE_MASK = 0x7F

# RFC 3551 §6: dynamic payload types.
DYNAMIC_PAYLOAD_TYPES = range(96, 128)
# RFC 5761 §4: with rtcp-mux, second octets 192–223 (PT 64–95 with M) belong to RTCP.
RTCP_MUX_PAYLOAD_TYPES = range(64, 96)

# Offsets of the fixed-header fields the relay rewrites.
SEQ_OFFSET = 2
TS_OFFSET = 4
SSRC_OFFSET = 8

# Precompiled layouts, shared with the relay's hot path.
FIXED_HEADER = struct.Struct("!BBHII")  # octet 0, octet 1, seq, timestamp, SSRC
SEQ_TS_SSRC = struct.Struct("!HII")  # at offset 2
MPT_SEQ_TS_SSRC = struct.Struct("!BHII")  # at offset 1: M|PT, seq, timestamp, SSRC
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_EXT_HEADER = struct.Struct("!HH")  # RFC 3550 §5.3.1: profile-defined, length in words


class PayloadType(enum.IntEnum):
    """Static payload types we care about (RFC 3551 §6, Table 4)."""

    PCMU = 0
    PCMA = 8
    G722 = 9
    CN = 13  # RFC 3389 comfort noise


class RtpError(Exception):
    """A datagram is not a valid RTP packet (truncated, wrong version, bad lengths)."""


@dataclass(slots=True, frozen=True)
class HeaderExtension:
    """RFC 3550 §5.3.1: 16-bit profile field, then a whole number of 32-bit words."""

    profile: int
    data: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.profile < SEQ_MOD:
            raise RtpError(f"extension profile {self.profile} out of range")
        if len(self.data) % 4:
            raise RtpError("extension data must be a multiple of 4 octets")


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet (RFC 3550 §5.1). ``payload`` excludes padding."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: HeaderExtension | None = None
    padding_size: int = 0
    version: int = field(default=RTP_VERSION)

    def __post_init__(self) -> None:
        if self.version != RTP_VERSION:
            raise RtpError(f"RTP version {self.version}, expected {RTP_VERSION}")
        if not 0 <= self.payload_type <= PAYLOAD_TYPE_MASK:
            raise RtpError(f"payload type {self.payload_type} out of range")
        if not 0 <= self.sequence_number < SEQ_MOD:
            raise RtpError(f"sequence number {self.sequence_number} out of range")
        if not 0 <= self.timestamp < TS_MOD:
            raise RtpError(f"timestamp {self.timestamp} out of range")
        if not 0 <= self.ssrc < TS_MOD:
            raise RtpError(f"SSRC {self.ssrc} out of range")
        if len(self.csrc) > MAX_CSRC:
            raise RtpError(f"{len(self.csrc)} CSRCs, at most {MAX_CSRC}")
        if not 0 <= self.padding_size <= 255:
            raise RtpError(f"padding size {self.padding_size} out of range")

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> RtpPacket:
        data = bytes(data)
        if len(data) < RTP_HEADER_SIZE:
            raise RtpError(f"RTP packet truncated: {len(data)} octets, header needs 12")
        first, second, seq, ts, ssrc = FIXED_HEADER.unpack_from(data, 0)
        version = first >> 6
        if version != RTP_VERSION:
            raise RtpError(f"RTP version {version}, expected {RTP_VERSION}")
        offset = RTP_HEADER_SIZE
        cc = first & CSRC_COUNT_MASK
        if len(data) < offset + 4 * cc:
            raise RtpError(f"RTP packet truncated in the CSRC list ({cc} CSRCs)")
        csrc = struct.unpack_from(f"!{cc}I", data, offset) if cc else ()
        offset += 4 * cc
        extension = None
        if first & EXTENSION_BIT:
            if len(data) < offset + 4:
                raise RtpError("RTP packet truncated in the header extension")
            profile, words = _EXT_HEADER.unpack_from(data, offset)
            offset += 4
            if len(data) < offset + 4 * words:
                raise RtpError("RTP header extension length exceeds the packet")
            extension = HeaderExtension(profile, data[offset:offset + 4 * words])
            offset += 4 * words
        end = len(data)
        padding = 0
        if first & PADDING_BIT:
            # RFC 3550 §5.1: the last octet counts the padding octets, itself included.
            padding = data[-1]
            if padding == 0 or offset + padding > end:
                raise RtpError(f"RTP padding length {padding} is invalid")
            end -= padding
        return cls(
            payload_type=second & PAYLOAD_TYPE_MASK,
            sequence_number=seq,
            timestamp=ts,
            ssrc=ssrc,
            payload=data[offset:end],
            marker=bool(second & MARKER_BIT),
            csrc=tuple(csrc),
            extension=extension,
            padding_size=padding,
        )

    def serialize(self) -> bytes:
        first = VERSION_BITS | len(self.csrc)
        if self.padding_size:
            first |= PADDING_BIT
        if self.extension is not None:
            first |= EXTENSION_BIT
        second = self.payload_type | (MARKER_BIT if self.marker else 0)
        parts = [FIXED_HEADER.pack(first, second, self.sequence_number, self.timestamp,
                                   self.ssrc)]
        if self.csrc:
            parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
        if self.extension is not None:
            parts.append(_EXT_HEADER.pack(self.extension.profile, len(self.extension.data) // 4))
            parts.append(self.extension.data)
        parts.append(self.payload)
        if self.padding_size:
            parts.append(bytes(self.padding_size - 1) + bytes([self.padding_size]))
        return b"".join(parts)

    __bytes__ = serialize

    def __repr__(self) -> str:
        return (f"RtpPacket(pt={self.payload_type}, seq={self.sequence_number}, "
                f"ts={self.timestamp}, ssrc={self.ssrc:#010x}, m={int(self.marker)}, "
                f"len={len(self.payload)})")


# --- fast path: no objects built, struct on bytes/bytearray -----------------------------------

def looks_like_rtp(data: bytes | bytearray) -> bool:
    """Cheap plausibility check: long enough and version 2 (RFC 3550 §5.1)."""
    return len(data) >= RTP_HEADER_SIZE and data[0] & VERSION_MASK == VERSION_BITS


def is_rtcp_muxed(data: bytes | bytearray) -> bool:
    """RFC 5761 §4: RTCP multiplexed on the RTP port has PT 64–95 in the RTP position."""
    return len(data) >= 2 and (data[1] & PAYLOAD_TYPE_MASK) in RTCP_MUX_PAYLOAD_TYPES


def _need(data: bytes | bytearray, size: int) -> None:
    if len(data) < size:
        raise RtpError(f"RTP packet truncated: {len(data)} octets")


def read_payload_type(data: bytes | bytearray) -> int:
    _need(data, 2)
    return data[1] & PAYLOAD_TYPE_MASK


def read_marker(data: bytes | bytearray) -> bool:
    _need(data, 2)
    return bool(data[1] & MARKER_BIT)


def read_sequence(data: bytes | bytearray) -> int:
    _need(data, RTP_HEADER_SIZE)
    return int(_U16.unpack_from(data, SEQ_OFFSET)[0])


def read_timestamp(data: bytes | bytearray) -> int:
    _need(data, RTP_HEADER_SIZE)
    return int(_U32.unpack_from(data, TS_OFFSET)[0])


def read_ssrc(data: bytes | bytearray) -> int:
    _need(data, RTP_HEADER_SIZE)
    return int(_U32.unpack_from(data, SSRC_OFFSET)[0])


def rewrite_header(buf: bytearray, *, payload_type: int, marker: bool, sequence_number: int,
                   timestamp: int, ssrc: int) -> None:
    """Overwrite M, PT, seq, timestamp and SSRC in place; CSRCs/extension stay untouched."""
    _need(buf, RTP_HEADER_SIZE)
    MPT_SEQ_TS_SSRC.pack_into(buf, 1, payload_type | (MARKER_BIT if marker else 0),
                              sequence_number & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)


def payload_bounds(data: bytes | bytearray) -> tuple[int, int]:
    """(start, end) of the payload: after CSRCs and extension, before padding."""
    _need(data, RTP_HEADER_SIZE)
    first = data[0]
    start = RTP_HEADER_SIZE + 4 * (first & CSRC_COUNT_MASK)
    if first & EXTENSION_BIT:
        _need(data, start + 4)
        start += 4 + 4 * _EXT_HEADER.unpack_from(data, start)[1]
    end = len(data)
    if first & PADDING_BIT:
        end -= data[-1]
    if start > end:
        raise RtpError("RTP header and padding exceed the packet")
    return start, end


def seq_distance(newer: int, older: int) -> int:
    """Signed distance between two 16-bit sequence numbers, wrap-around aware (RFC 3550 A.1)."""
    d = (newer - older) & 0xFFFF
    return d - SEQ_MOD if d >= SEQ_MOD // 2 else d
