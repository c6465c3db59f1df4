"""RFC 4475 and RFC 5118 torture messages, every file in MANIFEST.tsv, at the parser level.

``receive`` is what the engine does with a datagram before any application logic:
``parse_message`` then ``validate_request``/``validate_response``. Each manifest row has one
check below; where RFC 4475 allows a choice, the comment says which one we made.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from softphone.sip.errors import FramingError, RemoteProtocolError
from softphone.sip.framing import StreamFramer
from softphone.sip.headers import CSeq, parse_auth
from softphone.sip.message import SipMessage, SipRequest, SipResponse
from softphone.sip.parser import (
    KNOWN_METHODS,
    BadExtensionError,
    parse_message,
    validate_request,
    validate_response,
)
from softphone.sip.sdp import SessionDescription
from softphone.sip.uri import AbsoluteUri, SipUri, parse_uri, unescape, uri_equal

TORTURE = Path(__file__).resolve().parents[3] / ".." / "shared" / "testdata" / "sip-torture"
# Option tags a PBX UAS supports (for the Require check, §8.2.2.3).
SUPPORTED = frozenset({"replaces", "timer", "path", "outbound", "100rel"})


def _manifest() -> list[dict[str, str]]:
    with (TORTURE / "MANIFEST.tsv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


ROWS = _manifest()


@pytest.fixture(scope="module", autouse=True)
def _checksums_verified() -> None:
    """The bytes are the RFCs' own (REVIEW.md): check SHA256SUMS once per run."""
    for line in (TORTURE / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        name = name.lstrip("*")
        assert hashlib.sha256((TORTURE / name).read_bytes()).hexdigest() == digest, name


def data(name: str) -> bytes:
    return (TORTURE / name).read_bytes()


def receive(raw: bytes) -> SipMessage:
    message = parse_message(raw)
    if isinstance(message, SipRequest):
        return validate_request(message, supported_extensions=SUPPORTED)
    return validate_response(message)


def request(name: str) -> SipRequest:
    message = receive(data(name))
    assert isinstance(message, SipRequest)
    return message


def response(name: str) -> SipResponse:
    message = receive(data(name))
    assert isinstance(message, SipResponse)
    return message


def rejected(name: str, status: int) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        receive(data(name))
    assert info.value.status_hint == status, info.value
    return info.value


def stream_closes(name: str, status: int) -> None:
    """Over TCP the same framing error is unrecoverable: the framer says close."""
    with pytest.raises(FramingError) as info:
        StreamFramer().feed(data(name))
    assert info.value.status_hint == status


# --- RFC 4475 §3.1.1: valid messages -------------------------------------------------------


def check_wsinv() -> None:
    msg = request("rfc4475/wsinv.dat")
    assert msg.max_forwards == 68
    assert msg.cseq == CSeq(9, "INVITE")
    assert len(msg.via) == 3
    assert [v.transport for v in msg.via] == ["UDP", "TCP", "UDP"]
    assert msg.via[2].branch == "z9hG4bK30239"
    assert msg.headers.get("Subject") == ""
    assert msg.contacts[0].param("q") == "0.33"
    assert msg.contacts[0].display_name == 'Quoted string ""'
    assert msg.from_.display_name == 'J Rosenberg \\"'
    assert msg.from_.tag == "98asjd8"
    assert msg.to.tag == "1918181833n"
    # Unknown headers are kept (unfolded), not interpreted.
    assert msg.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert len(msg.body) == 150


def check_intmeth() -> None:
    msg = request("rfc4475/intmeth.dat")
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.method not in KNOWN_METHODS  # the application answers 501 with Allow
    assert isinstance(msg.uri, SipUri)
    assert msg.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert msg.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert msg.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert msg.from_.param("fromParam''~+*_!.-%") == "работающий"
    assert msg.from_.tag == "_token~1'+`*%!-."
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"


def check_esc01() -> None:
    msg = request("rfc4475/esc01.dat")
    assert isinstance(msg.uri, SipUri) and isinstance(msg.to.uri, SipUri)
    assert unescape(msg.uri.user or "") == "sips:user@example.com"
    assert unescape(msg.to.uri.user or "") == "user"
    assert uri_equal(msg.to.uri, parse_uri("sip:user@example.com"))
    contact = msg.contacts[0].uri
    assert isinstance(contact, SipUri)
    assert unescape(contact.user or "") == "caller"
    # Unescaped exactly once: value%41, not valueA.
    params = {unescape(k): unescape(v or "") for k, v in contact.params}
    assert params == {"lr": "", "name": "value%41"}


def check_escnull() -> None:
    msg = request("rfc4475/escnull.dat")
    assert isinstance(msg.to.uri, SipUri)
    assert unescape(msg.to.uri.user or "") == "null-\x00-null"  # not truncated at %00
    first, second = (c.uri for c in msg.contacts)
    assert isinstance(first, SipUri) and isinstance(second, SipUri)
    assert unescape(first.user or "") == "\x00"
    assert unescape(second.user or "") == "\x00\x00"
    assert not uri_equal(first, second)


def check_esc02() -> None:
    msg = request("rfc4475/esc02.dat")
    assert msg.method == "RE%47IST%45R" and msg.method != "REGISTER"
    assert msg.method not in KNOWN_METHODS  # -> 501 with Allow
    assert len(msg.contacts) == 2
    assert msg.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert msg.to.display_name == "%Z%45"


def check_lwsdisp() -> None:
    assert request("rfc4475/lwsdisp.dat").from_.display_name == "caller"


def check_longreq() -> None:
    msg = request("rfc4475/longreq.dat")
    assert len(msg.via) == 34
    assert msg.to.display_name is not None and msg.to.display_name.endswith("proportion")
    assert "extreme" * 10 in msg.to.display_name
    assert isinstance(msg.to.uri, SipUri) and msg.to.uri.port == 6000
    assert msg.from_.tag is not None and len(msg.from_.tag) > 100  # kept whole
    assert len(msg.call_id) > 100


def check_dblreq() -> None:
    # RFC 3261 §18.3: octets after the Content-Length body are discarded.
    msg = request("rfc4475/dblreq.dat")
    assert msg.method == "REGISTER" and msg.body == b""


def check_semiuri() -> None:
    msg = request("rfc4475/semiuri.dat")
    assert isinstance(msg.uri, SipUri)
    assert unescape(msg.uri.user or "") == "user;par=u@example.net"
    assert msg.uri.host == "example.com" and msg.uri.params == ()


def check_transports() -> None:
    msg = request("rfc4475/transports.dat")
    assert [v.transport for v in msg.via] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def check_mpart01() -> None:
    msg = request("rfc4475/mpart01.dat")
    assert msg.content_type == "multipart/mixed"
    assert len(msg.body) == 553
    assert b"\x00" in msg.body


def check_unreason() -> None:
    msg = response("rfc4475/unreason.dat")
    assert msg.status_code == 200 and "простое" in msg.reason


def check_noreason() -> None:
    msg = response("rfc4475/noreason.dat")
    assert msg.status_code == 100 and msg.reason == ""


# --- RFC 4475 §3.1.2: invalid messages -----------------------------------------------------


def check_badinv01() -> None:
    rejected("rfc4475/badinv01.dat", 400)


def check_clerr() -> None:
    rejected("rfc4475/clerr.dat", 400)  # UDP
    framer = StreamFramer()  # TCP: wait for the missing octets (the transport times out)
    assert framer.feed(data("rfc4475/clerr.dat")) == []
    assert not framer.at_message_boundary


def check_ncl() -> None:
    rejected("rfc4475/ncl.dat", 400)
    stream_closes("rfc4475/ncl.dat", 400)


def check_scalar02() -> None:
    error = rejected("rfc4475/scalar02.dat", 400)
    assert "CSeq" in str(error)


def check_scalarlg() -> None:
    rejected("rfc4475/scalarlg.dat", 400)  # a response: the client drops it


def check_quotbal() -> None:
    rejected("rfc4475/quotbal.dat", 400)  # choice: 400, no guessing of the closing quote


def check_ltgtruri() -> None:
    rejected("rfc4475/ltgtruri.dat", 400)  # choice: 400


def check_lwsruri() -> None:
    rejected("rfc4475/lwsruri.dat", 400)  # choice: 400


def check_lwsstart() -> None:
    rejected("rfc4475/lwsstart.dat", 400)  # choice: 400


def check_trws() -> None:
    rejected("rfc4475/trws.dat", 400)  # choice: 400


def check_escruri() -> None:
    rejected("rfc4475/escruri.dat", 400)  # choice: 400 (no headers in a Request-URI)


def check_baddate() -> None:
    # Choice: Date does not matter to us, so it is ignored and the request processed.
    msg = request("rfc4475/baddate.dat")
    assert msg.headers.get("Date", "").endswith("EST")


def check_regbadct() -> None:
    rejected("rfc4475/regbadct.dat", 400)  # choice: 400 (no inferring of the <>)


def check_badaspec() -> None:
    # Choice: the spaces inside < > are ignored.
    msg = request("rfc4475/badaspec.dat")
    assert msg.to.uri == parse_uri("sip:t.watson@example.org")


def check_baddn() -> None:
    # The archive copy has no empty line after the headers: over UDP our choice is 400.
    rejected("rfc4475/baddn.dat", 400)
    # The full message: choice 400 (no inferring of quotes around "Bell, Alexander").
    rejected("rfc4475_variants/baddn_with_final_crlf.dat", 400)
    # Over TCP the archive copy is simply incomplete: the framer waits.
    assert StreamFramer().feed(data("rfc4475/baddn.dat")) == []


def check_badvers() -> None:
    rejected("rfc4475/badvers.dat", 505)


def check_mismatch01() -> None:
    rejected("rfc4475/mismatch01.dat", 400)


def check_mismatch02() -> None:
    rejected("rfc4475/mismatch02.dat", 501)  # choice: 501 (preferred by the RFC)


def check_bigcode() -> None:
    rejected("rfc4475/bigcode.dat", 400)  # dropped by a client; no overflow


# --- §3.2 transaction, §3.3 semantic, §3.4 compatibility -----------------------------------


def check_badbranch() -> None:
    # Choice: accepted; the bare cookie is not an RFC 3261 branch, so the transaction layer
    # matches it the RFC 2543 way (Via.has_rfc3261_branch is the switch).
    msg = request("rfc4475/badbranch.dat")
    assert msg.branch == "z9hG4bK"
    assert not msg.top_via.has_rfc3261_branch


def check_insuf() -> None:
    rejected("rfc4475/insuf.dat", 400)


def check_unkscm() -> None:
    msg = parse_message(data("rfc4475/unkscm.dat"))  # well-formed
    assert isinstance(msg, SipRequest) and isinstance(msg.uri, AbsoluteUri)
    assert msg.uri.scheme == "nobodyknowsthisscheme"
    rejected("rfc4475/unkscm.dat", 416)


def check_novelsc() -> None:
    msg = parse_message(data("rfc4475/novelsc.dat"))
    assert isinstance(msg, SipRequest) and msg.uri.scheme == "soap.beep"
    rejected("rfc4475/novelsc.dat", 416)


def check_unksm2() -> None:
    msg = request("rfc4475/unksm2.dat")  # well-formed; the registrar answers 400
    assert msg.to.uri.scheme == "isbn"
    assert msg.from_.uri.scheme == "http"
    assert msg.contacts[0].uri.scheme == "name"


def check_bext01() -> None:
    error = rejected("rfc4475/bext01.dat", 420)
    assert isinstance(error, BadExtensionError)
    assert error.unsupported == ("nothingSupportsThis", "nothingSupportsThisEither")


def check_invut() -> None:
    # The UAS answers 415 with Accept: the parser only reports the type.
    assert request("rfc4475/invut.dat").content_type == "application/unknownformat"


def check_regaut01() -> None:
    msg = request("rfc4475/regaut01.dat")
    credentials = parse_auth(msg.headers.get("Authorization") or "")
    assert credentials.scheme == "NoOneKnowsThisScheme"  # not Digest: challenge again (401)
    assert credentials.param("opaque-data") == "here"


def check_multi01() -> None:
    rejected("rfc4475/multi01.dat", 400)


def check_mcl01() -> None:
    rejected("rfc4475/mcl01.dat", 400)
    stream_closes("rfc4475/mcl01.dat", 400)


def check_bcast() -> None:
    msg = response("rfc4475/bcast.dat")  # well-formed; routing never sends to broadcast
    assert msg.via[1].host == "255.255.255.255"


def check_zeromf() -> None:
    assert request("rfc4475/zeromf.dat").max_forwards == 0


def check_cparam01() -> None:
    contact = request("rfc4475/cparam01.dat").contacts[0]
    assert contact.param("unknownparam") == ""  # a contact-param...
    assert isinstance(contact.uri, SipUri) and contact.uri.params == ()  # ...not a URI param


def check_cparam02() -> None:
    contact = request("rfc4475/cparam02.dat").contacts[0]
    assert contact.params == ()
    assert isinstance(contact.uri, SipUri) and contact.uri.has_param("unknownparam")
    assert str(contact.uri) == "sip:+19725552222@gw1.example.net;unknownparam"


def check_regescrt() -> None:
    contact = request("rfc4475/regescrt.dat").contacts[0].uri
    assert isinstance(contact, SipUri)
    assert contact.headers == (("Route", "%3Csip:sip.example.com%3E"),)
    assert str(contact) == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"


def check_sdp01() -> None:
    # Parses; the INVITE handler answers 406 (choice) because Accept excludes SDP.
    msg = request("rfc4475/sdp01.dat")
    assert msg.headers.values("Accept") == ["text/nobodyKnowsThis"]


def check_inv2543() -> None:
    # Choice: accepted for RFC 2543 compatibility: no branch, no tags, no Max-Forwards,
    # no Content-Length (the body is the rest of the datagram, §18.3).
    raw = data("rfc4475/inv2543.dat")
    msg = request("rfc4475/inv2543.dat")
    assert msg.branch is None and msg.from_tag is None and msg.max_forwards is None
    assert "Content-Length" not in msg.headers
    assert msg.body == raw[raw.index(b"\r\n\r\n") + 4:]
    assert SessionDescription.parse(msg.body).media[0].media == "audio"


def check_test() -> None:
    rejected("rfc4475/test.dat", 400)  # choice (no RFC expectation): 400, no crash


# --- RFC 5118 --------------------------------------------------------------------------------


def check_ipv6_good() -> None:
    msg = request("rfc5118/wire/ipv6-good.sip")
    assert isinstance(msg.uri, SipUri) and msg.uri.host == "2001:db8::10"
    assert str(msg.uri) == "sip:[2001:db8::10]"
    assert msg.top_via.sent_by == ("2001:db8::9:1", None)
    assert isinstance(msg.contacts[0].uri, SipUri)
    assert msg.contacts[0].uri.host == "2001:db8::1"


def check_ipv6_bad() -> None:
    rejected("rfc5118/wire/ipv6-bad.sip", 400)


def check_port_ambiguous() -> None:
    msg = request("rfc5118/wire/port-ambiguous.sip")
    assert isinstance(msg.uri, SipUri)
    assert msg.uri.host == "2001:db8::10:5070" and msg.uri.port is None  # erratum 1311


def check_port_unambiguous() -> None:
    msg = request("rfc5118/wire/port-unambiguous.sip")
    assert isinstance(msg.uri, SipUri)
    assert (msg.uri.host, msg.uri.port) == ("2001:db8::10", 5070)


def check_received_with_delim() -> None:
    via = request("rfc5118/wire/via-received-param-with-delim.sip").top_via
    assert via.received == "2001:db8::9:255"


def check_received_no_delim() -> None:
    via = request("rfc5118/wire/via-received-param-no-delim.sip").top_via
    assert via.received == "2001:db8::9:255"
    assert str(via.with_param("received", "2001:db8::1")).count("[") == 1  # sent-by only


def check_ipv6_in_sdp() -> None:
    sdp = SessionDescription.parse(request("rfc5118/wire/ipv6-in-sdp.sip").body)
    assert sdp.origin.address == "2001:db8::20" and sdp.origin.addr_type == "IP6"
    assert sdp.connection is not None and sdp.connection.address == "2001:db8::20"
    assert b"[" not in bytes(sdp)


def check_mult_ip_in_header() -> None:
    vias = request("rfc5118/wire/mult-ip-in-header.sip").via
    assert [(v.host, v.port, v.transport) for v in vias] == [
        ("2001:db8::9:1", 6050, "UDP"), ("192.0.2.1", None, "UDP"),
        ("2001:db8::9:255", None, "TCP")]
    assert vias[2].received == "192.0.2.200"


def check_mult_ip_in_sdp() -> None:
    sdp = SessionDescription.parse(request("rfc5118/wire/mult-ip-in-sdp.sip").body)
    assert sdp.connection is None
    assert [str(sdp.media_connection(i)) for i in range(2)] == [
        "IN IP4 192.0.2.1", "IN IP6 2001:db8::1"]


def check_ipv4_mapped() -> None:
    msg = request("rfc5118/wire/ipv4-mapped-ipv6.sip")
    assert [v.sent_by for v in msg.via] == [("::ffff:192.0.2.10", 19823),
                                           ("::ffff:192.0.2.2", None)]
    assert isinstance(msg.contacts[0].uri, SipUri)
    assert msg.contacts[0].uri.host == "::ffff:192.0.2.2"
    sdp = SessionDescription.parse(msg.body)
    assert sdp.connection is not None and sdp.connection.address == "::ffff:192.0.2.2"


def check_three_colons() -> None:
    # Must be accepted; our choice when re-emitting: normalised to the RFC 4291 form.
    msg = request("rfc5118/wire/ipv6-bug-abnf-3-colons.sip")
    assert isinstance(msg.uri, SipUri) and msg.uri.host == "2001:db8::192.0.2.1"
    assert str(msg.uri) == "sip:user@[2001:db8::192.0.2.1]"


def check_two_colons() -> None:
    msg = request("rfc5118/wire/ipv6-correct-abnf-2-colons.sip")
    assert isinstance(msg.uri, SipUri) and msg.uri.host == "2001:db8::192.0.2.1"
    assert uri_equal(msg.uri, parse_uri("sip:user@[2001:db8:0::192.0.2.1]"))


CHECKS: dict[str, Callable[[], None]] = {
    "rfc4475/wsinv.dat": check_wsinv,
    "rfc4475/intmeth.dat": check_intmeth,
    "rfc4475/esc01.dat": check_esc01,
    "rfc4475/escnull.dat": check_escnull,
    "rfc4475/esc02.dat": check_esc02,
    "rfc4475/lwsdisp.dat": check_lwsdisp,
    "rfc4475/longreq.dat": check_longreq,
    "rfc4475/dblreq.dat": check_dblreq,
    "rfc4475/semiuri.dat": check_semiuri,
    "rfc4475/transports.dat": check_transports,
    "rfc4475/mpart01.dat": check_mpart01,
    "rfc4475/unreason.dat": check_unreason,
    "rfc4475/noreason.dat": check_noreason,
    "rfc4475/badinv01.dat": check_badinv01,
    "rfc4475/clerr.dat": check_clerr,
    "rfc4475/ncl.dat": check_ncl,
    "rfc4475/scalar02.dat": check_scalar02,
    "rfc4475/scalarlg.dat": check_scalarlg,
    "rfc4475/quotbal.dat": check_quotbal,
    "rfc4475/ltgtruri.dat": check_ltgtruri,
    "rfc4475/lwsruri.dat": check_lwsruri,
    "rfc4475/lwsstart.dat": check_lwsstart,
    "rfc4475/trws.dat": check_trws,
    "rfc4475/escruri.dat": check_escruri,
    "rfc4475/baddate.dat": check_baddate,
    "rfc4475/regbadct.dat": check_regbadct,
    "rfc4475/badaspec.dat": check_badaspec,
    "rfc4475/baddn.dat": check_baddn,
    "rfc4475/badvers.dat": check_badvers,
    "rfc4475/mismatch01.dat": check_mismatch01,
    "rfc4475/mismatch02.dat": check_mismatch02,
    "rfc4475/bigcode.dat": check_bigcode,
    "rfc4475/badbranch.dat": check_badbranch,
    "rfc4475/insuf.dat": check_insuf,
    "rfc4475/unkscm.dat": check_unkscm,
    "rfc4475/novelsc.dat": check_novelsc,
    "rfc4475/unksm2.dat": check_unksm2,
    "rfc4475/bext01.dat": check_bext01,
    "rfc4475/invut.dat": check_invut,
    "rfc4475/regaut01.dat": check_regaut01,
    "rfc4475/multi01.dat": check_multi01,
    "rfc4475/mcl01.dat": check_mcl01,
    "rfc4475/bcast.dat": check_bcast,
    "rfc4475/zeromf.dat": check_zeromf,
    "rfc4475/cparam01.dat": check_cparam01,
    "rfc4475/cparam02.dat": check_cparam02,
    "rfc4475/regescrt.dat": check_regescrt,
    "rfc4475/sdp01.dat": check_sdp01,
    "rfc4475/inv2543.dat": check_inv2543,
    "rfc4475/test.dat": check_test,
    "rfc5118/wire/ipv6-good.sip": check_ipv6_good,
    "rfc5118/wire/ipv6-bad.sip": check_ipv6_bad,
    "rfc5118/wire/port-ambiguous.sip": check_port_ambiguous,
    "rfc5118/wire/port-unambiguous.sip": check_port_unambiguous,
    "rfc5118/wire/via-received-param-with-delim.sip": check_received_with_delim,
    "rfc5118/wire/via-received-param-no-delim.sip": check_received_no_delim,
    "rfc5118/wire/ipv6-in-sdp.sip": check_ipv6_in_sdp,
    "rfc5118/wire/mult-ip-in-header.sip": check_mult_ip_in_header,
    "rfc5118/wire/mult-ip-in-sdp.sip": check_mult_ip_in_sdp,
    "rfc5118/wire/ipv4-mapped-ipv6.sip": check_ipv4_mapped,
    "rfc5118/wire/ipv6-bug-abnf-3-colons.sip": check_three_colons,
    "rfc5118/wire/ipv6-correct-abnf-2-colons.sip": check_two_colons,
}


def test_every_manifest_row_has_a_check() -> None:
    assert sorted(CHECKS) == sorted(row["file"] for row in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
def test_torture_message(row: dict[str, str]) -> None:
    CHECKS[row["file"]]()


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
def test_accepted_messages_survive_a_round_trip(row: dict[str, str]) -> None:
    try:
        message = receive(data(row["file"]))
    except RemoteProtocolError:
        return
    again = receive(bytes(message))
    assert bytes(again) == bytes(message)
    assert again.body == message.body
    if isinstance(message, SipRequest):
        assert isinstance(again, SipRequest)
        assert (again.method, again.uri) == (message.method, message.uri)
    assert [v for v in again.headers if v[0] != "Content-Length"] == [
        v for v in message.headers if v[0] != "Content-Length"]
