"""Minimal RTCP (RFC 3550 §6): SR, RR, BYE."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from softphone.media.rtcp import (
    ReportBlock,
    RtcpBye,
    RtcpError,
    RtcpReceiverReport,
    RtcpSenderReport,
    RtcpUnknown,
    ntp_timestamp,
    parse_compound,
)

BLOCK = ReportBlock(ssrc=0x1234, fraction_lost=25, cumulative_lost=-3, highest_sequence=70000,
                    jitter=12, last_sr=0xAABBCCDD, delay_since_last_sr=65536)


def test_compound_sr_plus_bye_round_trip() -> None:
    sr = RtcpSenderReport(ssrc=1, ntp_timestamp=ntp_timestamp(1_700_000_000.5),
                          rtp_timestamp=160, packet_count=50, octet_count=8000, reports=(BLOCK,))
    bye = RtcpBye(sources=(1,), reason="hangup")
    data = bytes(sr) + bytes(bye)
    assert len(data) % 4 == 0
    assert parse_compound(data) == [sr, bye]


def test_receiver_report_with_negative_cumulative_loss() -> None:
    rr = RtcpReceiverReport(ssrc=9, reports=(BLOCK, BLOCK))
    (parsed,) = parse_compound(bytes(rr))
    assert parsed == rr
    assert isinstance(parsed, RtcpReceiverReport)
    assert parsed.reports[0].cumulative_lost == -3


def test_sdes_is_kept_as_unknown() -> None:
    sdes = bytes([0x81, 202, 0, 2]) + b"\0\0\0\1" + b"\0\0\0\0"
    (packet,) = parse_compound(sdes)
    assert isinstance(packet, RtcpUnknown) and packet.packet_type == 202


def test_ntp_timestamp_of_the_unix_epoch() -> None:
    assert ntp_timestamp(0.0) == 2_208_988_800 << 32
    assert ntp_timestamp(0.5) & 0xFFFFFFFF == 1 << 31


@pytest.mark.parametrize("data", [
    b"\x80\xc8",
    bytes([0x80, 200, 0, 6]) + bytes(8),  # length beyond the datagram
    bytes([0x40, 201, 0, 1]) + bytes(4),  # version 1
    bytes([0x81, 201, 0, 1]) + bytes(4),  # one report block announced, none present
    bytes([0x81, 203, 0, 0]),  # BYE with one source announced, none present
    bytes([0x80, 201, 0, 1]) + bytes(4) + b"\x80",  # trailing octet
])
def test_malformed_rtcp_raises_rtcp_error(data: bytes) -> None:
    with pytest.raises(RtcpError):
        parse_compound(data)


@given(st.binary(max_size=120))
def test_parse_raises_only_rtcp_error(data: bytes) -> None:
    with contextlib.suppress(RtcpError):
        parse_compound(data)
