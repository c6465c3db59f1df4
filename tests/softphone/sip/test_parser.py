from __future__ import annotations

import pytest

from softphone.sip.errors import RemoteProtocolError
from softphone.sip.message import SipRequest, SipResponse
from softphone.sip.parser import (
    BadExtensionError,
    parse_message,
    validate_request,
    validate_response,
)

OPTIONS = (
    "OPTIONS sip:pbx.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-1\r\n"
    "From: <sip:a@b>;tag=1\r\n"
    "To: <sip:pbx.example.com>\r\n"
    "Call-ID: c1\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Content-Length: {length}\r\n\r\n{body}"
)


def options(body: str = "", length: int | None = None, **replace: str) -> bytes:
    text = OPTIONS.format(length=len(body.encode()) if length is None else length, body=body)
    for old, new in replace.items():
        text = text.replace(old.replace("_", "-"), new)
    return text.encode()


def status_of(data: bytes) -> int:
    with pytest.raises(RemoteProtocolError) as info:
        message = parse_message(data)
        if isinstance(message, SipRequest):
            validate_request(message)
        else:
            validate_response(message)
    return info.value.status_hint


def test_a_plain_request_parses() -> None:
    message = parse_message(options("hi"))
    assert isinstance(message, SipRequest) and message.body == b"hi"
    assert validate_request(message) is message


def test_folded_headers_and_lws_around_the_colon() -> None:
    data = options().replace(b"Call-ID: c1", b"Call-ID   :\r\n  c1").replace(
        b"CSeq: 1 OPTIONS", b"cseq:  1\r\n\tOPTIONS")
    message = parse_message(data)
    assert message.call_id == "c1" and message.cseq.number == 1


def test_leading_crlf_and_bare_lf_are_tolerated() -> None:
    assert parse_message(b"\r\n\r\n" + options()).call_id == "c1"
    assert parse_message(options().replace(b"\r\n", b"\n")).call_id == "c1"


def test_udp_body_rules() -> None:
    # §18.3: extra octets are discarded; no Content-Length means the rest of the datagram.
    assert parse_message(options("hello", length=2)).body == b"he"
    no_length = options("body").replace(b"Content-Length: 4\r\n", b"")
    assert parse_message(no_length).body == b"body"


@pytest.mark.parametrize(("data", "status"), [
    (options("hi", length=10), 400),                          # longer than the datagram
    (options(length=-1), 400),
    (options().replace(b"Content-Length: 0", b"Content-Length: 18446744073709551616"), 400),
    (options().replace(b"Content-Length: 0", b"Content-Length: 0x10"), 400),
    (options().replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 1"), 400),
    (options().replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 505),
    (options().replace(b"SIP/2.0\r\n", b"HTTP/1.1\r\n", 1), 400),
    (options().replace(b"OPTIONS sip", b"OPTIONS  sip"), 400),
    (options().replace(b"OPTIONS sip", b"OPT IONS sip"), 400),
    (options().replace(b"OPTIONS sip", b"OPTIONS <sip").replace(b"com SIP", b"com> SIP"), 400),
    (options().replace(b"Call-ID: c1", b"Call-ID c1"), 400),      # no colon
    (options().replace(b"Call-ID: c1", b"Call ID: c1"), 400),     # bad name
    (options().replace(b"Call-ID: c1", b"Call-ID: c\r1"), 400),   # stray CR
    (b" folded\r\n" + options(), 400),
    (options().replace(b"\r\n\r\n", b"\r\n"), 400),               # no end of headers
    (b"\xff\xfe" + options(), 400),
    (b"", 400),
    (options().replace(b"Call-ID: c1\r\n", b""), 400),            # §8.1.1 mandatory
    (options().replace(b"1 OPTIONS", b"2147483648 OPTIONS"), 400),
    (options().replace(b"1 OPTIONS", b"1 INVITE"), 400),
    (options().replace(b"To: <sip:pbx.example.com>", b"To: <sip:x@y>\r\nTo: <sip:z@w>"), 400),
    (options().replace(b"OPTIONS sip:pbx", b"OPTIONS mailto:pbx"), 416),
    (options().replace(b"Call-ID: c1", b"Call-ID: c1\r\nMax-Forwards: 99999999999"), 400),
])
def test_rejections_carry_the_status_to_answer(data: bytes, status: int) -> None:
    assert status_of(data) == status


def test_oversized_message_is_513() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_message(options("x" * 70_000))
    assert info.value.status_hint == 513
    with pytest.raises(RemoteProtocolError) as info:
        parse_message(options().replace(b"Call-ID", b"X: y\r\n" * 300 + b"Call-ID"))
    assert info.value.status_hint == 513


def test_unknown_method_with_mismatched_cseq_is_501() -> None:
    data = options().replace(b"OPTIONS sip", b"FOO sip")
    assert status_of(data) == 501


def test_require_is_checked_only_when_extensions_are_given() -> None:
    message = parse_message(options().replace(b"Call-ID", b"Require: 100rel, foo\r\nCall-ID"))
    assert isinstance(message, SipRequest)
    validate_request(message)
    validate_request(message, supported_extensions={"100rel", "foo"})
    with pytest.raises(BadExtensionError) as info:
        validate_request(message, supported_extensions={"100rel"})
    assert info.value.status_hint == 420 and info.value.unsupported == ("foo",)


def test_responses() -> None:
    data = (b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\n"
            b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    message = parse_message(data)
    assert isinstance(message, SipResponse)
    assert (message.status_code, message.reason) == (180, "Ringing")
    assert validate_response(message).to_tag == "2"
    assert parse_message(data.replace(b"180 Ringing", b"180")).reason == ""
    for bad in (b"SIP/2.0 099 x", b"SIP/2.0 700 x", b"SIP/2.0 1800 x", b"SIP/2.0 abc x"):
        assert status_of(data.replace(b"SIP/2.0 180 Ringing", bad)) == 400
