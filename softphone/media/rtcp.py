"""Minimal RTCP (RFC 3550 §6): parse SR, RR and BYE out of a compound packet; build RR/SR/BYE.

The relay terminates RTCP per leg rather than forwarding it: SSRCs, sequence numbers and
timestamps are rewritten per outgoing leg, so the far end's reports would describe a stream the
near end never saw. What we need from RTCP is small: notice a BYE, and keep phones that insist on
receiver reports happy. SDES and APP packets are skipped, not rejected.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

__all__ = [
    "ReportBlock",
    "RtcpBye",
    "RtcpError",
    "RtcpPacket",
    "RtcpPacketType",
    "RtcpReceiverReport",
    "RtcpSenderReport",
    "RtcpUnknown",
    "ntp_timestamp",
    "parse_compound",
]

RTCP_VERSION = 2
RTCP_HEADER_SIZE = 4
MAX_REPORT_BLOCKS = 31  # 5-bit RC/SC count (RFC 3550 §6.4.1)
NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01

_HEADER = struct.Struct("!BBH")  # V P RC, PT, length in 32-bit words minus one
_SSRC = struct.Struct("!I")
_SENDER_INFO = struct.Struct("!IIIII")  # NTP msw, NTP lsw, RTP ts, packets, octets
_REPORT_BLOCK = struct.Struct("!IIIIII")  # SSRC, fraction|lost, ext seq, jitter, LSR, DLSR
SENDER_INFO_SIZE = _SENDER_INFO.size
REPORT_BLOCK_SIZE = _REPORT_BLOCK.size


class RtcpPacketType(enum.IntEnum):
    """RFC 3550 §12.1."""

    SR = 200
    RR = 201
    SDES = 202
    BYE = 203
    APP = 204


class RtcpError(Exception):
    """A datagram is not valid RTCP (truncated, wrong version, lengths that do not add up)."""


@dataclass(slots=True, frozen=True)
class ReportBlock:
    """RFC 3550 §6.4.1 report block; ``cumulative_lost`` is a signed 24-bit value."""

    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    highest_sequence: int
    jitter: int
    last_sr: int
    delay_since_last_sr: int

    @classmethod
    def parse(cls, data: bytes, offset: int) -> ReportBlock:
        ssrc, lost_word, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        lost = lost_word & 0xFFFFFF
        if lost & 0x800000:
            lost -= 1 << 24
        return cls(ssrc, lost_word >> 24, lost, highest, jitter, lsr, dlsr)

    def __bytes__(self) -> bytes:
        lost = max(-(1 << 23), min((1 << 23) - 1, self.cumulative_lost)) & 0xFFFFFF
        return _REPORT_BLOCK.pack(self.ssrc, ((self.fraction_lost & 0xFF) << 24) | lost,
                                  self.highest_sequence, self.jitter, self.last_sr,
                                  self.delay_since_last_sr)


def _header(count: int, packet_type: RtcpPacketType, body: bytes) -> bytes:
    if len(body) % 4:
        raise RtcpError("RTCP body must be a multiple of 4 octets")
    return _HEADER.pack((RTCP_VERSION << 6) | count, packet_type, len(body) // 4) + body


def _check_blocks(blocks: tuple[ReportBlock, ...]) -> None:
    if len(blocks) > MAX_REPORT_BLOCKS:
        raise RtcpError(f"{len(blocks)} report blocks, at most {MAX_REPORT_BLOCKS}")


@dataclass(slots=True, frozen=True)
class RtcpSenderReport:
    """RFC 3550 §6.4.1."""

    ssrc: int
    ntp_timestamp: int  # 64-bit NTP format
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()

    def __bytes__(self) -> bytes:
        _check_blocks(self.reports)
        body = _SSRC.pack(self.ssrc) + _SENDER_INFO.pack(
            self.ntp_timestamp >> 32, self.ntp_timestamp & 0xFFFFFFFF, self.rtp_timestamp,
            self.packet_count, self.octet_count) + b"".join(bytes(r) for r in self.reports)
        return _header(len(self.reports), RtcpPacketType.SR, body)


@dataclass(slots=True, frozen=True)
class RtcpReceiverReport:
    """RFC 3550 §6.4.2."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()

    def __bytes__(self) -> bytes:
        _check_blocks(self.reports)
        body = _SSRC.pack(self.ssrc) + b"".join(bytes(r) for r in self.reports)
        return _header(len(self.reports), RtcpPacketType.RR, body)


@dataclass(slots=True, frozen=True)
class RtcpBye:
    """RFC 3550 §6.6."""

    sources: tuple[int, ...]
    reason: str = ""

    def __bytes__(self) -> bytes:
        if len(self.sources) > MAX_REPORT_BLOCKS:
            raise RtcpError(f"{len(self.sources)} BYE sources, at most {MAX_REPORT_BLOCKS}")
        body = b"".join(_SSRC.pack(s) for s in self.sources)
        if self.reason:
            text = self.reason.encode()[:255]
            body += bytes([len(text)]) + text
            body += bytes(-len(body) % 4)
        return _header(len(self.sources), RtcpPacketType.BYE, body)


@dataclass(slots=True, frozen=True)
class RtcpUnknown:
    """SDES, APP or a type we do not interpret: kept as its type and raw body."""

    packet_type: int
    body: bytes


RtcpPacket = RtcpSenderReport | RtcpReceiverReport | RtcpBye | RtcpUnknown


def _parse_reports(body: bytes, offset: int, count: int) -> tuple[ReportBlock, ...]:
    if len(body) < offset + count * REPORT_BLOCK_SIZE:
        raise RtcpError(f"RTCP report blocks truncated ({count} announced)")
    return tuple(ReportBlock.parse(body, offset + i * REPORT_BLOCK_SIZE) for i in range(count))


def _parse_one(packet_type: int, count: int, body: bytes) -> RtcpPacket:
    if packet_type == RtcpPacketType.SR:
        if len(body) < 4 + SENDER_INFO_SIZE:
            raise RtcpError("RTCP sender report truncated")
        (ssrc,) = _SSRC.unpack_from(body, 0)
        msw, lsw, rtp_ts, packets, octets = _SENDER_INFO.unpack_from(body, 4)
        return RtcpSenderReport(ssrc, (msw << 32) | lsw, rtp_ts, packets, octets,
                                _parse_reports(body, 4 + SENDER_INFO_SIZE, count))
    if packet_type == RtcpPacketType.RR:
        if len(body) < 4:
            raise RtcpError("RTCP receiver report truncated")
        (ssrc,) = _SSRC.unpack_from(body, 0)
        return RtcpReceiverReport(ssrc, _parse_reports(body, 4, count))
    if packet_type == RtcpPacketType.BYE:
        if len(body) < 4 * count:
            raise RtcpError("RTCP BYE source list truncated")
        sources = tuple(_SSRC.unpack_from(body, 4 * i)[0] for i in range(count))
        reason = ""
        rest = body[4 * count:]
        if rest:
            if len(rest) < 1 + rest[0]:
                raise RtcpError("RTCP BYE reason length is invalid")
            reason = rest[1:1 + rest[0]].decode("utf-8", errors="replace")
        return RtcpBye(sources, reason)
    return RtcpUnknown(packet_type, body)


def parse_compound(data: bytes | bytearray | memoryview) -> list[RtcpPacket]:
    """Every packet of a compound RTCP datagram (RFC 3550 §6.1), in order."""
    data = bytes(data)
    if len(data) < RTCP_HEADER_SIZE:
        raise RtcpError(f"RTCP packet truncated: {len(data)} octets")
    packets: list[RtcpPacket] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < RTCP_HEADER_SIZE:
            raise RtcpError("RTCP compound packet has trailing octets")
        first, packet_type, words = _HEADER.unpack_from(data, offset)
        if first >> 6 != RTCP_VERSION:
            raise RtcpError(f"RTCP version {first >> 6}, expected {RTCP_VERSION}")
        end = offset + RTCP_HEADER_SIZE + 4 * words
        if end > len(data):
            raise RtcpError(f"RTCP length {words} exceeds the datagram")
        body = data[offset + RTCP_HEADER_SIZE:end]
        if first & 0x20:  # padding (RFC 3550 §6.4.1): last octet counts the padding
            if not body or body[-1] == 0 or body[-1] > len(body):
                raise RtcpError("RTCP padding length is invalid")
            body = body[:-body[-1]]
        packets.append(_parse_one(packet_type, first & 0x1F, body))
        offset = end
    return packets


def ntp_timestamp(unix_seconds: float) -> int:
    """64-bit NTP timestamp (RFC 3550 §4) from Unix time.

    Sender reports are the one place RTP wants wall-clock time (to let receivers align
    streams); callers pass ``time.time()`` here and nowhere else.
    """
    seconds = unix_seconds + NTP_UNIX_OFFSET
    whole = int(seconds)
    return ((whole & 0xFFFFFFFF) << 32) | int((seconds - whole) * (1 << 32)) & 0xFFFFFFFF
