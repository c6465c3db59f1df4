"""RTP packet format (RFC 3550 §5.1) and the fast-path header helpers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from softphone.media import rtp
from softphone.media.rtp import HeaderExtension, RtpError, RtpPacket

# A PCMU packet as a phone sends it: V=2, M=1, PT=0, seq=0x1234, ts=0x11223344, SSRC=0xdeadbeef.
CAPTURED_PCMU = bytes.fromhex("80801234" "11223344" "deadbeef") + b"\xff" * 160


def test_parse_a_captured_pcmu_packet_and_serialize_it_back() -> None:
    packet = RtpPacket.parse(CAPTURED_PCMU)
    assert (packet.payload_type, packet.marker) == (0, True)
    assert (packet.sequence_number, packet.timestamp, packet.ssrc) == (0x1234, 0x11223344,
                                                                        0xDEADBEEF)
    assert packet.payload == b"\xff" * 160
    assert bytes(packet) == CAPTURED_PCMU
    assert "seq=4660" in repr(packet)


def test_csrc_extension_and_padding_round_trip() -> None:
    packet = RtpPacket(payload_type=8, sequence_number=65535, timestamp=2**32 - 1, ssrc=7,
                       payload=b"abc", csrc=(1, 2), padding_size=5,
                       extension=HeaderExtension(0xBEDE, b"\x10\xaa\x00\x00"))
    data = packet.serialize()
    assert len(data) == 12 + 8 + 4 + 4 + 3 + 5
    assert RtpPacket.parse(data) == packet
    assert rtp.payload_bounds(data) == (28, 31)


@pytest.mark.parametrize(("data", "message"), [
    (b"\x80\x00\x00", "truncated"),
    (bytes.fromhex("40000000" "00000000" "00000000"), "version 1"),
    (bytes.fromhex("82000000" "00000000" "00000000") + b"\0\0\0\0", "CSRC"),
    (bytes.fromhex("90000000" "00000000" "00000000") + b"\xbe\xde", "extension"),
    (bytes.fromhex("90000000" "00000000" "00000000") + b"\xbe\xde\x00\x02\0\0\0\0",
     "extension length"),
    (bytes.fromhex("a0000000" "00000000" "00000000") + b"\x01\x02\x09", "padding"),
    (bytes.fromhex("a0000000" "00000000" "00000000") + b"\x01\x02\x00", "padding"),
])
def test_invalid_packets_raise_rtp_error(data: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        RtpPacket.parse(data)


def test_constructor_validates_fields() -> None:
    with pytest.raises(RtpError):
        RtpPacket(payload_type=128, sequence_number=0, timestamp=0, ssrc=0)
    with pytest.raises(RtpError):
        RtpPacket(payload_type=0, sequence_number=70000, timestamp=0, ssrc=0)
    with pytest.raises(RtpError):
        RtpPacket(payload_type=0, sequence_number=0, timestamp=0, ssrc=0, csrc=(0,) * 16)


@given(st.binary(max_size=80))
def test_parse_raises_only_rtp_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RtpError:
        return
    assert RtpPacket.parse(packet.serialize()) == packet


@given(pt=st.integers(0, 127), seq=st.integers(0, 65535), ts=st.integers(0, 2**32 - 1),
       ssrc=st.integers(0, 2**32 - 1), marker=st.booleans(), payload=st.binary(max_size=40))
def test_fast_helpers_agree_with_the_dataclass(pt: int, seq: int, ts: int, ssrc: int,
                                               marker: bool, payload: bytes) -> None:
    data = RtpPacket(payload_type=pt, sequence_number=seq, timestamp=ts, ssrc=ssrc,
                     marker=marker, payload=payload).serialize()
    assert rtp.read_payload_type(data) == pt
    assert rtp.read_marker(data) is marker
    assert rtp.read_sequence(data) == seq
    assert rtp.read_timestamp(data) == ts
    assert rtp.read_ssrc(data) == ssrc
    assert rtp.looks_like_rtp(data)


def test_rewrite_header_in_place_keeps_the_payload() -> None:
    buf = bytearray(CAPTURED_PCMU)
    rtp.rewrite_header(buf, payload_type=8, marker=False, sequence_number=70000,
                       timestamp=2**32 + 5, ssrc=42)
    packet = RtpPacket.parse(buf)
    assert (packet.payload_type, packet.marker, packet.sequence_number, packet.timestamp,
            packet.ssrc) == (8, False, 70000 - 65536, 5, 42)
    assert packet.payload == b"\xff" * 160


def test_fast_helpers_reject_truncated_input() -> None:
    with pytest.raises(RtpError):
        rtp.read_ssrc(b"\x80\x00")
    with pytest.raises(RtpError):
        rtp.read_payload_type(b"")
    assert not rtp.looks_like_rtp(b"\x80\x00")


def test_rtcp_multiplexed_on_the_rtp_port_is_recognised() -> None:
    assert rtp.is_rtcp_muxed(bytes([0x80, 200]))  # SR
    assert not rtp.is_rtcp_muxed(bytes([0x80, 0x80]))  # PCMU with marker


def test_sequence_distance_wraps() -> None:
    assert rtp.seq_distance(1, 65535) == 2
    assert rtp.seq_distance(65535, 1) == -2
    assert rtp.seq_distance(10, 10) == 0
