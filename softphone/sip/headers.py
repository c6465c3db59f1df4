"""Header names and the values we interpret: Via, CSeq, name-addr lists, auth-params.

Strategy: the parser keeps header values as text; these functions turn one header's text into
a typed value when someone asks (``SipRequest.via`` and friends call them lazily and cache the
result). They raise only ``RemoteProtocolError`` (400) on bad input.

Header names are case-insensitive and some have a compact form (§7.3.3); ``canonical_name``
maps both to the one spelling we use everywhere (``"v"``/``"VIA"`` -> ``"Via"``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

from softphone.sip import _abnf
from softphone.sip._abnf import WSP, format_params, param_value, parse_params, split_top_level
from softphone.sip.errors import LocalProtocolError, RemoteProtocolError
from softphone.sip.uri import NameAddr, Params, _format_host, _parse_host, parse_name_addr

__all__ = [
    "MAX_CSEQ",
    "CSeq",
    "Challenge",
    "Via",
    "canonical_name",
    "is_list_header",
    "lookup_key",
    "parse_auth",
    "parse_cseq",
    "parse_name_addr_list",
    "parse_via",
    "parse_vias",
    "split_header_values",
]

# §7.3.3 compact forms, and the spelling we use for well-known headers (RFC 3261 §20 and the
# extensions a PBX meets). Lookups are by lower-cased name.
_COMPACT = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
    "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact",
    "k": "Supported", "l": "Content-Length", "m": "Contact", "n": "Identity-Info",
    "o": "Event", "r": "Refer-To", "s": "Subject", "t": "To", "u": "Allow-Events", "v": "Via",
    "x": "Session-Expires", "y": "Identity",
}
_KNOWN = (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
    "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "History-Info",
    "Identity", "Identity-Info", "In-Reply-To", "Max-Forwards", "MIME-Version", "Min-Expires",
    "Min-SE", "Organization", "P-Asserted-Identity", "P-Preferred-Identity", "Path",
    "Priority", "Privacy", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require",
    "RAck", "Reason", "Record-Route", "Refer-Sub", "Refer-To", "Referred-By",
    "Reject-Contact", "Replaces", "Reply-To", "Request-Disposition", "Require", "Retry-After",
    "Route", "RSeq", "Server", "Service-Route", "Session-Expires", "SIP-ETag", "SIP-If-Match",
    "Subject", "Subscription-State", "Supported", "Timestamp", "To", "Unsupported",
    "User-Agent", "Via", "Warning", "WWW-Authenticate",
)
_CANONICAL: dict[str, str] = {name.lower(): name for name in _KNOWN}
_CANONICAL.update(_COMPACT)

# Headers whose grammar is a comma-separated list (§7.3.1: "it MUST be possible to combine the
# multiple header field rows into one ... comma-separated list"). Authorization & co. are NOT
# lists (commas separate their auth-params), nor are Date, Subject, User-Agent...
_LIST_HEADERS = frozenset(name.lower() for name in (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Call-Info", "Contact", "Content-Encoding", "Content-Language",
    "Error-Info", "History-Info", "In-Reply-To", "P-Asserted-Identity",
    "P-Preferred-Identity", "Path", "Proxy-Require", "Reason", "Record-Route",
    "Reject-Contact", "Require", "Route", "Service-Route", "Supported", "Unsupported", "Via",
    "Warning",
))


def canonical_name(name: str) -> str:
    """The spelling we use for header ``name``: compact forms expanded, known names in their
    RFC case; an unknown name is returned unchanged (it is still matched case-insensitively)."""
    return _CANONICAL.get(name.lower(), name)


# Memo of name-as-written -> lookup key. Names come from our code (a few constants) and from
# the wire (mostly the same few spellings), so it stays small; the bound keeps a peer that
# invents names from growing it.
_KEYS: dict[str, str] = {}
_MAX_KEYS = 2048


def lookup_key(name: str) -> str:
    """The case-insensitive key of header ``name`` (compact forms folded in)."""
    key = _KEYS.get(name)
    if key is None:
        key = canonical_name(name).lower()
        if len(_KEYS) < _MAX_KEYS:
            _KEYS[name] = key
    return key


def is_list_header(name: str) -> bool:
    return lookup_key(name) in _LIST_HEADERS


def split_header_values(value: str) -> list[str]:
    """Split a list header's value on commas outside quotes and <> (§7.3.1)."""
    return split_top_level(value, ",")


# --- Via (§20.42) ------------------------------------------------------------------------
# via-parm = sent-protocol LWS sent-by *( SEMI via-params )
# sent-protocol = protocol-name SLASH protocol-version SLASH transport
# sent-by = host [ COLON port ] ; SLASH = SWS "/" SWS ; COLON = SWS ":" SWS
# The parameters start at the first ';' (no part before them can hold one): the part before
# is matched by _VIA_HEAD, the parameters by ``parse_params``.
_VIA_HEAD = re.compile(
    rf"(?P<name>{_abnf.TOKEN.pattern})\s*/\s*(?P<version>{_abnf.TOKEN.pattern})\s*/\s*"
    rf"(?P<transport>{_abnf.TOKEN.pattern})\s+"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_\-.]+)(?:\s*:\s*(?P<port>\d{1,5}))?\s*",
    re.DOTALL,
)
_MAGIC_COOKIE = "z9hG4bK"


_VIA_HOST_BREAKERS = re.compile(r"[ ;,<>\r\n]")
_KEEP = "\x00keep"  # a sentinel no parameter value can hold (NUL never passes the parser)


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value. ``host`` has no IPv6 brackets; ``transport`` is upper-case."""

    transport: str
    host: str
    port: int | None = None
    params: Params = ()
    protocol: str = "SIP"
    version: str = "2.0"

    def __post_init__(self) -> None:
        if not _abnf.is_token(self.transport) or _VIA_HOST_BREAKERS.search(self.host):
            raise LocalProtocolError(f"bad Via {self.transport!r} {self.host!r}")

    def param(self, name: str) -> str | None:
        return param_value(self.params, name)

    @property
    def branch(self) -> str | None:
        return self.param("branch")

    @property
    def has_rfc3261_branch(self) -> bool:
        """§8.1.1.7: the branch begins with the magic cookie and has something after it.

        RFC 4475 §3.2.1: a bare ``z9hG4bK`` is no RFC 3261 branch; the transaction layer
        falls back to RFC 2543 matching for it (our choice), so it does not break.
        """
        branch = self.branch
        return branch is not None and branch.startswith(_MAGIC_COOKIE) and len(branch) > 7

    @property
    def received(self) -> str | None:
        """The received parameter; RFC 5118 §4.5: tolerate ``[...]`` around IPv6 on input."""
        value = self.param("received")
        if value is not None and value.startswith("[") and value.endswith("]"):
            return value[1:-1]
        return value

    @property
    def rport(self) -> int | None:
        """RFC 3581 rport value; None when absent or empty (use ``has_rport``)."""
        value = self.param("rport")
        if not value:
            return None
        if not value.isdigit() or not 0 < int(value) <= 65535:
            raise RemoteProtocolError(f"bad rport {value[:10]!r}")
        return int(value)

    @property
    def has_rport(self) -> bool:
        return _abnf.has_param(self.params, "rport")

    @property
    def maddr(self) -> str | None:
        return self.param("maddr")

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return (self.host, self.port)

    def with_param(self, name: str, value: str | None) -> Via:
        """A copy with ``name`` set (replacing it in place, else appended). §18.2.1: a server
        adds ``received`` (never bracketed, RFC 5118 §4.5) and fills ``rport`` this way."""
        if not _abnf.is_token(name) or (value is not None and not _abnf.is_token(value)
                                        and ":" not in value):
            raise LocalProtocolError(f"bad Via parameter {name!r}={value!r}")
        lname = name.lower()
        params = list(self.params)
        for i, (key, _) in enumerate(params):
            if key.lower() == lname:
                params[i] = (key, value)
                break
        else:
            params.append((name, value))
        return replace(self, params=tuple(params))

    def with_received(self, host: str, rport: int | None) -> Via:
        """§18.2.1 ``received`` and, when the client asked for it, RFC 3581 ``rport`` set in
        one step (the server's stamp on an incoming request's top Via)."""
        if not (_abnf.is_token(host) or ":" in host) or _VIA_HOST_BREAKERS.search(host):
            raise LocalProtocolError(f"bad received address {host!r}")
        updates = {"received": host} if rport is None else {"rport": str(rport),
                                                            "received": host}
        params: list[tuple[str, str | None]] = []
        for key, value in self.params:
            new = updates.pop(key.lower(), _KEEP)
            params.append((key, value if new is _KEEP else new))
        params.extend(updates.items())  # the ones not there yet, rport before received
        return _trusted_via(self.transport, self.host, self.port, tuple(params), self.protocol,
                            self.version)

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return (f"{self.protocol}/{self.version}/{self.transport} "
                f"{_format_host(self.host)}{port}{format_params(self.params)}")


def parse_via(text: str) -> Via:
    """One via-parm. Raises RemoteProtocolError (400)."""
    text = text.strip(WSP)
    semi = text.find(";")
    sent = _sent_protocol_and_by(text if semi < 0 else text[:semi])
    if sent is None:
        raise RemoteProtocolError(f"bad Via {text[:80]!r}")
    params = parse_params(text[semi:]) if semi >= 0 else ()
    transport, host, port, protocol, version = sent
    return _trusted_via(transport, host, port, params, protocol, version)


# A phone sends the same sent-protocol and sent-by in every request; only the parameters
# (the branch) change. Bounded like the URI caches.
@functools.lru_cache(maxsize=4096)
def _sent_protocol_and_by(text: str) -> tuple[str, str, int | None, str, str] | None:
    match = _VIA_HEAD.fullmatch(text)
    if match is None:
        return None
    host = _parse_host(match["host"])
    port = None
    if match["port"] is not None:
        port = int(match["port"])
        if not 0 < port <= 65535:
            raise RemoteProtocolError("Via port out of range")
    return match["transport"].upper(), host, port, match["name"].upper(), match["version"]


def _trusted_via(transport: str, host: str, port: int | None, params: Params, protocol: str,
                 version: str) -> Via:
    """A Via from parts already checked (the parser's, or a copy's): no __post_init__."""
    via = object.__new__(Via)
    _set = object.__setattr__
    _set(via, "transport", transport)
    _set(via, "host", host)
    _set(via, "port", port)
    _set(via, "params", params)
    _set(via, "protocol", protocol)
    _set(via, "version", version)
    return via


def parse_vias(values: list[str]) -> tuple[Via, ...]:
    """Every Via value of every Via header line, top first."""
    vias: list[Via] = []
    for line in values:
        for item in split_top_level(line, ","):
            vias.append(parse_via(item))
    return tuple(vias)


# --- CSeq (§20.16) -----------------------------------------------------------------------
# CSeq = "CSeq" HCOLON 1*DIGIT LWS Method
# §8.1.1.5: "The sequence number value MUST be expressible as a 32-bit unsigned integer and
# MUST be less than 2**31." We refuse anything larger (RFC 4475 §3.1.2.4: 400).
MAX_CSEQ = 2**31 - 1
_CSEQ = re.compile(rf"(\d{{1,10}})[ \t]+({_abnf.TOKEN.pattern})")


@dataclass(frozen=True, slots=True)
class CSeq:
    number: int
    method: str

    def __post_init__(self) -> None:
        if not 0 <= self.number <= MAX_CSEQ:
            raise LocalProtocolError(f"CSeq {self.number} out of range (§8.1.1.5)")
        if not _abnf.is_token(self.method):
            raise LocalProtocolError(f"bad CSeq method {self.method!r}")

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


# CSeq values repeat ("1 REGISTER", "2 REGISTER", "102 INVITE"...) and CSeq is immutable.
@functools.lru_cache(maxsize=1024)
def parse_cseq(text: str) -> CSeq:
    match = _CSEQ.fullmatch(text.strip(WSP))
    if match is None:
        raise RemoteProtocolError(f"bad CSeq {text[:40]!r}")
    number = int(match[1])
    if number > MAX_CSEQ:
        raise RemoteProtocolError(f"CSeq {match[1]} out of range (§8.1.1.5)")
    return CSeq(number, match[2])


# --- name-addr lists (Contact, Route, Record-Route, Path...) -------------------------------


def parse_name_addr_list(values: list[str]) -> tuple[NameAddr, ...]:
    """Every value of a name-addr list header (all its lines), in order."""
    out: list[NameAddr] = []
    for line in values:
        for item in split_top_level(line, ","):
            if not item:
                raise RemoteProtocolError("empty value in a list header")
            out.append(parse_name_addr(item))
    return tuple(out)


# --- WWW-Authenticate / Authorization (§20.44, §20.7; RFC 7616) ----------------------------
# challenge   = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
# other-challenge = auth-scheme LWS auth-param *(COMMA auth-param)
# auth-param  = auth-param-name EQUAL ( token / quoted-string )


@dataclass(frozen=True, slots=True)
class Challenge:
    """A challenge or credentials: ``Digest realm="x", nonce="y"`` -> scheme + params.

    ``params`` values are unquoted; names keep their case (compare them case-insensitively,
    ``param()`` does).
    """

    scheme: str
    params: tuple[tuple[str, str], ...]

    def param(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.params:
            if key.lower() == lname:
                return value
        return None

    def as_dict(self) -> dict[str, str]:
        """Lower-cased names -> unquoted values (the first of duplicates wins)."""
        out: dict[str, str] = {}
        for key, value in self.params:
            out.setdefault(key.lower(), value)
        return out


_AUTH_VALUE = re.compile(r"[^\s,\"]+")


# The common shape of credentials and challenges: name=token or name="text without
# backslashes or controls", comma-separated. Anything else goes the careful way below; a test
# holds both ways to the same results.
_AUTH_PARAM = re.compile(
    rf'[ \t]*({_abnf.TOKEN.pattern})[ \t]*=[ \t]*(?:"([^"\\\x00-\x1f\x7f]*)"|([^\s,"]+))[ \t]*')


def parse_auth(text: str) -> Challenge:
    """Parse one Authorization / WWW-Authenticate (and Proxy-) header value."""
    return _parse_auth_fast(text) or _parse_auth_careful(text)


def _parse_auth_fast(text: str) -> Challenge | None:
    text = text.strip(WSP)
    scheme, _, rest = text.partition(" ")
    if not rest or not _abnf.is_token(scheme):
        return None
    params: list[tuple[str, str]] = []
    pos, end, match_at = 0, len(rest), _AUTH_PARAM.match
    while True:
        match = match_at(rest, pos)
        if match is None:
            return None
        quoted, token = match[2], match[3]
        params.append((match[1], quoted if quoted is not None else token))
        pos = match.end()
        if pos == end:
            return Challenge(scheme, tuple(params))
        if rest[pos] != ",":
            return None
        pos += 1


def _parse_auth_careful(text: str) -> Challenge:
    text = text.strip(WSP)
    scheme, _, rest = text.partition(" ")
    if not _abnf.is_token(scheme):
        raise RemoteProtocolError(f"bad auth scheme {scheme[:30]!r}")
    params: list[tuple[str, str]] = []
    for item in split_top_level(rest.strip(WSP), ",") if rest.strip(WSP) else []:
        name, eq, value = item.partition("=")
        name = name.strip(WSP)
        value = value.strip(WSP)
        if not eq or not _abnf.is_token(name):
            raise RemoteProtocolError(f"bad auth-param {item[:40]!r}")
        if value.startswith('"'):
            if _abnf.end_of_quoted(value, 0) != len(value):
                raise RemoteProtocolError("junk after a quoted auth-param")
            value = _abnf.unquote(value)
        elif _AUTH_VALUE.fullmatch(value) is None:
            # Token per the ABNF; we also take e.g. base64 '/' and '=' seen from real phones.
            raise RemoteProtocolError(f"bad auth-param value for {name!r}")
        params.append((name, value))
    return Challenge(scheme, tuple(params))


@dataclass(frozen=True, slots=True)
class Replaces:
    """RFC 3891 §6.1: ``Replaces: call-id;to-tag=...;from-tag=...[;early-only]``.

    The tags are as the *recipient* sees the dialog (§3): ``to_tag`` is the recipient's own
    tag, ``from_tag`` the other side's."""

    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False


def parse_replaces(text: str) -> Replaces:
    call_id, semi, rest = text.strip(_abnf.WSP).partition(";")
    call_id = call_id.strip(_abnf.WSP)
    if not call_id or any(ch in call_id for ch in " \t<>\"") or not semi:
        raise RemoteProtocolError(f"bad Replaces {text[:60]!r}")
    params = {name.lower(): value for name, value in _abnf.parse_params(";" + rest)}
    to_tag, from_tag = params.get("to-tag"), params.get("from-tag")
    if not to_tag or not from_tag:
        raise RemoteProtocolError("Replaces needs to-tag and from-tag (RFC 3891 §6.1)")
    return Replaces(call_id, to_tag, from_tag, "early-only" in params)
