"""RFC 4733 telephone-events: payload format, a sender plan and a receiver that yields digits.

Sans-IO: the sender returns the packets to send (bytes) and the receiver takes payloads with
their RTP timestamp; pacing and sockets belong to the caller.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from softphone.media.rtp import RtpPacket

__all__ = [
    "DEFAULT_EVENT_PAYLOAD_TYPE",
    "DIGITS",
    "DtmfError",
    "DtmfReceiver",
    "ReceivedDigit",
    "TelephoneEvent",
    "build_digit_packets",
    "digit_for_event",
    "event_for_digit",
]

# RFC 4733 §3.2, Table 7: DTMF events 0–15 in this order.
DIGITS = "0123456789*#ABCD"
DEFAULT_EVENT_PAYLOAD_TYPE = 101  # the dynamic PT nearly every phone offers for telephone-event
PAYLOAD_SIZE = 4
END_BIT = 0x80
RESERVED_BIT = 0x40
VOLUME_MASK = 0x3F
MAX_DURATION = 0xFFFF
# RFC 4733 §2.5.1.4: the final packet is sent three times so that losing one does not matter.
END_RETRANSMISSIONS = 3
DEFAULT_VOLUME = 10  # -10 dBm0, a normal keypad level
DEFAULT_PACKET_SAMPLES = 160  # one update every 20 ms at 8 kHz

_PAYLOAD = struct.Struct("!BBH")


class DtmfError(Exception):
    """An invalid telephone-event payload or digit."""


def event_for_digit(digit: str) -> int:
    index = DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if index < 0:
        raise DtmfError(f"{digit!r} is not a DTMF digit (0-9 * # A-D)")
    return index


def digit_for_event(event: int) -> str | None:
    """The digit for a DTMF event code, None for other events (flash, tones…)."""
    return DIGITS[event] if 0 <= event < len(DIGITS) else None


@dataclass(slots=True, frozen=True)
class TelephoneEvent:
    """The 4-octet payload of RFC 4733 §2.3."""

    event: int
    end: bool
    volume: int  # 0..63, in -dBm0
    duration: int  # in RTP timestamp units, from the event's start timestamp

    def __post_init__(self) -> None:
        if not 0 <= self.event <= 255:
            raise DtmfError(f"event code {self.event} out of range")
        if not 0 <= self.volume <= VOLUME_MASK:
            raise DtmfError(f"volume {self.volume} out of range")
        if not 0 <= self.duration <= MAX_DURATION:
            raise DtmfError(f"duration {self.duration} out of range")

    @classmethod
    def parse(cls, payload: bytes | bytearray | memoryview) -> TelephoneEvent:
        # §2.3: extra octets may follow in redundancy schemes; only the first 4 are ours.
        if len(payload) < PAYLOAD_SIZE:
            raise DtmfError(f"telephone-event payload truncated: {len(payload)} octets")
        event, flags, duration = _PAYLOAD.unpack_from(payload, 0)
        return cls(event, bool(flags & END_BIT), flags & VOLUME_MASK, duration)

    def __bytes__(self) -> bytes:
        # §2.3: the R bit is reserved, sent as zero.
        return _PAYLOAD.pack(self.event, (END_BIT if self.end else 0) | self.volume,
                             self.duration)

    @property
    def digit(self) -> str | None:
        return digit_for_event(self.event)


def build_digit_packets(digit: str, *, payload_type: int, ssrc: int, first_sequence: int,
                        timestamp: int, duration: int = 800, volume: int = DEFAULT_VOLUME,
                        packet_samples: int = DEFAULT_PACKET_SAMPLES) -> list[bytes]:
    """The RTP packets announcing one key press, to send one per ``packet_samples``.

    RFC 4733 §2.5.1: every packet carries the event's start ``timestamp``; the first has the
    marker bit (§2.5.1.2); the duration grows by one packet interval per update (§2.5.1.3);
    the last update has the E bit and is sent three times with the same duration (§2.5.1.4).
    Sequence numbers advance by one per packet, retransmissions included.
    """
    event = event_for_digit(digit)
    duration = max(packet_samples, min(duration, MAX_DURATION))
    durations = [*range(packet_samples, duration, packet_samples), duration]
    packets: list[bytes] = []
    seq = first_sequence
    for index, elapsed in enumerate(durations):
        final = index == len(durations) - 1
        for _ in range(END_RETRANSMISSIONS if final else 1):
            payload = bytes(TelephoneEvent(event, final, volume, elapsed))
            packets.append(RtpPacket(payload_type=payload_type, sequence_number=seq & 0xFFFF,
                                     timestamp=timestamp & 0xFFFFFFFF, ssrc=ssrc,
                                     payload=payload, marker=index == 0).serialize())
            seq += 1
    return packets


@dataclass(slots=True, frozen=True)
class ReceivedDigit:
    digit: str
    duration: int  # RTP timestamp units
    volume: int


class DtmfReceiver:
    """Turns telephone-event packets into each digit once.

    An event is identified by its RTP timestamp (RFC 4733 §2.5.2.1). The digit is reported on the
    first end packet; its retransmissions are ignored. If every end packet was lost, the digit is
    reported when the next event starts, or by :meth:`flush` (call it after a quiet spell).
    """

    __slots__ = ("_current", "_reported_timestamp")

    def __init__(self) -> None:
        self._current: tuple[int, TelephoneEvent] | None = None
        self._reported_timestamp: int | None = None

    def feed(self, timestamp: int, payload: bytes | bytearray | memoryview,
             ) -> list[ReceivedDigit]:
        """Digits completed by this packet (usually none, at most two)."""
        try:
            event = TelephoneEvent.parse(payload)
        except DtmfError:
            return []
        if event.digit is None or timestamp == self._reported_timestamp:
            return []
        done: list[ReceivedDigit] = []
        if self._current is not None and self._current[0] != timestamp:
            lost_end = self.flush()
            if lost_end is not None:
                done.append(lost_end)
        self._current = (timestamp, event)
        if event.end:
            finished = self.flush()
            if finished is not None:
                done.append(finished)
        return done

    def flush(self) -> ReceivedDigit | None:
        """Report the event in progress, if any, as finished."""
        if self._current is None:
            return None
        timestamp, event = self._current
        self._current = None
        self._reported_timestamp = timestamp
        digit = event.digit
        return None if digit is None else ReceivedDigit(digit, event.duration, event.volume)
