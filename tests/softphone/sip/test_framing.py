from __future__ import annotations

import pytest

from softphone.sip.errors import FramingError
from softphone.sip.framing import KEEPALIVE_PING, StreamFramer
from softphone.sip.parser import parse_message

MESSAGE = (b"OPTIONS sip:pbx SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
           b"l: 5\r\n\r\nhello")


def test_messages_are_cut_by_content_length_whatever_the_chunking() -> None:
    stream = MESSAGE + MESSAGE.replace(b"hello", b"world") + MESSAGE
    for size in (1, 2, 3, 7, 64, len(stream)):
        framer = StreamFramer()
        out: list[bytes] = []
        for i in range(0, len(stream), size):
            out += framer.feed(stream[i:i + size])
        assert out == [MESSAGE, MESSAGE.replace(b"hello", b"world"), MESSAGE]
        assert framer.at_message_boundary and framer.buffered == 0
        assert parse_message(out[1]).body == b"world"


def test_keepalive_ping_is_reported_and_lone_crlf_skipped() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == [KEEPALIVE_PING]
    assert framer.feed(b"\r\n") == []  # maybe the start of a ping: wait
    assert framer.feed(MESSAGE) == [MESSAGE]  # it was a lone CRLF (a pong)
    assert framer.feed(b"\r\n\r\n\r\n\r\n") == [KEEPALIVE_PING, KEEPALIVE_PING]


def test_partial_message_waits_and_eof_reports_it() -> None:
    framer = StreamFramer()
    assert framer.feed(MESSAGE[:-2]) == []
    assert not framer.at_message_boundary
    with pytest.raises(FramingError) as info:
        framer.eof()
    assert not info.value.can_answer
    StreamFramer().eof()


@pytest.mark.parametrize(("data", "status"), [
    (MESSAGE.replace(b"l: 5\r\n", b""), 400),                    # mandatory on streams
    (MESSAGE.replace(b"l: 5", b"l: -5"), 400),
    (MESSAGE.replace(b"l: 5", b"l: 5\r\nContent-Length: 6"), 400),
    (MESSAGE.replace(b"l: 5", b"l: 99999999999999999999"), 400),
    (MESSAGE.replace(b"l: 5", b"l: 70000"), 413),
    (MESSAGE.replace(b"Via", b"X: " + b"a" * 20_000 + b"\r\nVia"), 513),
])
def test_framing_errors_close_the_stream(data: bytes, status: int) -> None:
    framer = StreamFramer()
    with pytest.raises(FramingError) as info:
        framer.feed(data)
    assert info.value.status_hint == status and info.value.can_answer
    with pytest.raises(FramingError):  # broken for good: the stream is out of sync
        framer.feed(MESSAGE)


def test_endless_header_block_is_refused_without_waiting_for_its_end() -> None:
    framer = StreamFramer(max_header_size=1000)
    framer.feed(b"OPTIONS sip:x SIP/2.0\r\n")
    with pytest.raises(FramingError) as info:
        for _ in range(100):
            framer.feed(b"X-Filler: " + b"y" * 50 + b"\r\n")
    assert info.value.status_hint == 513


def test_binary_garbage_is_closed_without_an_answer() -> None:
    with pytest.raises(FramingError) as info:
        StreamFramer().feed(b"\x16\x03\x01\x02\x00")  # a TLS ClientHello on the TCP port
    assert not info.value.can_answer


def test_configurable_body_cap() -> None:
    with pytest.raises(FramingError):
        StreamFramer(max_body_size=4).feed(MESSAGE)
    assert StreamFramer(max_body_size=5).feed(MESSAGE) == [MESSAGE]


def test_messages_before_a_break_are_delivered_then_the_error() -> None:
    framer = StreamFramer()
    assert framer.feed(MESSAGE + b"junk\r\n\r\n") == [MESSAGE]  # RFC 4475 dblreq on TCP
    with pytest.raises(FramingError) as info:
        framer.feed(b"")
    assert info.value.status_hint == 400
