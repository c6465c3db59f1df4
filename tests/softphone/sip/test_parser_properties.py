"""Properties of the wire layer (hypothesis).

1. parse ∘ serialize is the identity on messages we build (and serialize ∘ parse is stable).
2. h11's invariant: whatever the bytes, the parser, the framer, every accessor, the validators
   and the SDP parser either succeed or raise ``RemoteProtocolError`` — never anything else.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softphone.sip.errors import RemoteProtocolError
from softphone.sip.framing import StreamFramer
from softphone.sip.headers import parse_auth
from softphone.sip.message import Headers, SipMessage, SipRequest, SipResponse
from softphone.sip.parser import parse_message, validate_request, validate_response
from softphone.sip.sdp import SessionDescription, build_answer
from softphone.sip.uri import SipUri, parse_uri

TORTURE = Path(__file__).resolve().parents[3] / ".." / "shared" / "testdata" / "sip-torture"
SEEDS = sorted(p.read_bytes() for p in TORTURE.glob("rfc*/**/*") if p.is_file()
               if p.suffix in (".dat", ".sip"))

_TOKEN = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~",
                 min_size=1, max_size=12)
_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
_HOST = st.one_of(
    st.lists(_LABEL, min_size=1, max_size=4).map(".".join),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    st.sampled_from(["::1", "2001:db8::10", "::ffff:192.0.2.1"]),
)
_USER = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()&=+$,;?/", min_size=1,
                max_size=12)
_PORT = st.one_of(st.none(), st.integers(1, 65535))
_URI_PARAMS = st.lists(st.tuples(_LABEL, st.one_of(st.none(), _LABEL)), max_size=3).map(tuple)
_URI = st.builds(SipUri, host=_HOST, user=st.one_of(st.none(), _USER), port=_PORT,
                 params=_URI_PARAMS, scheme=st.sampled_from(["sip", "sips"]))
# Header values: printable text (incl. non-ASCII), no CR/LF/NUL, no edge whitespace.
_VALUE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                 max_size=40).map(str.strip)


@st.composite
def requests(draw: st.DrawFn) -> SipRequest:
    method = draw(st.sampled_from(["INVITE", "REGISTER", "OPTIONS", "BYE", "X-CUSTOM"]))
    uri = draw(_URI)
    fields = [
        ("Via", f"SIP/2.0/UDP {draw(_LABEL)}.example.com:5060;branch=z9hG4bK{draw(_LABEL)}"),
        ("From", f'"{draw(_LABEL)}" <sip:{draw(_USER)}@example.com>;tag={draw(_LABEL)}'),
        ("To", f"<{uri}>"),
        ("Call-ID", draw(_LABEL) + "@" + draw(_LABEL)),
        ("CSeq", f"{draw(st.integers(0, 2**31 - 1))} {method}"),
        ("Max-Forwards", str(draw(st.integers(0, 255)))),
    ]
    extra = draw(st.lists(st.tuples(_TOKEN.map(lambda t: "X-" + t), _VALUE), max_size=5))
    body = draw(st.binary(max_size=200))
    return SipRequest(method, uri, Headers(fields + extra), body)


@st.composite
def responses(draw: st.DrawFn) -> SipResponse:
    request = draw(requests())
    code = draw(st.integers(100, 699))
    reason = draw(_VALUE)
    return request.make_response(code, reason, to_tag=draw(_LABEL),
                                 body=draw(st.binary(max_size=100)))


@given(requests())
def test_request_round_trip(request: SipRequest) -> None:
    again = parse_message(bytes(request))
    assert isinstance(again, SipRequest)
    assert again.method == request.method
    assert again.uri == request.uri
    assert again.body == request.body
    assert again.headers.without("Content-Length") == request.headers
    assert bytes(again) == bytes(request)
    validate_request(again)


@given(responses())
def test_response_round_trip(response: SipResponse) -> None:
    again = parse_message(bytes(response))
    assert isinstance(again, SipResponse)
    assert (again.status_code, again.reason, again.body) == (
        response.status_code, response.reason, response.body)
    assert again.headers.without("Content-Length") == response.headers
    validate_response(again)


@given(_URI)
def test_uri_round_trip(uri: SipUri) -> None:
    assert parse_uri(str(uri)) == uri


def _exercise(message: SipMessage) -> None:
    """Touch every accessor; each may only fail with RemoteProtocolError."""
    for accessor in ("via", "call_id", "cseq", "from_", "to", "contacts", "contact_star",
                     "expires", "max_forwards", "content_type"):
        with contextlib.suppress(RemoteProtocolError):
            getattr(message, accessor)
    try:
        for via in message.via:
            _ = via.branch, via.received, via.rport, via.has_rfc3261_branch, str(via)
    except RemoteProtocolError:
        pass
    for name in ("Route", "Record-Route"):
        with contextlib.suppress(RemoteProtocolError):
            message.name_addrs(name)
    for value in message.headers.get_all("Authorization"):
        with contextlib.suppress(RemoteProtocolError):
            parse_auth(value)
    try:
        if isinstance(message, SipRequest):
            validate_request(message, supported_extensions=())
        else:
            validate_response(message)
    except RemoteProtocolError:
        pass
    try:
        offer = SessionDescription.parse(message.body)
        bytes(offer)
        build_answer(offer, "192.0.2.1", 4000, session_id="1", session_version=1)
    except RemoteProtocolError:
        pass
    # Whatever we accepted, we write back in a form we accept again, identically.
    again = bytes(message)
    assert bytes(parse_message(again)) == again


def _check(data: bytes) -> None:
    try:
        message = parse_message(data)
    except RemoteProtocolError:
        pass
    else:
        _exercise(message)
    framer = StreamFramer()
    try:
        for i in range(0, len(data), 7):
            for item in framer.feed(data[i:i + 7]):
                with contextlib.suppress(RemoteProtocolError):
                    parse_message(item)
    except RemoteProtocolError:
        pass


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_remote_protocol_error(data: bytes) -> None:
    _check(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, max(0, len(data) - 1)))
        action = draw(st.sampled_from(["replace", "insert", "delete", "digits"]))
        if action == "replace" and data:
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.sampled_from(
                [b"\r\n", b" ", b"\t", b":", b";", b",", b"<", b">", b'"', b"\\", b"[",
                 b"]", b"%", b"=", b"@", b"\x00", b"\r\n ", b"\xff", b"99999999999999999999"]))
        elif action == "delete" and data:
            del data[position:position + draw(st.integers(1, 10))]
        elif action == "digits":
            data[position:position] = str(draw(st.integers(-(2**70), 2**70))).encode()
    return bytes(data)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_torture_messages_raise_only_remote_protocol_error(data: bytes) -> None:
    _check(data)


_SDP = (b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
        b"a=fmtp:101 0-15\r\na=sendonly\r\nm=video 5000 RTP/AVP 31\r\n")


@settings(max_examples=300)
@given(st.data())
def test_mutated_sdp_raises_only_sdp_errors(data: st.DataObject) -> None:
    body = bytearray(_SDP)
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(body) - 1))
        body[position:position + data.draw(st.integers(0, 3))] = data.draw(
            st.binary(max_size=4))
    try:
        offer = SessionDescription.parse(bytes(body))
        assert SessionDescription.parse(bytes(offer)) == offer
        build_answer(offer, "192.0.2.9", 4002, session_id="2", session_version=1)
    except RemoteProtocolError:
        pass
