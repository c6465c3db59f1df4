"""Server-side SIP digest authentication: RFC 7616 (HTTP Digest) as SIP uses it (RFC 3261 §22,
RFC 8760 for SHA-256), with stateless signed nonces and ``nc`` replay protection.

How the engine uses it::

    auth = DigestAuthenticator(realm, secret, now=time.time())
    # no or unusable Authorization header -> 401 (407 for a proxy) with every challenge:
    for name, value in auth.challenge_headers(time.time()): ...
    # with one: parse its auth-params (``softphone.sip.headers``), look the user up, verify:
    result = auth.verify(params, request.method, stored_ha1_or_None, time.time())
    # result.outcome: OK / BAD_CREDENTIALS (401, stale=false) / STALE (401, stale=true) /
    # MALFORMED (400)

Decisions, and why:

- **Only HA1 is known.** The PBX stores H(user:realm:password) for MD5 and SHA-256 (RFC 7616
  §3.4.2), never the password, so only the non-"-sess" algorithms can be verified.
- **Both algorithms are offered, SHA-256 first** (RFC 8760 §2.4, RFC 7616 §3.7: the client uses
  the first one it supports). ``qop="auth"`` only: ``auth-int`` would need the body's hash and
  no phone we know needs it.
- **Nonces are stateless and signed**: base64url(issue time ‖ random salt ‖ HMAC-SHA256 tag over
  realm + both). Any engine process sharing the secret accepts them, a restart keeps them valid,
  and nothing is stored per challenge, so a flood of unauthenticated requests costs no memory.
  ``now`` here is **wall-clock** seconds (``time.time()``), unlike the transaction layer's
  monotonic clock, because the issue time travels between processes.
- **Replay protection** (RFC 7616 §3.3 "nc"): per nonce, the highest ``nc`` accepted so far is
  kept in a bounded LRU. A reused or lower ``nc`` is refused. When the LRU is full it forgets the
  least recently used nonce and raises a floor: a nonce issued at or before the floor that is no
  longer tracked is refused too, so forgetting never re-opens a replay. The floor starts at the
  authenticator's creation time, so a captured request is not replayable across a restart.
  A refusal for replay or expiry is ``STALE`` when the response was otherwise right: the phone
  re-authenticates with a fresh nonce without asking its user for a password (RFC 7616 §3.3).
- **Same answer for unknown users.** ``verify`` with ``ha1=None`` runs the same hashes against a
  dummy HA1 derived from the secret and the username and answers ``BAD_CREDENTIALS``, like a
  wrong password. Comparisons are constant-time (``hmac.compare_digest``).
- **RFC 2617 responses without qop** (RFC 2069 style, from very old phones) carry no ``nc``, so
  a captured one could be replayed for the nonce's lifetime. They are refused unless
  ``allow_legacy_no_qop=True``, and even then only with MD5 and each nonce is good for one
  request (later uses are ``STALE``, which such phones handle by re-authenticating).
- ``userhash`` (RFC 7616 §3.4.4) is never offered, so a response that uses it is malformed.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import math
import re
import secrets
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from softphone.sip.errors import RemoteProtocolError

__all__ = [
    "DigestAlgorithm",
    "DigestAuthenticator",
    "DigestChallenge",
    "DigestOutcome",
    "DigestResult",
    "NonceCounter",
    "StoredHa1",
    "ha1_for",
    "ha1_md5",
    "ha1_sha256",
]

DEFAULT_NONCE_LIFETIME = 300.0
# One entry per nonce in use (a phone keeps its nonce for many requests): about 100 bytes each.
DEFAULT_REPLAY_CAPACITY = 50_000
# Engines sharing a secret may disagree on the time by this much; a nonce "issued" further in
# the future than this is not ours to trust.
NONCE_CLOCK_SKEW = 5.0
# Longest auth-param value we look at; anything longer is an attack, not a phone.
MAX_PARAM_LENGTH = 1024

_NONCE_SALT_BYTES = 12
_NONCE_TAG_BYTES = 16
_NONCE_TIME = struct.Struct(">Q")  # issue time in milliseconds
_NONCE_RAW_LENGTH = _NONCE_TIME.size + _NONCE_SALT_BYTES + _NONCE_TAG_BYTES
_MS = 1000
_NONCE_DOMAIN = b"pbxweb-sip-nonce\x00"
_DUMMY_DOMAIN = b"pbxweb-sip-dummy-ha1\x00"
_QOP_AUTH = "auth"
# RFC 7616 §3.4: nc is exactly 8 hex digits.
_NC_RE = re.compile(r"[0-9a-fA-F]{8}")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_REQUIRED = ("username", "realm", "nonce", "uri", "response")


class DigestAlgorithm(enum.StrEnum):
    SHA256 = "SHA-256"
    MD5 = "MD5"

    @property
    def hex_length(self) -> int:
        return _HEX_LENGTHS[self]

    def hash(self, text: str) -> str:
        """H(data) of RFC 7616 §3.4.1: the lowercase hex digest of the UTF-8 bytes."""
        return _HASHES[self](text.encode()).hexdigest()


_HASHES = {DigestAlgorithm.SHA256: hashlib.sha256, DigestAlgorithm.MD5: hashlib.md5}
_HEX_LENGTHS = {algorithm: new().digest_size * 2 for algorithm, new in _HASHES.items()}
# The algorithm parameter as written (RFC 7616 §3.3: case-insensitive) -> the algorithm.
_BY_NAME = {str(algorithm): algorithm for algorithm in DigestAlgorithm}


def ha1_for(algorithm: DigestAlgorithm, username: str, realm: str, password: str) -> str:
    """HA1 = H(username ":" realm ":" password) (RFC 7616 §3.4.2), what the PBX stores."""
    return algorithm.hash(f"{username}:{realm}:{password}")


def ha1_md5(username: str, realm: str, password: str) -> str:
    return ha1_for(DigestAlgorithm.MD5, username, realm, password)


def ha1_sha256(username: str, realm: str, password: str) -> str:
    return ha1_for(DigestAlgorithm.SHA256, username, realm, password)


@dataclass(frozen=True, slots=True)
class StoredHa1:
    """The HA1 values stored for one user and realm (``SipCredentials`` in ``softphone.pbx``)."""

    md5: str
    sha256: str

    def for_algorithm(self, algorithm: DigestAlgorithm) -> str:
        return self.sha256 if algorithm is DigestAlgorithm.SHA256 else self.md5


class DigestOutcome(enum.StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"  # 401/407 with fresh challenges, stale=false
    STALE = "stale"  # 401/407 with fresh challenges, stale=true (RFC 7616 §3.3)
    MALFORMED = "malformed"  # 400 Bad Request


# What to answer; a proxy challenge answers 407 where a UAS answers 401 (RFC 3261 §22.3).
_STATUS = {DigestOutcome.OK: 200, DigestOutcome.BAD_CREDENTIALS: 401,
           DigestOutcome.STALE: 401, DigestOutcome.MALFORMED: 400}


@dataclass(frozen=True, slots=True)
class DigestResult:
    outcome: DigestOutcome
    username: str | None = None
    algorithm: DigestAlgorithm | None = None
    detail: str = ""  # for the log only: never sent to the peer, it would help a guesser

    @property
    def ok(self) -> bool:
        return self.outcome is DigestOutcome.OK

    @property
    def status(self) -> int:
        """The SIP status to answer with (use 407 instead of 401 when challenging as a proxy)."""
        return _STATUS[self.outcome]

    @property
    def counts_as_failure(self) -> bool:
        """Whether brute-force accounting should count it: a stale nonce is not a guess."""
        return self.outcome in (DigestOutcome.BAD_CREDENTIALS, DigestOutcome.MALFORMED)


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """One ``Digest`` challenge (RFC 7616 §3.3); a 401/407 carries one per algorithm."""

    realm: str
    nonce: str
    algorithm: DigestAlgorithm
    stale: bool = False

    def header_value(self) -> str:
        params = [
            f"realm={_quote(self.realm)}",
            f"nonce={_quote(self.nonce)}",
            f"algorithm={self.algorithm}",
            f'qop="{_QOP_AUTH}"',
        ]
        if self.stale:
            params.append("stale=true")
        return "Digest " + ", ".join(params)


def _quote(value: str) -> str:
    """A quoted-string (RFC 3261 §25.1): backslash-escape '"' and '\\'."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class NonceCounter:
    """The highest ``nc`` accepted per nonce, bounded; see the module docstring ("Replay")."""

    def __init__(self, capacity: int, lifetime: float, floor: float = -math.inf) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._lifetime = lifetime
        # nonce -> (highest nc accepted, issue time); least recently used first.
        self._highest: OrderedDict[str, tuple[int, float]] = OrderedDict()
        # Untracked nonces issued at or before this time may have been used: refuse them.
        self.floor = floor

    def __len__(self) -> int:
        return len(self._highest)

    def accept(self, nonce: str, issued_at: float, nc: int, now: float) -> bool:
        """Record ``nc`` for ``nonce`` if it is higher than every ``nc`` seen; else refuse."""
        self._forget_expired(now)
        entry = self._highest.get(nonce)
        if entry is None:
            if issued_at <= self.floor:
                return False
        elif nc <= entry[0]:
            return False
        self._highest[nonce] = (nc, issued_at)
        self._highest.move_to_end(nonce)
        while len(self._highest) > self._capacity:
            _, (_, evicted_issued_at) = self._highest.popitem(last=False)
            self.floor = max(self.floor, evicted_issued_at)
        return True

    def _forget_expired(self, now: float) -> None:
        # An expired nonce is refused on its timestamp alone, so forgetting it is safe and
        # needs no floor. Only the LRU end is looked at: O(1) amortised, and capacity bounds
        # whatever is left.
        while self._highest:
            _, (_, issued_at) = next(iter(self._highest.items()))
            if issued_at + self._lifetime >= now:
                return
            self._highest.popitem(last=False)


class DigestAuthenticator:
    """Issues challenges and verifies responses for one realm (see the module docstring)."""

    def __init__(
        self,
        realm: str,
        secret: bytes,
        *,
        now: float,
        algorithms: Iterable[DigestAlgorithm | str] = (DigestAlgorithm.SHA256,
                                                      DigestAlgorithm.MD5),
        nonce_lifetime: float = DEFAULT_NONCE_LIFETIME,
        replay_capacity: int = DEFAULT_REPLAY_CAPACITY,
        allow_legacy_no_qop: bool = False,
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        """``now``: wall-clock creation time; nonces issued before it are not trusted for
        replay purposes (they get ``STALE``), since this process has not seen their ``nc``."""
        if len(secret) < _NONCE_TAG_BYTES:
            # An empty or short key would let anyone mint nonces.
            raise ValueError("the nonce secret must be at least 16 bytes")
        self.realm = realm
        self.algorithms = tuple(DigestAlgorithm(a) for a in algorithms)
        if not self.algorithms:
            raise ValueError("offer at least one digest algorithm")
        self.nonce_lifetime = nonce_lifetime
        self.allow_legacy_no_qop = allow_legacy_no_qop
        self._secret = secret
        self._token_bytes = token_bytes
        # Nonce times have millisecond resolution: one issued at ``now`` is already ours.
        self._counter = NonceCounter(replay_capacity, nonce_lifetime, floor=now - 1 / _MS)

    # -- challenges -------------------------------------------------------------------------
    def issue_nonce(self, now: float) -> str:
        issued = _NONCE_TIME.pack(max(0, int(now * _MS)))
        salt = self._token_bytes(_NONCE_SALT_BYTES)
        raw = issued + salt + self._nonce_tag(issued + salt)
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def challenges(self, now: float, *, stale: bool = False) -> list[DigestChallenge]:
        """One challenge per offered algorithm, preferred first, sharing one fresh nonce."""
        nonce = self.issue_nonce(now)
        return [DigestChallenge(self.realm, nonce, algorithm, stale)
                for algorithm in self.algorithms]

    def challenge_headers(self, now: float, *, stale: bool = False,
                          proxy: bool = False) -> list[tuple[str, str]]:
        """``(name, value)`` pairs for a 401 (``WWW-Authenticate``) or 407
        (``Proxy-Authenticate``), RFC 3261 §22.1 / §22.3."""
        name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        return [(name, challenge.header_value())
                for challenge in self.challenges(now, stale=stale)]

    # -- verification -----------------------------------------------------------------------
    def verify(
        self,
        params: Mapping[str, str],
        method: str,
        ha1: StoredHa1 | None,
        now: float,
        *,
        request_uri: str | None = None,
    ) -> DigestResult:
        """Check the auth-params of an ``Authorization``/``Proxy-Authorization`` header.

        ``params``: the header's auth-params with quotes removed (names in any case).
        ``ha1``: the user's stored HA1 values, or None for an unknown user (same answer).
        ``request_uri``: if given, ``uri`` must equal it (RFC 7616 §3.4.6; a mismatch is 400).
        """
        fields = {name.lower(): value for name, value in params.items()}
        parsed = self._parse(fields, request_uri)
        if isinstance(parsed, DigestResult):
            return parsed
        username = fields["username"]
        algorithm = parsed.algorithm
        stored = ha1.for_algorithm(algorithm) if ha1 is not None else ""
        known = bool(stored) and fields["realm"] == self.realm
        expected_ha1 = stored.lower() if known else self._dummy_ha1(algorithm, username)
        expected = _response(algorithm, expected_ha1, fields, method, parsed.qop)
        # Both inputs are lowercase hex of the same length here, so only content can differ.
        matches = hmac.compare_digest(expected, fields["response"].lower())
        if not (matches and known):
            return DigestResult(DigestOutcome.BAD_CREDENTIALS, username, algorithm,
                                "unknown user or wrong response")
        issued_at = self._nonce_issued_at(fields["nonce"])
        if issued_at is None or issued_at > now + NONCE_CLOCK_SKEW:
            # Right password, but a nonce we cannot vouch for (another secret, tampered):
            # let the phone retry with ours.
            return DigestResult(DigestOutcome.STALE, username, algorithm, "foreign nonce")
        if now - issued_at > self.nonce_lifetime:
            return DigestResult(DigestOutcome.STALE, username, algorithm, "nonce expired")
        if not self._counter.accept(fields["nonce"], issued_at, parsed.nc, now):
            return DigestResult(DigestOutcome.STALE, username, algorithm, "nc replayed")
        return DigestResult(DigestOutcome.OK, username, algorithm)

    def _parse(self, fields: Mapping[str, str],
               request_uri: str | None) -> _Parsed | DigestResult:
        username = fields.get("username")
        for name in _REQUIRED:
            if not fields.get(name):
                return _malformed(f"missing {name}", username)
        if any(len(value) > MAX_PARAM_LENGTH for value in fields.values()):
            return _malformed("parameter too long", username)
        algorithm = _BY_NAME.get(fields.get("algorithm", "MD5").upper())
        if algorithm is None:
            return _malformed("unsupported algorithm", username)
        if algorithm not in self.algorithms:
            return _malformed("algorithm not offered", username)
        if fields.get("userhash", "false").lower() != "false":
            return _malformed("userhash was not offered", username)
        response = fields["response"]
        if len(response) != algorithm.hex_length or not _HEX_RE.fullmatch(response):
            return _malformed("response is not a digest", username, algorithm)
        if request_uri is not None and fields["uri"] != request_uri:
            return _malformed("uri does not match the Request-URI", username, algorithm)
        qop = fields.get("qop")
        if qop is None:
            if not (self.allow_legacy_no_qop and algorithm is DigestAlgorithm.MD5):
                return _malformed("qop missing", username, algorithm)
            # Legacy: no nc at all, so each nonce is good once (as if nc were 1).
            return _Parsed(algorithm, None, 1)
        if qop.lower() != _QOP_AUTH:
            return _malformed("qop other than auth", username, algorithm)
        nc = fields.get("nc", "")
        if not _NC_RE.fullmatch(nc) or not fields.get("cnonce"):
            return _malformed("nc or cnonce missing or malformed", username, algorithm)
        # The response covers qop as the client wrote it.
        return _Parsed(algorithm, qop, int(nc, 16))

    def _nonce_tag(self, body: bytes) -> bytes:
        message = _NONCE_DOMAIN + self.realm.encode() + b"\x00" + body
        return hmac.digest(self._secret, message, "sha256")[:_NONCE_TAG_BYTES]

    def _nonce_issued_at(self, nonce: str) -> float | None:
        """The issue time of a nonce we signed, or None if it is not one of ours."""
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) != _NONCE_RAW_LENGTH:
            return None
        body, tag = raw[:-_NONCE_TAG_BYTES], raw[-_NONCE_TAG_BYTES:]
        if not hmac.compare_digest(tag, self._nonce_tag(body)):
            return None
        (issued_ms,) = _NONCE_TIME.unpack_from(body)
        return float(issued_ms) / _MS

    def _dummy_ha1(self, algorithm: DigestAlgorithm, username: str) -> str:
        # Stable per user, unguessable without the secret, so nobody can match it.
        material = _DUMMY_DOMAIN + username.encode()
        return hmac.digest(self._secret, material, "sha256").hex()[: algorithm.hex_length]


@dataclass(frozen=True, slots=True)
class _Parsed:
    algorithm: DigestAlgorithm
    qop: str | None  # None: RFC 2069-style response without qop
    nc: int


def _malformed(detail: str, username: str | None,
               algorithm: DigestAlgorithm | None = None) -> DigestResult:
    return DigestResult(DigestOutcome.MALFORMED, username, algorithm, detail)


def _response(algorithm: DigestAlgorithm, ha1: str, fields: Mapping[str, str], method: str,
              qop: str | None) -> str:
    """request-digest of RFC 7616 §3.4.1 (qop=auth) or RFC 2069 (no qop)."""
    ha2 = algorithm.hash(f"{method}:{fields['uri']}")
    if qop is None:
        return algorithm.hash(f"{ha1}:{fields['nonce']}:{ha2}")
    return algorithm.hash(
        f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:{qop}:{ha2}")


# -- the client side (a trunk: the carrier challenges us) -------------------------------------
def answer_challenge(challenge: Mapping[str, str], *, method: str, uri: str, username: str,
                     password: str, nc: int = 1, cnonce: str | None = None) -> str:
    """The Authorization / Proxy-Authorization value answering one Digest challenge (the
    params of ``parse_auth(...)``, lower-cased names) — RFC 7616 §3.4 as a client: qop=auth
    when offered, else the RFC 2069 form; MD5 or SHA-256 as the challenge says."""
    name = challenge.get("algorithm", "MD5").upper()
    try:
        algorithm = DigestAlgorithm("SHA-256" if name == "SHA-256" else name)
    except ValueError:
        raise RemoteProtocolError(f"digest algorithm {name[:20]!r} not supported") from None
    realm, nonce = challenge.get("realm", ""), challenge.get("nonce")
    if not nonce:
        raise RemoteProtocolError("a digest challenge without nonce")
    ha1 = ha1_for(algorithm, username, realm, password)
    offered = [q.strip().lower() for q in challenge.get("qop", "").split(",") if q.strip()]
    qop = "auth" if "auth" in offered else None
    fields = {"uri": uri, "nonce": nonce, "nc": f"{nc:08x}",
              "cnonce": cnonce or secrets.token_hex(8)}
    response = _response(algorithm, ha1, fields, method, qop)
    parts = [f"username={_quote(username)}", f"realm={_quote(realm)}",
             f"nonce={_quote(nonce)}", f"uri={_quote(uri)}", f'response="{response}"',
             f"algorithm={algorithm.value}"]
    if qop is not None:
        parts += [f"qop={qop}", f"nc={fields['nc']}", f'cnonce="{fields["cnonce"]}"']
    if "opaque" in challenge:
        parts.append(f"opaque={_quote(challenge['opaque'])}")
    return "Digest " + ", ".join(parts)
