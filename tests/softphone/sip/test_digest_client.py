"""The client side of digest (a trunk answering its carrier's challenge), checked against the
server side of this library and against RFC 7616 §3.9.1's worked example."""

from __future__ import annotations

import pytest

from softphone.sip.digest import (
    DigestAuthenticator,
    StoredHa1,
    answer_challenge,
    ha1_md5,
    ha1_sha256,
)
from softphone.sip.errors import RemoteProtocolError
from softphone.sip.headers import parse_auth


def test_rfc_7616_example_response_md5() -> None:
    # RFC 7616 §3.9.1 (MD5, qop=auth): the response value is 8ca523f5e9506fed4657c9700eebdbec.
    challenge = {"realm": "http-auth@example.org", "qop": "auth, auth-int",
                 "algorithm": "MD5", "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                 "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"}
    value = answer_challenge(challenge, method="GET", uri="/dir/index.html",
                             username="Mufasa", password="Circle of Life",
                             cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    params = parse_auth(value).as_dict()
    assert params["response"] == "8ca523f5e9506fed4657c9700eebdbec"
    assert params["qop"] == "auth" and params["nc"] == "00000001"
    assert params["opaque"] == challenge["opaque"]


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_our_answer_passes_our_own_server_check(algorithm: str) -> None:
    server = DigestAuthenticator("carrier", b"k" * 32, now=1000.0, algorithms=(algorithm,))
    (challenge,) = server.challenges(1000.0)
    value = answer_challenge(parse_auth(challenge.header_value()).as_dict(),
                             method="INVITE", uri="sip:+3250123456@carrier", username="trunk1",
                             password="s3cret")
    result = server.verify(
        parse_auth(value).as_dict(), "INVITE",
        StoredHa1(ha1_md5("trunk1", "carrier", "s3cret"),
                  ha1_sha256("trunk1", "carrier", "s3cret")), now=1001.0)
    assert result.ok, result


def test_a_challenge_without_nonce_or_with_an_unknown_algorithm_is_refused() -> None:
    with pytest.raises(RemoteProtocolError):
        answer_challenge({"realm": "x"}, method="INVITE", uri="sip:x", username="u",
                         password="p")
    with pytest.raises(RemoteProtocolError):
        answer_challenge({"realm": "x", "nonce": "n", "algorithm": "SHA-512-256"},
                         method="INVITE", uri="sip:x", username="u", password="p")
