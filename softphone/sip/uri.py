"""SIP, SIPS and tel URIs, name-addr values, and URI comparison (RFC 3261 §19, RFC 3966).

Strategy: URIs are frozen value objects that keep every component *as it was on the wire*
(still %-escaped), so a URI we store and hand back later is byte-for-byte what the peer sent
(RFC 4475 §3.3.13/§3.3.14: a registrar must return ``;unknownparam`` and an escaped
``?Route=`` header untouched). Comparison (``uri_equal``, §19.1.4) unescapes, and the
``unescape`` helper gives the decoded text of any component — exactly once (RFC 4475
§3.1.1.3: ``value%25%34%31`` is ``value%41``, not ``valueA``).

A scheme we do not understand still parses (as ``AbsoluteUri``): RFC 4475 §3.3.2 says such a
request is well-formed, and answering 416 is the application's decision. ``parse_uri(text,
schemes=...)`` raises ``RemoteProtocolError(status_hint=416)`` for callers that want it.

IPv6 (RFC 5118): hosts are stored without brackets; ``str()`` puts them back. A reference
written with the RFC 3261 ABNF bug (``2001:db8:::192.0.2.1``, §4.10) is read as its RFC 4291
form; ``[2001:db8::10:5070]`` is an address with no port (§4.3, erratum 1311).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import TypeAlias
from urllib.parse import unquote as _percent_decode

from softphone.sip import _abnf
from softphone.sip._abnf import WSP, format_params, has_param, param_value, parse_params
from softphone.sip.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "AbsoluteUri",
    "NameAddr",
    "Params",
    "SipUri",
    "TelUri",
    "Uri",
    "escape",
    "parse_name_addr",
    "parse_uri",
    "unescape",
    "uri_equal",
]

# ((name, value-or-None), ...): ordered, duplicates kept, values as on the wire (quotes kept).
Params: TypeAlias = tuple[tuple[str, str | None], ...]

_MAX_PORT = 65535
_URI_BREAKERS = re.compile(r'[ \t\r\n<>"@\x00]')
_UNSUPPORTED_URI_SCHEME = 416


def unescape(text: str) -> str:
    """Decode ``%HH`` escapes once (§19.1.2). ``%`` not followed by two hex digits stays."""
    if "%" not in text:
        return text
    # surrogateescape: an escaped octet that is not UTF-8 (e.g. %FF) survives decoding
    # losslessly instead of becoming U+FFFD, so two different URIs never compare equal.
    return _percent_decode(text, encoding="utf-8", errors="surrogateescape")


_SAFE_USER = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                       "-_.!~*'()&=+$,;?/")


def escape(text: str, safe: Collection[str] = _SAFE_USER) -> str:
    """%-escape every character of ``text`` that is not in ``safe`` (default: user part)."""
    out: list[str] = []
    for ch in text:
        if ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogateescape"))
    return "".join(out)


def _parse_host(host: str) -> str:
    """Validate a host; an IPv6 reference loses its brackets (RFC 5118)."""
    if host.startswith("["):
        if not host.endswith("]"):
            raise RemoteProtocolError(f"bad IPv6 reference {host!r}")
        return _ipv6(host[1:-1])
    if _abnf.IPV4.fullmatch(host):
        if any(int(part) > 255 for part in host.split(".")):
            raise RemoteProtocolError(f"bad IPv4 address {host!r}")
        return host
    if _abnf.HOSTNAME.fullmatch(host) is None:
        raise RemoteProtocolError(f"bad host {host[:60]!r}")
    return host


def _ipv6(text: str) -> str:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        # RFC 5118 §4.10: RFC 3261's ABNF derives "2001:db8:::192.0.2.1"; implementations
        # must tolerate it. Read it as the one-"::" form, which is what the sender meant.
        fixed = text.replace(":::", "::", 1)
        try:
            ipaddress.IPv6Address(fixed)
        except ValueError:
            raise RemoteProtocolError(f"bad IPv6 address {text[:60]!r}") from None
        return fixed
    return text


def _format_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True, slots=True)
class SipUri:
    """A ``sip:`` or ``sips:`` URI (§19.1.1). Components are kept %-escaped as received."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: Params = ()
    headers: tuple[tuple[str, str], ...] = ()
    scheme: str = "sip"
    # str(self), made once: parsed URIs are shared (the parse caches below) and written again
    # in every response and log line.
    _text: str | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.scheme not in ("sip", "sips"):
            raise LocalProtocolError(f"SipUri scheme must be sip or sips, not {self.scheme!r}")
        if self.port is not None and not 0 < self.port <= _MAX_PORT:
            raise LocalProtocolError(f"port {self.port} out of range")
        # Anything that could break out of the URI on the wire is refused (no injection).
        parts = f"{self.host}{self.user or ''}{self.password or ''}"
        if _URI_BREAKERS.search(parts):
            raise LocalProtocolError(f"character not allowed in a SIP URI: {parts!r}")

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    def param(self, name: str) -> str | None:
        """Value of URI parameter ``name`` (case-insensitive); "" if present without value."""
        return param_value(self.params, name)

    def has_param(self, name: str) -> bool:
        return has_param(self.params, name)

    @property
    def transport(self) -> str | None:
        """The ``transport`` parameter, lower-cased (its values compare case-insensitively)."""
        value = self.param("transport")
        return value.lower() if value is not None else None

    @property
    def lr(self) -> bool:
        """Loose routing flag (§19.1.1, §16.12)."""
        return self.has_param("lr")

    @property
    def maddr(self) -> str | None:
        return self.param("maddr")

    def with_params(self, **params: str | None) -> SipUri:
        """A copy with parameters set (``None``: present without value), replacing any."""
        names = {name.lower() for name in params}
        kept = tuple(p for p in self.params if p[0].lower() not in names)
        return replace(self, params=kept + tuple(params.items()))

    def without_params(self, *names: str) -> SipUri:
        lowered = {name.lower() for name in names}
        return replace(self, params=tuple(p for p in self.params if p[0].lower() not in lowered))

    def __str__(self) -> str:
        text = self._text
        if text is None:
            text = self._format()
            object.__setattr__(self, "_text", text)
        return text

    def _format(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(self.user)
            if self.password is not None:
                parts.extend((":", self.password))
            parts.append("@")
        parts.append(_format_host(self.host))
        if self.port is not None:
            parts.append(f":{self.port}")
        if self.params:
            parts.append(format_params(self.params))
        if self.headers:
            parts.append("?" + "&".join(f"{k}={v}" for k, v in self.headers))
        return "".join(parts)


@dataclass(frozen=True, slots=True)
class TelUri:
    """A ``tel:`` URI (RFC 3966): the number as written, then its parameters."""

    number: str
    params: Params = ()
    scheme: str = "tel"

    def __post_init__(self) -> None:
        if _abnf.TEL_NUMBER.fullmatch(self.number) is None:
            raise LocalProtocolError(f"bad telephone number {self.number!r}")

    @property
    def is_global(self) -> bool:
        return self.number.startswith("+")

    @property
    def digits(self) -> str:
        """The number without visual separators (RFC 3966 §5.1.1)."""
        return _abnf.TEL_VISUAL_SEPARATORS.sub("", self.number)

    def param(self, name: str) -> str | None:
        return param_value(self.params, name)

    def __str__(self) -> str:
        return f"tel:{self.number}{format_params(self.params)}"


@dataclass(frozen=True, slots=True)
class AbsoluteUri:
    """A URI of a scheme we do not interpret (``im:``, ``http:``, ``urn:``...), kept opaque."""

    scheme: str
    rest: str

    def __post_init__(self) -> None:
        if _abnf.SCHEME.fullmatch(self.scheme) is None:
            raise LocalProtocolError(f"bad URI scheme {self.scheme!r}")
        if not self.rest or any(ch in self.rest for ch in ' \t\r\n<>"'):
            raise LocalProtocolError(f"bad URI text {self.rest!r}")

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"


Uri: TypeAlias = SipUri | TelUri | AbsoluteUri


def parse_uri(text: str, *, schemes: Collection[str] | None = None) -> Uri:
    """Parse an absolute URI. Raises ``RemoteProtocolError`` (400; 416 when ``schemes`` is
    given and the scheme is not in it — the Request-URI case, §8.2.2.1)."""
    uri = _parse_uri_cached(text)
    if schemes is not None and uri.scheme not in schemes:
        raise RemoteProtocolError(f"unsupported URI scheme {uri.scheme!r}",
                                  _UNSUPPORTED_URI_SCHEME)
    return uri


# URIs repeat a lot (the same From/To/R-URI on every retransmission and every request of a
# dialog) and are immutable, so a bounded cache is safe and saves most of the work.
@functools.lru_cache(maxsize=16384)
def _parse_uri_cached(text: str) -> Uri:
    colon = text.find(":")
    if colon <= 0:
        raise RemoteProtocolError(f"not an absolute URI: {text[:60]!r}")
    scheme = text[:colon].lower()
    if scheme in ("sip", "sips"):
        return _parse_sip_uri(text)
    if scheme == "tel":
        return _parse_tel_uri(text[colon + 1:])
    if _abnf.SCHEME.fullmatch(scheme) is None:
        raise RemoteProtocolError(f"bad URI scheme in {text[:60]!r}")
    rest = text[colon + 1:]
    if not rest or any(ch in rest for ch in ' \t\r\n<>"'):
        raise RemoteProtocolError(f"bad URI {text[:60]!r}")
    return AbsoluteUri(scheme, rest)


def _parse_sip_uri(text: str) -> SipUri:
    match = _abnf.SIP_URI.fullmatch(text)
    if match is None:
        raise RemoteProtocolError(f"bad SIP URI {text[:80]!r}")
    host = _parse_host(match["host"])
    port = None
    if match["port"] is not None:
        port = int(match["port"])
        if not 0 < port <= _MAX_PORT:
            raise RemoteProtocolError(f"port out of range in {text[:80]!r}")
    params: Params = ()
    if match["params"]:
        params = _parse_uri_params(match["params"])
    headers: tuple[tuple[str, str], ...] = ()
    if match["headers"]:
        pairs = []
        for item in match["headers"].split("&"):
            name, eq, value = item.partition("=")
            if not name or not eq:
                raise RemoteProtocolError(f"bad URI header in {text[:80]!r}")
            pairs.append((name, value))
        headers = tuple(pairs)
    return SipUri(host=host, user=match["user"], password=match["password"], port=port,
                  params=params, headers=headers, scheme=match["scheme"].lower())


def _parse_uri_params(text: str) -> Params:
    # uri-parameter = transport-param / ... / other-param ; other-param = pname [ "=" pvalue ]
    params: list[tuple[str, str | None]] = []
    for item in text[1:].split(";"):
        name, eq, value = item.partition("=")
        if not name:
            raise RemoteProtocolError("empty URI parameter")
        params.append((name, value if eq else None))
    return tuple(params)


def _parse_tel_uri(text: str) -> TelUri:
    number, _, params_text = text.partition(";")
    if _abnf.TEL_NUMBER.fullmatch(number) is None:
        raise RemoteProtocolError(f"bad tel URI number {number[:40]!r}")
    params = _parse_uri_params(";" + params_text) if params_text else ()
    return TelUri(number, params)


# §19.1.4: these URI parameters, when present in either URI, must be present and equal in both.
_MUST_MATCH_PARAMS = ("user", "ttl", "method", "maddr", "transport")


def uri_equal(a: Uri, b: Uri) -> bool:
    """URI equivalence by RFC 3261 §19.1.4 (SIP/SIPS) and RFC 3966 §4 (tel)."""
    if isinstance(a, SipUri) and isinstance(b, SipUri):
        return _sip_uri_equal(a, b)
    if isinstance(a, TelUri) and isinstance(b, TelUri):
        return (a.digits.lower() == b.digits.lower()
                and _param_map(a.params) == _param_map(b.params))
    if isinstance(a, AbsoluteUri) and isinstance(b, AbsoluteUri):
        return a.scheme.lower() == b.scheme.lower() and a.rest == b.rest
    return False


def _sip_uri_equal(a: SipUri, b: SipUri) -> bool:
    # "A SIP and SIPS URI are never equivalent."; userinfo is case-sensitive, after unescaping.
    if a.scheme != b.scheme or a.port != b.port:
        return False
    if (a.user is None) != (b.user is None) or (a.password is None) != (b.password is None):
        return False
    if unescape(a.user or "") != unescape(b.user or ""):
        return False
    if unescape(a.password or "") != unescape(b.password or ""):
        return False
    if not _host_equal(a.host, b.host):
        return False
    pa, pb = _param_map(a.params), _param_map(b.params)
    for name in _MUST_MATCH_PARAMS:
        if pa.get(name) != pb.get(name):
            return False
    # Other parameters are compared only when both URIs have them.
    if any(pa[name] != pb[name] for name in pa.keys() & pb.keys()):
        return False
    # "URI header components are never ignored."
    ha = {unescape(k).lower(): unescape(v) for k, v in a.headers}
    hb = {unescape(k).lower(): unescape(v) for k, v in b.headers}
    return ha == hb


def _host_equal(a: str, b: str) -> bool:
    if ":" in a and ":" in b:
        return ipaddress.IPv6Address(a) == ipaddress.IPv6Address(b)
    return a.lower() == b.lower()


def _param_map(params: Params) -> dict[str, str | None]:
    return {unescape(k).lower(): (unescape(v).lower() if v is not None else None)
            for k, v in params}


@dataclass(frozen=True, slots=True)
class NameAddr:
    """``"Display" <uri>;params`` (§20.10, §25.1 name-addr / addr-spec with header params).

    ``display_name`` is the human text (quotes and quoted-pairs removed), ``params`` are the
    header's parameters (``tag``, ``expires``, ``q``...) — never the URI's own, which stay in
    ``uri.params`` (RFC 4475 §3.3.12).
    """

    uri: Uri
    display_name: str | None = None
    params: Params = ()

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        return parse_name_addr(text)

    @property
    def tag(self) -> str | None:
        return param_value(self.params, "tag")

    def param(self, name: str) -> str | None:
        return param_value(self.params, name)

    def with_param(self, name: str, value: str | None) -> NameAddr:
        """A copy with header parameter ``name`` set (replacing any); values must be tokens
        or quoted-strings."""
        if value is not None and not (_abnf.is_token(value) or value.startswith('"')):
            raise LocalProtocolError(f"parameter value must be a token: {value!r}")
        if not _abnf.is_token(name):
            raise LocalProtocolError(f"parameter name must be a token: {name!r}")
        kept = tuple(p for p in self.params if p[0].lower() != name.lower())
        return replace(self, params=(*kept, (name, value)))

    def with_tag(self, tag: str) -> NameAddr:
        return self.with_param("tag", tag)

    def __str__(self) -> str:
        # Always the name-addr form: an addr-spec with ';' or '?' would change meaning (§20).
        display = "" if self.display_name is None else _abnf.quote(self.display_name) + " "
        return f"{display}<{self.uri}>{format_params(self.params)}"


def parse_name_addr(text: str) -> NameAddr:
    """Parse one name-addr or addr-spec with its header params. Raises RemoteProtocolError."""
    if "tag=" in text:  # From, and To inside dialogs: new every call, would only evict
        return _parse_tagged_name_addr(text)
    return _parse_name_addr_cached(text)


# To and Contact repeat on every request of a phone; NameAddr is immutable, so, like URIs,
# parsed values are shared through a bounded cache (sized for a few thousand phones).
@functools.lru_cache(maxsize=16384)
def _parse_name_addr_cached(text: str) -> NameAddr:
    return _parse_name_addr(text)


# A From (or an in-dialog To) with its tag repeats only within one exchange — the REGISTER
# answered with a challenge and its retry, the requests of one dialog — so it gets its own
# short cache, where it cannot evict the long-lived entries above.
@functools.lru_cache(maxsize=2048)
def _parse_tagged_name_addr(text: str) -> NameAddr:
    return _parse_name_addr(text)


def _parse_name_addr(text: str) -> NameAddr:
    text = text.strip(WSP)
    display: str | None = None
    if text.startswith('"'):
        end = _abnf.end_of_quoted(text, 0)
        display = _abnf.unquote(text[:end])
        rest = text[end:].lstrip(WSP)
        if not rest.startswith("<"):
            raise RemoteProtocolError("a quoted display name must be followed by <URI>")
        return _bracketed(rest, display)
    lt = text.find("<")
    if lt >= 0:
        words = text[:lt].strip(WSP)
        if words:
            # display-name = *(token LWS) / quoted-string. RFC 4475 §3.1.1.6: accept no LWS
            # before '<'. §3.1.2.15 (unquoted "Bell, Alexander"): our choice is 400.
            if not all(_abnf.is_token(word) for word in words.split()):
                raise RemoteProtocolError(f"display name must be quoted: {words[:60]!r}")
            display = words
        return _bracketed(text[lt:], display)
    # addr-spec: everything after the first ';' is a header parameter (§20.10), and a URI
    # with '?' must be in <> — RFC 4475 §3.1.2.13 lets us answer 400; we do.
    uri_text, semi, params_text = text.partition(";")
    uri_text = uri_text.rstrip(WSP)
    if "?" in uri_text:
        raise RemoteProtocolError("a URI with headers must be enclosed in <>")
    params = parse_params(";" + params_text) if semi else ()
    return NameAddr(parse_uri(uri_text), None, params)


def _bracketed(text: str, display: str | None) -> NameAddr:
    gt = text.find(">")
    if gt < 0:
        raise RemoteProtocolError("missing '>' after URI")
    # RFC 4475 §3.1.2.14: spaces just inside <> are ignored (our choice; unambiguous).
    uri = parse_uri(text[1:gt].strip(WSP))
    params = parse_params(text[gt + 1:]) if gt + 1 < len(text) else ()
    return NameAddr(uri, display, params)
