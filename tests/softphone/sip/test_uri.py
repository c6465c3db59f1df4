from __future__ import annotations

import pytest

from softphone.sip.errors import LocalProtocolError, RemoteProtocolError
from softphone.sip.uri import (
    AbsoluteUri,
    NameAddr,
    SipUri,
    TelUri,
    escape,
    parse_name_addr,
    parse_uri,
    unescape,
    uri_equal,
)


def test_full_sip_uri_is_split_into_its_parts() -> None:
    uri = parse_uri("sips:alice:secret@Atlanta.example.com:5061;transport=TCP;lr?subject=hi&x=1")
    assert uri == SipUri(host="Atlanta.example.com", user="alice", password="secret",
                         port=5061, params=(("transport", "TCP"), ("lr", None)),
                         headers=(("subject", "hi"), ("x", "1")), scheme="sips")
    assert isinstance(uri, SipUri)
    assert uri.transport == "tcp" and uri.lr and uri.maddr is None


def test_scheme_is_case_insensitive() -> None:
    assert parse_uri("SIP:bob@example.com").scheme == "sip"


def test_ipv6_reference_loses_brackets_and_gets_them_back() -> None:
    uri = parse_uri("sip:[::1]:5070;transport=udp")
    assert isinstance(uri, SipUri)
    assert (uri.host, uri.port, uri.is_ipv6) == ("::1", 5070, True)
    assert str(uri) == "sip:[::1]:5070;transport=udp"


@pytest.mark.parametrize("text", [
    "sip:", "sip:@example.com", "sip:bob@", "sip:bob@exa mple.com", "sip:bob@example.com:0",
    "sip:bob@example.com:65536", "sip:bob@[::1", "sip:bob@[nothex]", "sip:2001:db8::1",
    "sip:bob@256.1.1.1", "<sip:bob@example.com>", "nocolon", ":x", "tel:", "tel:xyz;x",
    "sip:bob@example.com;", "sip:bob@example.com?x",
])
def test_malformed_uris_are_remote_errors(text: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_uri(text)
    assert info.value.status_hint == 400


def test_request_uri_of_unknown_scheme_is_416_only_when_asked() -> None:
    assert parse_uri("im:alice@example.com") == AbsoluteUri("im", "alice@example.com")
    with pytest.raises(RemoteProtocolError) as info:
        parse_uri("im:alice@example.com", schemes=("sip", "sips"))
    assert info.value.status_hint == 416


def test_tel_uri() -> None:
    uri = parse_uri("tel:+32-2-555-0100;phone-context=example.com")
    assert isinstance(uri, TelUri)
    assert uri.is_global and uri.digits == "+3225550100"
    assert uri.param("phone-context") == "example.com"
    assert str(uri) == "tel:+32-2-555-0100;phone-context=example.com"


def test_escapes_are_decoded_once() -> None:
    assert unescape("value%25%34%31") == "value%41"
    assert unescape("%Z%45") == "%ZE"
    assert unescape("a%00b") == "a\x00b"
    assert escape("a b@c") == "a%20b%40c"


# RFC 3261 §19.1.4, the RFC's own examples.
@pytest.mark.parametrize(("a", "b"), [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
     "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
    ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
     "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
    ("sip:[2001:db8::10]", "sip:[2001:DB8:0::10]"),
    ("tel:+1-201-555-0123", "tel:+1.201.555.0123"),
])
def test_equivalent_uris(a: str, b: str) -> None:
    assert uri_equal(parse_uri(a), parse_uri(b))
    assert uri_equal(parse_uri(b), parse_uri(a))


@pytest.mark.parametrize(("a", "b"), [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;newparam=6"),
    ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
    ("sip:alice@atlanta.com", "tel:+1234"),
])
def test_different_uris(a: str, b: str) -> None:
    assert not uri_equal(parse_uri(a), parse_uri(b))


def test_name_addr_forms() -> None:
    quoted = parse_name_addr('"Alice \\"A\\" Liddell" <sip:alice@example.com;lr>;tag=1a')
    assert quoted.display_name == 'Alice "A" Liddell'
    assert quoted.tag == "1a"
    assert isinstance(quoted.uri, SipUri) and quoted.uri.lr  # URI param stays in the URI
    tokens = parse_name_addr("Bob Smith <sip:bob@example.com>")
    assert tokens.display_name == "Bob Smith" and tokens.params == ()
    spec = parse_name_addr("sip:carol@example.com;tag=x;expires=60")
    assert spec.display_name is None and spec.tag == "x" and spec.param("expires") == "60"
    assert isinstance(spec.uri, SipUri) and spec.uri.params == ()


@pytest.mark.parametrize("text", [
    '"unterminated <sip:a@b>', "Bell, Alexander <sip:a@b>", "<sip:a@b", '"x" sip:a@b',
    "sip:a@b?Route=x", "<sip:a@b>;;", "<sip:a@b>;=1", "<sip:a@b>junk",
])
def test_bad_name_addrs(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_name_addr(text)


def test_name_addr_serializes_in_angle_brackets_and_adds_tags() -> None:
    value = NameAddr(parse_uri("sip:a@example.com;transport=tcp"), "A \"B\"")
    assert str(value.with_tag("xyz")) == '"A \\"B\\"" <sip:a@example.com;transport=tcp>;tag=xyz'
    assert parse_name_addr(str(value)) == value
    with pytest.raises(LocalProtocolError):
        value.with_param("tag", "a b")


def test_uri_objects_refuse_injection() -> None:
    with pytest.raises(LocalProtocolError):
        SipUri(host="example.com\r\nVia: x")
    with pytest.raises(LocalProtocolError):
        SipUri(host="example.com", user="a>b")
    with pytest.raises(LocalProtocolError):
        SipUri(host="example.com", port=70000)


def test_sip_uri_param_helpers() -> None:
    uri = parse_uri("sip:a@b;transport=udp;lr")
    assert isinstance(uri, SipUri)
    assert str(uri.with_params(transport="tcp", ob=None)) == "sip:a@b;lr;transport=tcp;ob"
    assert str(uri.without_params("lr")) == "sip:a@b;transport=udp"
