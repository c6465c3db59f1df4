"""RFC 4733 telephone-events: payload, sender packet plan, receiver deduplication."""

from __future__ import annotations

import pytest

from softphone.media.dtmf import (
    DtmfError,
    DtmfReceiver,
    ReceivedDigit,
    TelephoneEvent,
    build_digit_packets,
    digit_for_event,
    event_for_digit,
)
from softphone.media.rtp import RtpPacket


def test_digit_event_mapping_follows_rfc4733_table() -> None:
    assert [event_for_digit(d) for d in "0123456789*#ABCD"] == list(range(16))
    assert event_for_digit("a") == 12
    assert digit_for_event(11) == "#"
    assert digit_for_event(16) is None  # flash: not a digit
    with pytest.raises(DtmfError):
        event_for_digit("E")
    with pytest.raises(DtmfError):
        event_for_digit("12")


def test_payload_layout() -> None:
    # event 5, E=1, volume 10, duration 800
    assert bytes(TelephoneEvent(5, True, 10, 800)) == bytes([5, 0x8A, 0x03, 0x20])
    assert TelephoneEvent.parse(bytes([11, 0x0A, 0x00, 0xA0])) == TelephoneEvent(11, False,
                                                                                 10, 160)
    # §2.3: the reserved bit is ignored on receipt.
    assert TelephoneEvent.parse(bytes([1, 0xCA, 0, 1])) == TelephoneEvent(1, True, 10, 1)
    with pytest.raises(DtmfError):
        TelephoneEvent.parse(b"\x01\x02")
    with pytest.raises(DtmfError):
        TelephoneEvent(1, False, 64, 0)


def test_sender_marks_the_first_packet_keeps_the_timestamp_and_ends_three_times() -> None:
    raw = build_digit_packets("#", payload_type=101, ssrc=99, first_sequence=65534,
                              timestamp=1000, duration=800)
    packets = [RtpPacket.parse(p) for p in raw]
    events = [TelephoneEvent.parse(p.payload) for p in packets]
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert {p.timestamp for p in packets} == {1000}
    assert [p.sequence_number for p in packets] == [65534, 65535, 0, 1, 2, 3, 4]
    assert [e.duration for e in events] == [160, 320, 480, 640, 800, 800, 800]
    assert [e.end for e in events] == [False] * 4 + [True] * 3
    assert {e.event for e in events} == {11}
    assert {p.payload_type for p in packets} == {101}


def test_receiver_reports_each_digit_once_despite_retransmitted_ends() -> None:
    receiver = DtmfReceiver()
    digits: list[ReceivedDigit] = []
    for ts, digit in ((1000, "1"), (3000, "5"), (5000, "5")):  # the same key twice counts twice
        for raw in build_digit_packets(digit, payload_type=101, ssrc=1, first_sequence=0,
                                       timestamp=ts):
            packet = RtpPacket.parse(raw)
            digits += receiver.feed(packet.timestamp, packet.payload)
    assert [d.digit for d in digits] == ["1", "5", "5"]
    assert digits[0] == ReceivedDigit("1", 800, 10)


def test_receiver_recovers_a_digit_whose_end_packets_were_all_lost() -> None:
    receiver = DtmfReceiver()
    assert receiver.feed(1000, bytes(TelephoneEvent(9, False, 10, 160))) == []
    assert receiver.feed(1000, bytes(TelephoneEvent(9, False, 10, 320))) == []
    # Next key press starts: the 9 is reported, then the next one on its own end.
    assert [d.digit for d in receiver.feed(2000, bytes(TelephoneEvent(0, False, 10, 160)))] \
        == ["9"]
    assert [d.digit for d in receiver.feed(2000, bytes(TelephoneEvent(0, True, 10, 480)))] \
        == ["0"]
    assert receiver.feed(3000, bytes(TelephoneEvent(4, False, 10, 160))) == []
    flushed = receiver.flush()
    assert flushed is not None and flushed.digit == "4"
    assert receiver.flush() is None


def test_receiver_ignores_garbage_and_non_dtmf_events() -> None:
    receiver = DtmfReceiver()
    assert receiver.feed(1, b"\x01") == []
    assert receiver.feed(2, bytes(TelephoneEvent(16, True, 10, 160))) == []
