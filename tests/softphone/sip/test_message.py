from __future__ import annotations

import pytest

from softphone.sip.errors import LocalProtocolError, RemoteProtocolError
from softphone.sip.headers import CSeq
from softphone.sip.message import Headers, SipRequest, SipResponse, make_response
from softphone.sip.parser import parse_message
from softphone.sip.status import SipStatus, reason_phrase
from softphone.sip.uri import SipUri, parse_uri

REGISTER = (
    b"REGISTER sip:pbx.example.com SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1;rport\r\n"
    b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK-2\r\n"
    b"Max-Forwards: 70\r\n"
    b'f: "Alice" <sip:201@pbx.example.com>;tag=a1\r\n'
    b"t: <sip:201@pbx.example.com>\r\n"
    b"i: reg-1@192.0.2.10\r\n"
    b"CSeq: 7 REGISTER\r\n"
    b"m: <sip:201@192.0.2.10:5060>;expires=600, <sip:201@[2001:db8::5]>;q=0.5\r\n"
    b"Expires: 3600\r\n"
    b"Timestamp: 54\r\n"
    b"l: 0\r\n\r\n"
)


def register() -> SipRequest:
    message = parse_message(REGISTER)
    assert isinstance(message, SipRequest)
    return message


def test_accessors_read_the_headers_every_layer_needs() -> None:
    msg = register()
    assert msg.method == "REGISTER" and msg.uri == parse_uri("sip:pbx.example.com")
    assert [v.host for v in msg.via] == ["192.0.2.10", "proxy.example.com"]
    assert msg.top_via.has_rport and msg.branch == "z9hG4bK-1"
    assert msg.call_id == "reg-1@192.0.2.10"
    assert msg.cseq == CSeq(7, "REGISTER")
    assert msg.from_.display_name == "Alice" and msg.from_tag == "a1"
    assert msg.to_tag is None
    assert [c.param("expires") for c in msg.contacts] == ["600", None]
    assert not msg.contact_star
    assert (msg.expires, msg.max_forwards, msg.content_type) == (3600, 70, None)


def test_compact_names_are_found_by_either_name_in_any_case() -> None:
    headers = register().headers
    assert headers.get("call-id") == headers.get("I") == "reg-1@192.0.2.10"
    assert "CONTACT" in headers and "m" in headers
    assert [name for name, _ in headers][:2] == ["Via", "Via"]  # canonical, in wire order
    assert headers.count("Via") == 2 and len(headers.values("Via")) == 2
    assert len(headers.values("Contact")) == 2


def test_contact_star() -> None:
    star = register().with_header("Contact", "*")
    assert star.contact_star and star.contacts == ()
    mixed = register().with_added_header("Contact", "*")
    with pytest.raises(RemoteProtocolError):
        _ = mixed.contact_star


def test_missing_and_malformed_headers_raise_remote_errors() -> None:
    msg = register()
    with pytest.raises(RemoteProtocolError):
        _ = msg.without_header("Call-ID").call_id
    with pytest.raises(RemoteProtocolError):
        _ = msg.without_header("Via").top_via
    with pytest.raises(RemoteProtocolError):
        _ = msg.with_header("Max-Forwards", "300").max_forwards
    with pytest.raises(RemoteProtocolError):
        _ = msg.with_header("Expires", "-1").expires
    # RFC 4475 §3.1.2.4: an expiry beyond 2**32-1 reads as absent (the default applies).
    assert msg.with_header("Expires", "1" + "0" * 40).expires is None


def test_serialization_computes_content_length_and_keeps_order() -> None:
    msg = register().with_body(b"hello", "text/plain")
    data = bytes(msg)
    assert data.startswith(b"REGISTER sip:pbx.example.com SIP/2.0\r\nVia: ")
    assert b"Content-Length: 5\r\n" in data and b"Content-Length: 0" not in data
    assert data.endswith(b"\r\n\r\nhello")
    assert parse_message(data) == msg.with_header("Content-Length", "5")


def test_content_length_is_appended_when_absent() -> None:
    msg = SipRequest("OPTIONS", parse_uri("sip:a@b"), Headers([("To", "<sip:a@b>")]))
    assert bytes(msg) == b"OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\nContent-Length: 0\r\n\r\n"


def test_messages_are_immutable_values() -> None:
    msg = register()
    changed = msg.with_header("Max-Forwards", 69)
    assert msg.max_forwards == 70 and changed.max_forwards == 69
    with pytest.raises(AttributeError):
        msg.method = "INVITE"  # type: ignore[misc]
    assert hash(msg) == hash(register()) and msg == register()


def test_added_headers_go_next_to_their_kind() -> None:
    msg = register().with_added_header("Via", "SIP/2.0/TCP new;branch=z9hG4bKn", first=True)
    assert msg.via[0].host == "new" and len(msg.via) == 3
    msg = msg.with_added_header("Route", "<sip:p1;lr>").with_added_header("Route", "<sip:p2;lr>")
    assert [str(r.uri) for r in msg.name_addrs("Route")] == ["sip:p1;lr", "sip:p2;lr"]


@pytest.mark.parametrize(("name", "value"), [
    ("X-Evil", "a\r\nVia: injected"), ("Bad Name", "x"), ("X", "a\nb"), ("", "x"),
    ("X-Nul", "a\x00b"),
])
def test_header_injection_is_refused(name: str, value: str) -> None:
    with pytest.raises(LocalProtocolError):
        register().with_header(name, value)


def test_invalid_messages_cannot_be_built() -> None:
    uri = parse_uri("sip:a@b")
    with pytest.raises(LocalProtocolError):
        SipRequest("IN VITE", uri)
    with pytest.raises(LocalProtocolError):
        SipResponse(99)
    with pytest.raises(LocalProtocolError):
        SipResponse(200, "OK\r\nX: y")
    with pytest.raises(LocalProtocolError):
        SipRequest("INVITE", uri, body="text")  # type: ignore[arg-type]


def test_response_copies_the_request_headers_and_adds_a_to_tag() -> None:
    req = register()
    resp = make_response(req, 200, to_tag="srv1",
                         headers=[("Contact", "<sip:201@192.0.2.10:5060>;expires=600")])
    assert resp.status_code == 200 and resp.reason == "OK"
    assert resp.headers.get_all("Via") == req.headers.get_all("Via")
    assert resp.from_ == req.from_ and resp.call_id == req.call_id and resp.cseq == req.cseq
    assert resp.to_tag == "srv1"
    assert resp.headers.get("Max-Forwards") is None and resp.headers.get("Timestamp") is None
    assert parse_message(bytes(resp)).headers.without("Content-Length") == resp.headers


def test_trying_has_no_to_tag_but_keeps_timestamp() -> None:
    trying = register().make_response(100, to_tag="ignored")
    assert trying.to_tag is None and trying.reason == "Trying"
    assert trying.headers.get("Timestamp") == "54"


def test_an_existing_to_tag_is_kept() -> None:
    req = register().with_header("To", "<sip:201@pbx.example.com>;tag=dialog")
    assert req.make_response(200, to_tag="other").to_tag == "dialog"


def test_status_phrases() -> None:
    assert SipStatus.NOT_FOUND == 404 and SipStatus.NOT_FOUND.phrase == "Not Found"
    assert SipStatus(486).phrase == "Busy Here"
    assert SipStatus.RINGING.is_provisional and SipStatus.OK.is_final
    assert reason_phrase(513) == "Message Too Large"
    assert reason_phrase(499) == "Bad Request"  # unknown: its class's phrase (§8.1.3.2)
    assert register().make_response(SipStatus.UNSUPPORTED_URI_SCHEME).reason == (
        "Unsupported URI Scheme")


def test_request_uri_object_is_parsed() -> None:
    msg = parse_message(REGISTER.replace(b"sip:pbx.example.com SIP", b"sips:201@[::1]:5061 SIP"))
    assert isinstance(msg, SipRequest) and isinstance(msg.uri, SipUri)
    assert (msg.uri.scheme, msg.uri.host, msg.uri.port) == ("sips", "::1", 5061)


def test_with_top_via_changes_only_the_top_value_and_keeps_parsed_views() -> None:
    from softphone.sip.parser import parse_message

    raw = (b"OPTIONS sip:a@h SIP/2.0\r\nv: SIP/2.0/UDP h1;branch=z9hG4bK1;rport , "
           b"SIP/2.0/TCP h2;branch=z9hG4bK2\r\nVia: SIP/2.0/UDP h3\r\nf: <sip:a@h>;tag=1\r\n"
           b"t: <sip:b@h>\r\ni: c1\r\nCSeq: 1 OPTIONS\r\n\r\n")
    request = parse_message(raw)
    assert isinstance(request, SipRequest)
    _ = request.from_  # parsed before the copy
    stamped = request.with_top_via(request.top_via.with_param("rport", "5062")
                                   .with_param("received", "10.0.0.1"))
    assert [v.host for v in stamped.via] == ["h1", "h2", "h3"]
    assert stamped.top_via.rport == 5062 and stamped.top_via.received == "10.0.0.1"
    reparsed = parse_message(bytes(stamped))
    assert isinstance(reparsed, SipRequest)
    assert reparsed.via == stamped.via
    assert reparsed.headers.get_all("Via")[1] == "SIP/2.0/UDP h3"
    assert stamped.from_ is request.from_
    assert request.top_via.received is None  # the original is unchanged
