"""The registrar's hot path has shortcuts for the common shapes; each must agree with the
careful code it skips (hypothesis), and the transaction layer's memory trim must not change
what a retransmission gets."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from softphone.sip import _abnf
from softphone.sip.errors import RemoteProtocolError
from softphone.sip.headers import Via, parse_via
from softphone.sip.message import SipRequest
from softphone.sip.parser import parse_message, validate_request
from softphone.sip.transaction import RequestReceived, Send
from softphone.sip.transaction_layer import TransactionLayer
from softphone.sip.uri import SipUri, _parse_host, parse_name_addr

# Characters that steer the scanners: separators, quotes, brackets, escapes, whitespace.
_TRICKY = st.text(alphabet='ab=;,<>" \\\t.:', max_size=24)


def _outcome(function: object, *args: object) -> object:
    try:
        return function(*args)  # type: ignore[operator]
    except RemoteProtocolError:
        return RemoteProtocolError


@given(_TRICKY, st.sampled_from([",", ";"]))
def test_split_shortcuts_agree_with_the_scanner(text: str, separator: str) -> None:
    assert _outcome(_abnf.split_top_level, text, separator) == \
        _outcome(_abnf._split_scanning, text, separator)


@given(st.lists(st.tuples(st.text("abcXYZ019-.!%*_+`'~", min_size=1, max_size=6),
                          st.one_of(st.none(), st.text("abz09-.:[]%'~", max_size=6))),
                min_size=1, max_size=4))
def test_plain_parameters_read_as_the_careful_parser_reads_them(
        params: list[tuple[str, str | None]]) -> None:
    text = "".join(f";{name}" if value is None else f";{name}={value}"
                   for name, value in params)
    if _abnf._PLAIN_PARAMS.fullmatch(text):
        assert _abnf._plain_params(text) == _abnf._parse_params_careful(text)
    else:  # an empty value: the careful parser refuses it, and so does parse_params
        assert _outcome(_abnf.parse_params, text) is RemoteProtocolError


@given(_TRICKY.map(lambda text: ";" + text))
def test_parameters_fast_or_careful_same_answer(text: str) -> None:
    assert _outcome(_abnf.parse_params, text) == _outcome(_abnf._parse_params_careful, text)


# The Via grammar in one expression, as it was before the sent-by part got its own cache.
_WHOLE_VIA = re.compile(
    rf"(?P<name>{_abnf.TOKEN.pattern})\s*/\s*(?P<version>{_abnf.TOKEN.pattern})\s*/\s*"
    rf"(?P<transport>{_abnf.TOKEN.pattern})\s+"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_\-.]+)(?:\s*:\s*(?P<port>\d{1,5}))?\s*"
    r"(?P<params>;.*)?", re.DOTALL)


def _via_in_one_match(text: str) -> Via:
    match = _WHOLE_VIA.fullmatch(text.strip(_abnf.WSP))
    if match is None:
        raise RemoteProtocolError("bad Via")
    port = int(match["port"]) if match["port"] is not None else None
    if port is not None and not 0 < port <= 65535:
        raise RemoteProtocolError("Via port out of range")
    params = _abnf.parse_params(match["params"]) if match["params"] else ()
    return Via(match["transport"].upper(), _parse_host(match["host"]), port, params,
               match["name"].upper(), match["version"])


@given(st.sampled_from(["SIP/2.0/UDP", "SIP / 2.0 / tcp", "sip/2.0/TLS", "SIP/2.0"]),
       st.sampled_from([" ", "  ", "\t"]),
       st.sampled_from(["192.0.2.1", "[2001:db8::1]", "pbx.example.com", "a;b", "300.1.1.1"]),
       st.sampled_from(["", ":5060", " : 5061", ":0", ":99999"]),
       st.sampled_from(["", ";branch=z9hG4bK1;rport", " ;received=192.0.2.9", ";;", ";a=\"x\""]))
def test_via_parses_as_one_whole_match_did(protocol: str, space: str, host: str, port: str,
                                           params: str) -> None:
    text = f"{protocol}{space}{host}{port}{params}"
    assert _outcome(parse_via, text) == _outcome(_via_in_one_match, text)


def test_a_from_with_tag_is_parsed_once_per_exchange() -> None:
    text = "<sip:201@pbx.example.com>;tag=a73kszlfl"
    first, again = parse_name_addr(text), parse_name_addr(text)
    assert first is again and first.tag == "a73kszlfl"
    assert isinstance(first.uri, SipUri) and str(first.uri) == "sip:201@pbx.example.com"


REGISTER = (b"REGISTER sip:pbx.example.com SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bK77ef;rport\r\n"
            b"From: <sip:201@pbx.example.com>;tag=f1\r\nTo: <sip:201@pbx.example.com>\r\n"
            b"Call-ID: c1@192.0.2.5\r\nCSeq: 7 REGISTER\r\n"
            b"Contact: <sip:201@192.0.2.5:5060>\r\nContent-Length: 0\r\n\r\n")


def _register() -> SipRequest:
    request = parse_message(REGISTER)
    assert isinstance(request, SipRequest)
    return validate_request(request)


def test_forgotten_parsed_views_come_back_the_same() -> None:
    request = _register()
    views = (request.via, request.cseq, request.from_, request.to, request.contacts,
             request.call_id, request.headers.get("Contact"))
    request.forget_parsed()
    assert (request.via, request.cseq, request.from_, request.to, request.contacts,
            request.call_id, request.headers.get("Contact")) == views


def test_a_completed_udp_transaction_still_answers_retransmissions() -> None:
    layer = TransactionLayer()
    [received] = layer.receive_request(_register(), "peer", reliable=False, now=0.0)
    assert isinstance(received, RequestReceived) and received.transaction is not None
    response = received.request.make_response(200, to_tag="t1")
    layer.send_response(received.transaction, response, now=0.1)
    assert not received.request._cache  # kept 32 s for Timer J, without its parsed views
    # A retransmission (a new parse of the same bytes) meets the completed transaction.
    [resent] = layer.receive_request(_register(), "peer", reliable=False, now=1.0)
    assert isinstance(resent, Send) and resent.message is response
    # The completed transaction dropped its request's parsed views; they read the same.
    assert received.request.cseq.number == 7 and received.request.to_tag is None
