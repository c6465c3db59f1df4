from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.sip.errors import LocalProtocolError, RemoteProtocolError
from softphone.sip.headers import (
    MAX_CSEQ,
    CSeq,
    Via,
    canonical_name,
    is_list_header,
    parse_auth,
    parse_cseq,
    parse_name_addr_list,
    parse_via,
    parse_vias,
    split_header_values,
)


@pytest.mark.parametrize(("name", "canonical"), [
    ("v", "Via"), ("VIA", "Via"), ("i", "Call-ID"), ("call-id", "Call-ID"), ("m", "Contact"),
    ("f", "From"), ("t", "To"), ("l", "Content-Length"), ("c", "Content-Type"),
    ("k", "Supported"), ("s", "Subject"), ("e", "Content-Encoding"), ("o", "Event"),
    ("u", "Allow-Events"), ("r", "Refer-To"), ("b", "Referred-By"),
    ("x", "Session-Expires"), ("y", "Identity"), ("cseq", "CSeq"),
    ("www-authenticate", "WWW-Authenticate"), ("X-Custom", "X-Custom"),
])
def test_canonical_names(name: str, canonical: str) -> None:
    assert canonical_name(name) == canonical


def test_list_headers_split_outside_quotes_and_brackets() -> None:
    assert is_list_header("m") and not is_list_header("Authorization")
    assert split_header_values('"a, b" <sip:x@y;p=1,2>, <sip:z@w>') == [
        '"a, b" <sip:x@y;p=1,2>', "<sip:z@w>"]
    with pytest.raises(RemoteProtocolError):
        split_header_values('"unterminated, <sip:x@y>')


def test_via_parts() -> None:
    via = parse_via("SIP/2.0/udp pc33.example.com:5066;branch=z9hG4bK776;rport;received=1.2.3.4")
    assert via == Via("UDP", "pc33.example.com", 5066,
                      (("branch", "z9hG4bK776"), ("rport", None), ("received", "1.2.3.4")))
    assert via.branch == "z9hG4bK776" and via.has_rfc3261_branch
    assert via.has_rport and via.rport is None
    assert via.received == "1.2.3.4" and via.sent_by == ("pc33.example.com", 5066)
    filled = via.with_param("rport", "40000")
    assert filled.rport == 40000
    assert str(filled) == ("SIP/2.0/UDP pc33.example.com:5066;branch=z9hG4bK776;rport=40000;"
                           "received=1.2.3.4")


def test_via_tolerates_lws_everywhere_the_abnf_allows_it() -> None:
    via = parse_via("SIP  /   2.0 /UDP     spindle.example.com : 5060  ;  branch  =   z9hG4bKx")
    assert (via.transport, via.host, via.port, via.branch) == (
        "UDP", "spindle.example.com", 5060, "z9hG4bKx")


def test_via_list_and_ipv6() -> None:
    vias = parse_vias(["SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bKa, SIP/2.0/UDP b;branch=c",
                       "SIP/2.0/TLS c.example.com"])
    assert [v.host for v in vias] == ["2001:db8::1", "b", "c.example.com"]
    assert str(vias[0]).startswith("SIP/2.0/TCP [2001:db8::1]:5060")


@pytest.mark.parametrize("text", [
    "", "SIP/2.0 host", "SIP/2.0/UDP", "SIP/2.0/UDP host:99999", "SIP/2.0/UDP host;;",
    "SIP/2.0/UDP host junk", "SIP/2.0/UDP [::1", "SIP/2.0/UDP host;branch=\"x",
])
def test_bad_vias(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_via(text)


def test_bad_rport_is_a_remote_error() -> None:
    with pytest.raises(RemoteProtocolError):
        _ = parse_via("SIP/2.0/UDP h;rport=99999").rport


def test_cseq_limits() -> None:
    assert parse_cseq("0009  INVITE") == CSeq(9, "INVITE")
    assert parse_cseq(f"{MAX_CSEQ} ACK").number == 2**31 - 1
    for text in (f"{MAX_CSEQ + 1} ACK", "18446744073709551616 INVITE", "-1 INVITE", "1",
                 "INVITE", "1 INV ITE"):
        with pytest.raises(RemoteProtocolError):
            parse_cseq(text)
    with pytest.raises(LocalProtocolError):
        CSeq(2**31, "INVITE")


def test_name_addr_list_keeps_order_and_header_params() -> None:
    values = parse_name_addr_list(['<sip:a@1.2.3.4>;expires=60;q=0.5, "B" <sip:b@h>',
                                   "sip:c@h;expires=0"])
    assert [v.param("expires") for v in values] == ["60", None, "0"]
    with pytest.raises(RemoteProtocolError):
        parse_name_addr_list(["<sip:a@b>,,<sip:c@d>"])


def test_digest_credentials_are_parsed_for_the_digest_module() -> None:
    credentials = parse_auth('Digest username="bob", realm="pbx", nonce="a,b", '
                             'uri="sip:pbx.example.com", response="0123", algorithm=MD5, '
                             'qop=auth, nc=00000001, cnonce="xyz"')
    assert credentials.scheme == "Digest"
    assert credentials.as_dict() == {
        "username": "bob", "realm": "pbx", "nonce": "a,b", "uri": "sip:pbx.example.com",
        "response": "0123", "algorithm": "MD5", "qop": "auth", "nc": "00000001",
        "cnonce": "xyz"}
    assert credentials.param("USERNAME") == "bob"
    assert parse_auth('Digest realm="a\\"b"').param("realm") == 'a"b'


@pytest.mark.parametrize("text", ['Digest realm="x', "Digest realm", '"x" a=b',
                                  "Digest a=b c", 'Digest a="x"y'])
def test_bad_auth_headers(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_auth(text)


@given(st.text(alphabet='Digest ,="\\\t\x00abcAZ09:/.-=_', max_size=60))
@settings(max_examples=500, deadline=None)
def test_auth_fast_path_agrees_with_the_careful_parser(text: str) -> None:
    from softphone.sip.headers import _parse_auth_careful, _parse_auth_fast

    fast = _parse_auth_fast(text)
    if fast is not None:  # whatever the fast path accepts, the careful parser reads the same
        assert _parse_auth_careful(text) == fast


@pytest.mark.parametrize("text", [
    'Digest username="201", realm="pbxweb", nonce="n", uri="sip:x", response="r", nc=00000001',
    'Digest realm="a b", nonce=x,qop="auth,auth-int"',
    'Digest  realm = "x" , nonce=y',
])
def test_auth_fast_path_takes_common_shapes(text: str) -> None:
    from softphone.sip.headers import _parse_auth_careful, _parse_auth_fast

    assert _parse_auth_fast(text) == _parse_auth_careful(text)


_names = st.text(alphabet="abcXYZ09-.!%*_+`'~", min_size=1, max_size=6)
_values = st.one_of(
    st.text(alphabet="abc09:/.=+", min_size=1, max_size=8),
    st.text(alphabet='ab ,=\\"\t\x01', max_size=8).map(lambda v: f'"{v}"'))
_space = st.sampled_from(["", " ", "\t", "  "])


@given(st.lists(st.tuples(_space, _names, _space, _values, _space), min_size=1, max_size=5),
       st.sampled_from([",", ", ", " ,"]))
@settings(max_examples=500, deadline=None)
def test_auth_fast_path_agrees_on_structured_lists(
        params: list[tuple[str, str, str, str, str]], comma: str) -> None:
    from softphone.sip.headers import _parse_auth_careful, _parse_auth_fast

    text = "Digest " + comma.join(f"{a}{n}{b}={c}{v}" for a, n, b, v, c in params)
    fast = _parse_auth_fast(text)
    try:
        careful = _parse_auth_careful(text)
    except RemoteProtocolError:
        assert fast is None
        return
    if fast is not None:
        assert fast == careful


def test_with_received_sets_rport_and_received_in_place_or_appends() -> None:
    from softphone.sip.headers import parse_via

    via = parse_via("SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK1")
    stamped = via.with_received("192.0.2.7", 40123)
    assert str(stamped) == ("SIP/2.0/UDP 10.0.0.5:5060;rport=40123;branch=z9hG4bK1"
                            ";received=192.0.2.7")
    plain = parse_via("SIP/2.0/TCP host.example;branch=z9hG4bK2;received=1.1.1.1")
    assert plain.with_received("2001:db8::1", None).received == "2001:db8::1"
    assert plain.with_received("2001:db8::1", None).rport is None
    with pytest.raises(LocalProtocolError):
        via.with_received("1.2.3.4;evil=1", None)
