"""Server digest authentication (softphone.sip.digest): RFC 7616 vectors, nonces, replay."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.sip.digest import (
    DigestAlgorithm,
    DigestAuthenticator,
    DigestChallenge,
    DigestOutcome,
    NonceCounter,
    StoredHa1,
    ha1_md5,
    ha1_sha256,
)

REALM = "pbx.example.test"
SECRET = b"0123456789abcdef0123456789abcdef"
PASSWORD = "correct horse"
USER = "201"
URI = "sip:pbx.example.test"
T0 = 1_800_000_000.0  # wall-clock seconds


def stored(user: str = USER, password: str = PASSWORD, realm: str = REALM) -> StoredHa1:
    return StoredHa1(ha1_md5(user, realm, password), ha1_sha256(user, realm, password))


def client_response(algorithm: DigestAlgorithm, *, nonce: str, user: str = USER,
                    password: str = PASSWORD, realm: str = REALM, method: str = "REGISTER",
                    uri: str = URI, nc: int = 1, cnonce: str = "c0ffee",
                    qop: str | None = "auth") -> dict[str, str]:
    """What a phone puts in its Authorization header (written from RFC 7616 §3.4.1)."""
    h = {DigestAlgorithm.MD5: "md5", DigestAlgorithm.SHA256: "sha256"}[algorithm]

    def digest(text: str) -> str:
        return hashlib.new(h, text.encode()).hexdigest()

    ha1 = digest(f"{user}:{realm}:{password}")
    ha2 = digest(f"{method}:{uri}")
    params = {"username": user, "realm": realm, "nonce": nonce, "uri": uri,
              "algorithm": str(algorithm)}
    if qop is None:
        params["response"] = digest(f"{ha1}:{nonce}:{ha2}")
    else:
        nc_text = f"{nc:08x}"
        params |= {"qop": qop, "nc": nc_text, "cnonce": cnonce,
                   "response": digest(f"{ha1}:{nonce}:{nc_text}:{cnonce}:{qop}:{ha2}")}
    return params


@pytest.fixture
def auth() -> DigestAuthenticator:
    return DigestAuthenticator(REALM, SECRET, now=T0)


def test_rfc7616_example_vectors() -> None:
    # RFC 7616 §3.9.1: user Mufasa, password "Circle of Life", GET /dir/index.html.
    realm = "http-auth@example.org"
    nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    expected = {DigestAlgorithm.MD5: "8ca523f5e9506fed4657c9700eebdbec",
                DigestAlgorithm.SHA256:
                    "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"}
    for algorithm, response in expected.items():
        params = client_response(algorithm, nonce=nonce, user="Mufasa",
                                 password="Circle of Life", realm=realm, method="GET",
                                 uri="/dir/index.html", cnonce=cnonce)
        assert params["response"] == response
    # and our HA1 helpers produce the HA1 those responses were built on
    assert ha1_md5("Mufasa", realm, "Circle of Life") == hashlib.md5(
        b"Mufasa:http-auth@example.org:Circle of Life", usedforsecurity=False).hexdigest()


def test_rfc7616_example_verifies_through_the_server_path() -> None:
    # The server's own computation must reproduce the RFC's response; RFC nonces are not
    # ours, so a right response to a foreign nonce is STALE (re-challenge, no password prompt).
    realm = "http-auth@example.org"
    auth = DigestAuthenticator(realm, SECRET, now=T0)
    params = client_response(DigestAlgorithm.SHA256,
                             nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                             user="Mufasa", password="Circle of Life", realm=realm,
                             method="GET", uri="/dir/index.html",
                             cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    ha1 = StoredHa1(ha1_md5("Mufasa", realm, "Circle of Life"),
                    ha1_sha256("Mufasa", realm, "Circle of Life"))
    assert auth.verify(params, "GET", ha1, T0).outcome is DigestOutcome.STALE
    wrong = StoredHa1(ha1_md5("Mufasa", realm, "x"), ha1_sha256("Mufasa", realm, "x"))
    assert auth.verify(params, "GET", wrong, T0).outcome is DigestOutcome.BAD_CREDENTIALS


def test_challenges_offer_sha256_first_then_md5_with_one_fresh_nonce(
        auth: DigestAuthenticator) -> None:
    headers = auth.challenge_headers(T0)
    assert [name for name, _ in headers] == ["WWW-Authenticate"] * 2
    sha, md5 = (value for _, value in headers)
    assert sha.startswith(f'Digest realm="{REALM}", nonce="')
    assert "algorithm=SHA-256" in sha and 'qop="auth"' in sha and "stale" not in sha
    assert "algorithm=MD5" in md5
    first, second = auth.challenges(T0)
    assert first.nonce == second.nonce
    assert auth.challenges(T0)[0].nonce != first.nonce  # a random salt in every nonce


def test_proxy_and_stale_challenges(auth: DigestAuthenticator) -> None:
    headers = auth.challenge_headers(T0, stale=True, proxy=True)
    assert all(name == "Proxy-Authenticate" for name, _ in headers)
    assert all(value.endswith(", stale=true") for _, value in headers)


def test_realm_is_a_quoted_string_with_escapes() -> None:
    challenge = DigestChallenge('a "b" \\c', "n", DigestAlgorithm.MD5)
    assert challenge.header_value().startswith('Digest realm="a \\"b\\" \\\\c"')


@pytest.mark.parametrize("algorithm", list(DigestAlgorithm))
def test_right_password_is_ok_with_either_algorithm(auth: DigestAuthenticator,
                                                    algorithm: DigestAlgorithm) -> None:
    nonce = auth.challenges(T0)[0].nonce
    result = auth.verify(client_response(algorithm, nonce=nonce), "REGISTER", stored(), T0 + 1)
    assert result.ok and result.status == 200
    assert result.username == USER and result.algorithm is algorithm


def test_wrong_password_and_unknown_user_get_the_same_answer(auth: DigestAuthenticator) -> None:
    nonce = auth.challenges(T0)[0].nonce
    wrong = auth.verify(client_response(DigestAlgorithm.SHA256, nonce=nonce, password="nope"),
                        "REGISTER", stored(), T0)
    unknown = auth.verify(client_response(DigestAlgorithm.SHA256, nonce=nonce, user="999"),
                          "REGISTER", None, T0)
    assert wrong.outcome is unknown.outcome is DigestOutcome.BAD_CREDENTIALS
    assert wrong.status == unknown.status == 401
    assert wrong.detail == unknown.detail
    assert wrong.counts_as_failure


def test_unknown_user_cannot_match_the_dummy_ha1_even_with_an_empty_password(
        auth: DigestAuthenticator) -> None:
    nonce = auth.challenges(T0)[0].nonce
    for password in ("", "password", USER):
        params = client_response(DigestAlgorithm.MD5, nonce=nonce, user="nobody",
                                 password=password)
        assert auth.verify(params, "REGISTER", None, T0).outcome is (
            DigestOutcome.BAD_CREDENTIALS)


def test_method_is_part_of_the_response(auth: DigestAuthenticator) -> None:
    nonce = auth.challenges(T0)[0].nonce
    params = client_response(DigestAlgorithm.SHA256, nonce=nonce, method="INVITE")
    assert auth.verify(params, "REGISTER", stored(), T0).outcome is (
        DigestOutcome.BAD_CREDENTIALS)
    assert auth.verify(params, "INVITE", stored(), T0).ok


def test_expired_nonce_with_right_password_is_stale(auth: DigestAuthenticator) -> None:
    nonce = auth.challenges(T0)[0].nonce
    params = client_response(DigestAlgorithm.SHA256, nonce=nonce)
    late = T0 + auth.nonce_lifetime + 1
    result = auth.verify(params, "REGISTER", stored(), late)
    assert result.outcome is DigestOutcome.STALE and result.status == 401
    assert not result.counts_as_failure


def test_expired_nonce_with_wrong_password_is_bad_credentials(
        auth: DigestAuthenticator) -> None:
    nonce = auth.challenges(T0)[0].nonce
    params = client_response(DigestAlgorithm.SHA256, nonce=nonce, password="guess")
    late = T0 + auth.nonce_lifetime + 1
    assert auth.verify(params, "REGISTER", stored(), late).outcome is (
        DigestOutcome.BAD_CREDENTIALS)


def test_nonce_from_another_secret_or_tampered_is_never_ok(auth: DigestAuthenticator) -> None:
    other = DigestAuthenticator(REALM, b"another secret of sixteen+ bytes", now=T0)
    foreign = other.challenges(T0)[0].nonce
    own = auth.challenges(T0)[0].nonce
    tampered = own[:10] + ("A" if own[10] != "A" else "B") + own[11:]
    for nonce in (foreign, tampered, "not-base64!!", ""):
        params = client_response(DigestAlgorithm.SHA256, nonce=nonce)
        assert not auth.verify(params, "REGISTER", stored(), T0).ok


def test_nonce_from_the_future_is_not_trusted(auth: DigestAuthenticator) -> None:
    nonce = auth.challenges(T0 + 3600)[0].nonce
    params = client_response(DigestAlgorithm.SHA256, nonce=nonce)
    assert auth.verify(params, "REGISTER", stored(), T0).outcome is DigestOutcome.STALE


def test_nonce_issued_by_a_sibling_engine_with_the_same_secret_is_accepted() -> None:
    engine_a = DigestAuthenticator(REALM, SECRET, now=T0)
    engine_b = DigestAuthenticator(REALM, SECRET, now=T0)
    nonce = engine_a.challenges(T0 + 1)[0].nonce
    params = client_response(DigestAlgorithm.SHA256, nonce=nonce)
    assert engine_b.verify(params, "REGISTER", stored(), T0 + 2).ok


def test_increasing_nc_is_accepted_and_reused_or_lower_nc_is_stale(
        auth: DigestAuthenticator) -> None:
    nonce = auth.challenges(T0)[0].nonce

    def verify(nc: int) -> DigestOutcome:
        params = client_response(DigestAlgorithm.SHA256, nonce=nonce, nc=nc,
                                 cnonce=f"c{nc}")
        return auth.verify(params, "REGISTER", stored(), T0 + nc).outcome

    assert verify(1) is DigestOutcome.OK
    assert verify(2) is DigestOutcome.OK
    assert verify(2) is DigestOutcome.STALE  # replay
    assert verify(1) is DigestOutcome.STALE  # older
    assert verify(5) is DigestOutcome.OK  # gaps are fine (requests that were never sent)


def test_a_failed_attempt_does_not_burn_the_nc(auth: DigestAuthenticator) -> None:
    nonce = auth.challenges(T0)[0].nonce
    bad = client_response(DigestAlgorithm.SHA256, nonce=nonce, nc=7, password="guess")
    assert not auth.verify(bad, "REGISTER", stored(), T0).ok
    good = client_response(DigestAlgorithm.SHA256, nonce=nonce, nc=1)
    assert auth.verify(good, "REGISTER", stored(), T0).ok


def test_nonces_issued_before_a_restart_are_stale_so_captures_cannot_be_replayed() -> None:
    before = DigestAuthenticator(REALM, SECRET, now=T0)
    nonce = before.challenges(T0)[0].nonce
    captured = client_response(DigestAlgorithm.SHA256, nonce=nonce)
    assert before.verify(captured, "REGISTER", stored(), T0 + 1).ok
    restarted = DigestAuthenticator(REALM, SECRET, now=T0 + 2)
    assert restarted.verify(captured, "REGISTER", stored(), T0 + 3).outcome is (
        DigestOutcome.STALE)


def test_replay_memory_is_bounded_and_forgetting_never_reopens_a_replay() -> None:
    auth = DigestAuthenticator(REALM, SECRET, now=T0, replay_capacity=3)
    used = []
    for second in range(1, 6):
        nonce = auth.challenges(T0 + second)[0].nonce
        params = client_response(DigestAlgorithm.MD5, nonce=nonce)
        assert auth.verify(params, "REGISTER", stored(), T0 + second).ok
        used.append(params)
    for params in used:  # every captured request, evicted or not, stays refused
        assert auth.verify(params, "REGISTER", stored(), T0 + 6).outcome is (
            DigestOutcome.STALE)


def test_nonce_counter_forgets_expired_nonces() -> None:
    counter = NonceCounter(capacity=10, lifetime=60)
    assert counter.accept("a", issued_at=0, nc=1, now=1)
    assert counter.accept("b", issued_at=30, nc=1, now=31)
    assert counter.accept("c", issued_at=100, nc=1, now=100)
    assert len(counter) == 1  # a and b expired; refused on their timestamps anyway
    assert counter.floor == float("-inf")


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"response": None}, "missing response"),
        ({"nonce": None}, "missing nonce"),
        ({"uri": ""}, "missing uri"),
        ({"algorithm": "SHA-512-256"}, "unsupported algorithm"),
        ({"algorithm": "MD5-sess"}, "unsupported algorithm"),
        ({"qop": "auth-int"}, "qop other than auth"),
        ({"qop": None}, "qop missing"),
        ({"nc": "1"}, "nc or cnonce missing or malformed"),
        ({"nc": "0000000g"}, "nc or cnonce missing or malformed"),
        ({"cnonce": None}, "nc or cnonce missing or malformed"),
        ({"response": "abc"}, "response is not a digest"),
        ({"userhash": "true"}, "userhash was not offered"),
        ({"cnonce": "x" * 5000}, "parameter too long"),
    ],
)
def test_malformed_responses_are_400(auth: DigestAuthenticator,
                                     change: dict[str, str | None], detail: str) -> None:
    nonce = auth.challenges(T0)[0].nonce
    params: dict[str, str] = client_response(DigestAlgorithm.SHA256, nonce=nonce)
    for name, value in change.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    result = auth.verify(params, "REGISTER", stored(), T0)
    assert result.outcome is DigestOutcome.MALFORMED and result.status == 400
    assert result.detail == detail


def test_param_names_are_case_insensitive_and_algorithm_defaults_to_md5(
        auth: DigestAuthenticator) -> None:
    nonce = auth.challenges(T0)[0].nonce
    params = client_response(DigestAlgorithm.MD5, nonce=nonce)
    del params["algorithm"]
    shouting = {name.upper(): value for name, value in params.items()}
    assert auth.verify(shouting, "REGISTER", stored(), T0).ok


def test_algorithm_not_offered_is_refused() -> None:
    auth = DigestAuthenticator(REALM, SECRET, now=T0, algorithms=["SHA-256"])
    assert [c.algorithm for c in auth.challenges(T0)] == [DigestAlgorithm.SHA256]
    nonce = auth.challenges(T0)[0].nonce
    result = auth.verify(client_response(DigestAlgorithm.MD5, nonce=nonce), "REGISTER",
                         stored(), T0)
    assert result.outcome is DigestOutcome.MALFORMED


def test_request_uri_must_match_when_asked(auth: DigestAuthenticator) -> None:
    nonce = auth.challenges(T0)[0].nonce
    params = client_response(DigestAlgorithm.SHA256, nonce=nonce)
    assert auth.verify(params, "REGISTER", stored(), T0, request_uri="sip:other").outcome is (
        DigestOutcome.MALFORMED)
    assert auth.verify(params, "REGISTER", stored(), T0, request_uri=URI).ok


def test_ha1_stored_for_another_realm_never_verifies(auth: DigestAuthenticator) -> None:
    nonce = auth.challenges(T0)[0].nonce
    params = client_response(DigestAlgorithm.SHA256, nonce=nonce, realm="old-realm")
    result = auth.verify(params, "REGISTER", stored(realm="old-realm"), T0)
    assert result.outcome is DigestOutcome.BAD_CREDENTIALS


def test_legacy_no_qop_is_refused_by_default(auth: DigestAuthenticator) -> None:
    nonce = auth.challenges(T0)[0].nonce
    params = client_response(DigestAlgorithm.MD5, nonce=nonce, qop=None)
    assert auth.verify(params, "REGISTER", stored(), T0).outcome is DigestOutcome.MALFORMED


def test_legacy_no_qop_md5_when_allowed_is_single_use_per_nonce() -> None:
    auth = DigestAuthenticator(REALM, SECRET, now=T0, allow_legacy_no_qop=True)
    nonce = auth.challenges(T0)[0].nonce
    params = client_response(DigestAlgorithm.MD5, nonce=nonce, qop=None)
    assert auth.verify(params, "REGISTER", stored(), T0).ok
    assert auth.verify(params, "REGISTER", stored(), T0).outcome is DigestOutcome.STALE
    sha = client_response(DigestAlgorithm.SHA256, nonce=nonce, qop=None)
    assert auth.verify(sha, "REGISTER", stored(), T0).outcome is DigestOutcome.MALFORMED


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        DigestAuthenticator(REALM, b"", now=T0)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["username", "realm", "nonce", "uri", "response",
                                        "algorithm", "qop", "nc", "cnonce", "userhash",
                                        "opaque"]),
                       st.text(max_size=80)))
def test_arbitrary_params_never_raise_and_never_pass(params: dict[str, str]) -> None:
    auth = DigestAuthenticator(REALM, SECRET, now=T0)
    result = auth.verify(params, "REGISTER", stored(), T0)
    assert result.outcome is not DigestOutcome.OK


@settings(max_examples=50, deadline=None)
@given(user=st.text(min_size=1, max_size=20), password=st.text(max_size=20),
       algorithm=st.sampled_from(list(DigestAlgorithm)),
       nc=st.integers(min_value=1, max_value=0xFFFFFFFF))
def test_any_user_and_password_round_trip(user: str, password: str,
                                          algorithm: DigestAlgorithm, nc: int) -> None:
    auth = DigestAuthenticator(REALM, SECRET, now=T0)
    nonce = auth.challenges(T0)[0].nonce
    params = client_response(algorithm, nonce=nonce, user=user, password=password, nc=nc)
    result = auth.verify(params, "REGISTER", stored(user, password), T0)
    assert result.ok, result
