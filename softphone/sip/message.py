"""SIP requests and responses as immutable values (RFC 3261 §7), and §8.2.6 responses.

Strategy (h11 ``_events.py``): a message is a frozen dataclass. Building one with bad parts
raises ``LocalProtocolError`` at construction, so a message that exists can always be sent;
``bytes(message)`` writes it, with a ``Content-Length`` computed from the body (never trusted
from the caller, §20.14) and header values checked for CR/LF so nothing can be injected.

Headers are a ``Headers`` value: the (name, value) lines in wire order, names in their
canonical spelling (compact forms expanded, §7.3.3), looked up case-insensitively. Values
stay text until an accessor (``via``, ``cseq``, ``from_``, ``contacts``...) parses them; the
parsed value is cached on the message. Accessors raise ``RemoteProtocolError`` when the
peer's header is malformed — call ``parser.validate_request`` once at the edge to check the
ones every request needs.

Changing a message means making a new one: ``with_header``, ``with_added_header``,
``without_header``, ``with_body``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Self, TypeAlias

from softphone.sip import _abnf
from softphone.sip.errors import LocalProtocolError, RemoteProtocolError
from softphone.sip.headers import (
    CSeq,
    Via,
    canonical_name,
    is_list_header,
    lookup_key,
    parse_cseq,
    parse_name_addr_list,
    parse_vias,
    split_header_values,
)
from softphone.sip.status import reason_phrase
from softphone.sip.uri import NameAddr, Uri, parse_name_addr

__all__ = [
    "SIP_VERSION",
    "Headers",
    "SipMessage",
    "SipRequest",
    "SipResponse",
    "make_response",
]

SIP_VERSION = "SIP/2.0"

# §20.19 / §20.22: Expires and Max-Forwards. Expires is 0..2**32-1; Max-Forwards is 0..255
# in practice (RFC 4475 §3.1.2.4 calls 300 out of range).
MAX_EXPIRES = 2**32 - 1
MAX_MAX_FORWARDS = 255

_BAD_VALUE_CHARS = re.compile(r"[\r\n\x00]")


class Headers:
    """Ordered, multi-valued, case-insensitive header lines. Immutable.

    Iterating yields ``(name, value)`` pairs in wire order. ``get`` returns the first line's
    value, ``get_all`` every line's value, ``values`` every comma-separated value of a list
    header (§7.3.1) across all its lines.
    """

    __slots__ = ("_fields", "_index")

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: tuple[tuple[str, str], ...] = _checked_fields(fields)
        self._index: dict[str, tuple[str, ...]] | None = None

    @classmethod
    def _trusted(cls, fields: tuple[tuple[str, str], ...]) -> Headers:
        """From the parser, which has already validated and canonicalised every line."""
        headers = cls.__new__(cls)
        headers._fields = fields
        headers._index = None
        return headers

    def _lookup(self) -> dict[str, tuple[str, ...]]:
        index = self._index
        if index is None:
            # Tuples, not lists: a tuple of strings drops out of the cyclic collector's sight
            # at its first pass, and a server keeps every request for 32 s (Timer J).
            index = {}
            get = index.get
            for name, value in self._fields:
                key = name.lower()
                seen = get(key)
                index[key] = (value,) if seen is None else (*seen, value)
            self._index = index
        return index

    def get(self, name: str, default: str | None = None) -> str | None:
        found = self._lookup().get(lookup_key(name))
        return found[0] if found else default

    def get_all(self, name: str) -> list[str]:
        return list(self._lookup().get(lookup_key(name), ()))

    def values(self, name: str) -> list[str]:
        """Every value of header ``name``, splitting list headers on commas."""
        lines = self._lookup().get(lookup_key(name), ())
        if not is_list_header(name):
            return list(lines)
        return [item for line in lines for item in split_header_values(line) if item]

    def count(self, name: str) -> int:
        return len(self._lookup().get(lookup_key(name), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and lookup_key(name) in self._lookup()

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._fields == other._fields

    def __hash__(self) -> int:
        return hash(self._fields)

    def __repr__(self) -> str:
        return f"Headers({list(self._fields)!r})"

    def with_header(self, name: str, value: str | object) -> Headers:
        """Replace every line of ``name`` by one line (at the first one's place, else last)."""
        key = lookup_key(name)
        new = Headers([(name, str(value))])._fields[0]
        out: list[tuple[str, str]] = []
        placed = False
        for item in self._fields:
            if item[0].lower() == key:
                if not placed:
                    out.append(new)
                    placed = True
            else:
                out.append(item)
        if not placed:
            out.append(new)
        return Headers._trusted(tuple(out))

    def with_added(self, name: str, value: str | object, *, first: bool = False) -> Headers:
        """Add a line: after the last line of the same name (or at the end), or before the
        first one with ``first=True`` (a proxy's Via / Record-Route, §16.6)."""
        new = Headers([(name, str(value))])._fields[0]
        key = new[0].lower()
        fields = list(self._fields)
        positions = [i for i, item in enumerate(fields) if item[0].lower() == key]
        if first:
            fields.insert(positions[0] if positions else 0, new)
        else:
            fields.insert(positions[-1] + 1 if positions else len(fields), new)
        return Headers._trusted(tuple(fields))

    def without(self, name: str) -> Headers:
        key = lookup_key(name)
        return Headers._trusted(tuple(f for f in self._fields if f[0].lower() != key))




def _checked_fields(fields: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Header lines from our own code: names must be tokens, values must not break the line
    (no CR/LF/NUL, so nothing can be injected); names get their canonical spelling."""
    checked: list[tuple[str, str]] = []
    is_token, bad_value = _abnf.is_token, _BAD_VALUE_CHARS.search
    for name, value in fields:
        if not is_token(name):
            raise LocalProtocolError(f"bad header name {name!r}")
        if bad_value(value):
            raise LocalProtocolError(f"CR, LF or NUL in the value of {name}")
        checked.append((canonical_name(name), value.strip(_abnf.WSP)))
    return tuple(checked)


class _Accessors:
    """Parsed views of the headers every layer needs, cached per message."""

    __slots__ = ()
    headers: Headers
    body: bytes
    _cache: dict[str, Any]

    def _cached(self, key: str, compute: Any) -> Any:
        cache = self._cache
        try:
            return cache[key]
        except KeyError:
            value = cache[key] = compute()
            return value

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def forget_parsed(self) -> None:
        """Drop the parsed views cached on this message (they are parsed again when read).

        For a message kept only to be matched or resent: a completed UDP server transaction
        keeps its request for 32 s (Timer J), and what it no longer needs should not weigh
        on memory and on every pass of the cyclic garbage collector."""
        # A fresh dict rather than clear(): an empty new dict is not tracked by the collector.
        object.__setattr__(self, "_cache", {})
        self.headers._index = None

    # Copies with other headers or body (requests and responses alike; both are frozen).
    def with_header(self, name: str, value: str | object) -> Self:
        return replace(self, headers=self.headers.with_header(name, value))  # type: ignore[type-var]

    def with_added_header(self, name: str, value: str | object, *,
                          first: bool = False) -> Self:
        return replace(self,  # type: ignore[type-var]
                       headers=self.headers.with_added(name, value, first=first))

    def without_header(self, name: str) -> Self:
        return replace(self, headers=self.headers.without(name))  # type: ignore[type-var]

    def with_body(self, body: bytes, content_type: str | None = None) -> Self:
        headers = self.headers
        if content_type is not None:
            headers = headers.with_header("Content-Type", content_type)
        return replace(self, headers=headers, body=body)  # type: ignore[type-var]

    def _single(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise RemoteProtocolError(f"missing {canonical_name(name)} header")
        return value

    # The parsed views below are cached in ``_cache``; each is written out (no shared helper
    # taking a closure) because they are read dozens of times per request on the hot path.
    @property
    def via(self) -> tuple[Via, ...]:
        """Every Via value, top first (§20.42)."""
        try:
            result: tuple[Via, ...] = self._cache["via"]
        except KeyError:
            result = self._cache["via"] = parse_vias(self.headers.get_all("Via"))
        return result

    @property
    def top_via(self) -> Via:
        vias = self.via
        if not vias:
            raise RemoteProtocolError("missing Via header")
        return vias[0]

    @property
    def branch(self) -> str | None:
        """The top Via's branch (§8.1.1.7), or None."""
        return self.top_via.branch

    @property
    def call_id(self) -> str:
        try:
            result: str = self._cache["call_id"]
        except KeyError:
            # callid = word [ "@" word ]: no whitespace inside (§25.1).
            result = self._single("Call-ID")
            if not result or " " in result or "\t" in result:
                raise RemoteProtocolError("bad Call-ID") from None
            self._cache["call_id"] = result
        return result

    @property
    def cseq(self) -> CSeq:
        try:
            result: CSeq = self._cache["cseq"]
        except KeyError:
            result = self._cache["cseq"] = parse_cseq(self._single("CSeq"))
        return result

    @property
    def from_(self) -> NameAddr:
        try:
            result: NameAddr = self._cache["from"]
        except KeyError:
            result = self._cache["from"] = parse_name_addr(self._single("From"))
        return result

    @property
    def to(self) -> NameAddr:
        try:
            result: NameAddr = self._cache["to"]
        except KeyError:
            result = self._cache["to"] = parse_name_addr(self._single("To"))
        return result

    @property
    def from_tag(self) -> str | None:
        return self.from_.tag

    @property
    def to_tag(self) -> str | None:
        return self.to.tag

    @property
    def contact_star(self) -> bool:
        """``Contact: *`` (§10.2.2, remove all bindings); it may not be mixed with others."""
        try:
            result: bool = self._cache["contact_star"]
        except KeyError:
            result = self._cache["contact_star"] = self._compute_contact_star()
        return result

    def _compute_contact_star(self) -> bool:
        if not any("*" in line for line in self.headers.get_all("Contact")):
            return False
        values = self.headers.values("Contact")
        if "*" not in values:
            return False
        if len(values) != 1:
            raise RemoteProtocolError("Contact '*' mixed with other contacts (§10.3 step 6)")
        return True

    @property
    def contacts(self) -> tuple[NameAddr, ...]:
        """Every Contact value in order; empty for ``Contact: *`` (see ``contact_star``)."""
        try:
            result: tuple[NameAddr, ...] = self._cache["contacts"]
        except KeyError:
            result = () if self.contact_star else parse_name_addr_list(
                self.headers.get_all("Contact"))
            self._cache["contacts"] = result
        return result

    def name_addrs(self, name: str) -> tuple[NameAddr, ...]:
        """Every value of a name-addr list header (Route, Record-Route, Path...)."""
        result: tuple[NameAddr, ...] = self._cached(
            "na:" + lookup_key(name),
            lambda: parse_name_addr_list(self.headers.get_all(name)))
        return result

    @property
    def expires(self) -> int | None:
        """The Expires header in seconds, or None when absent.

        RFC 4475 §3.1.2.4: a value above 2**32-1 may be treated "as if it contained the
        default", so it reads as None (absent) rather than as an error.
        """
        value = self.headers.get("Expires")
        if value is None:
            return None
        if not value.isdigit() or not value.isascii():
            raise RemoteProtocolError(f"bad Expires {value[:20]!r}")
        number = int(value) if len(value) <= 11 else MAX_EXPIRES + 1
        return number if number <= MAX_EXPIRES else None

    @property
    def max_forwards(self) -> int | None:
        value = self.headers.get("Max-Forwards")
        if value is None:
            return None
        if not value.isdigit() or not value.isascii() or len(value) > 5:
            raise RemoteProtocolError(f"bad Max-Forwards {value[:20]!r}")
        number = int(value)
        if number > MAX_MAX_FORWARDS:
            raise RemoteProtocolError(f"Max-Forwards {number} out of range")
        return number

    @property
    def content_type(self) -> str | None:
        """The media type (``type/subtype``) lower-cased, without parameters; None if absent."""
        value = self.headers.get("Content-Type")
        if value is None:
            return None
        return value.partition(";")[0].strip(_abnf.WSP).lower()

    def _serialize(self, start_line: str) -> bytes:
        parts = [start_line]
        wrote_length = False
        for name, value in self.headers:
            if name == "Content-Length":
                if wrote_length:
                    continue
                value = str(len(self.body))
                wrote_length = True
            parts.append(f"{name}: {value}\r\n")
        if not wrote_length:
            parts.append(f"Content-Length: {len(self.body)}\r\n")
        parts.append("\r\n")
        return "".join(parts).encode("utf-8", "surrogateescape") + self.body


def _check_common(headers: object, body: object, version: str) -> None:
    if not isinstance(headers, Headers):
        raise LocalProtocolError("headers must be a Headers value")
    if not isinstance(body, bytes):
        raise LocalProtocolError("body must be bytes")
    if version != SIP_VERSION and _abnf.SIP_VERSION.fullmatch(version) is None:
        raise LocalProtocolError(f"bad SIP version {version!r}")


@dataclass(frozen=True, slots=True)
class SipRequest(_Accessors):
    """A request: ``method`` (case-sensitive, §7.1), ``uri`` (the Request-URI), headers, body."""

    method: str
    uri: Uri
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = SIP_VERSION
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False,
                                   compare=False, hash=False)

    def __post_init__(self) -> None:
        if not _abnf.is_token(self.method):
            raise LocalProtocolError(f"bad method {self.method!r}")
        _check_common(self.headers, self.body, self.version)

    @classmethod
    def _trusted(cls, method: str, uri: Uri, headers: Headers, body: bytes,
                 version: str = SIP_VERSION, cache: dict[str, Any] | None = None,
                 ) -> SipRequest:
        """A request from parts already checked (the parser's, or a copy's): __post_init__
        would find nothing new."""
        request = object.__new__(cls)
        _set = object.__setattr__
        _set(request, "method", method)
        _set(request, "uri", uri)
        _set(request, "headers", headers)
        _set(request, "body", body)
        _set(request, "version", version)
        _set(request, "_cache", {} if cache is None else cache)
        return request

    def __bytes__(self) -> bytes:
        return self._serialize(f"{self.method} {self.uri} {self.version}\r\n")

    def with_top_via(self, via: Via) -> SipRequest:
        """A copy whose top Via value is ``via`` — a server stamping ``received``/``rport``
        (§18.2.1, RFC 3581 §4). Only that value changes: the other Via values stay on their
        lines, and the parsed views already computed carry over (no re-parse)."""
        vias = self.via
        fields = list(self.headers._fields)
        for i, (name, value) in enumerate(fields):
            if name == "Via":
                line = str(via)
                if "," in value:  # more values on this line: keep them as they are
                    line = ", ".join([line, *split_header_values(value)[1:]])
                fields[i] = ("Via", line)
                break
        else:
            raise LocalProtocolError("no Via to replace")
        headers = Headers._trusted(tuple(fields))
        index = self.headers._index
        if index is not None:  # the same lines but the first Via: no need to index again
            index = dict(index)
            index["via"] = (line, *index["via"][1:])
            headers._index = index
        return SipRequest._trusted(self.method, self.uri, headers, self.body, self.version,
                                   {**self._cache, "via": (via, *vias[1:])})

    def make_response(self, status: int, reason: str | None = None, *,
                      to_tag: str | None = None,
                      headers: Iterable[tuple[str, str]] = (),
                      body: bytes = b"") -> SipResponse:
        return make_response(self, status, reason, to_tag=to_tag, headers=headers, body=body)


@dataclass(frozen=True, slots=True)
class SipResponse(_Accessors):
    """A response: ``status_code`` 100..699, ``reason`` (may be empty, §25.1), headers, body."""

    status_code: int
    reason: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = SIP_VERSION
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False,
                                   compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.status_code, int) or not 100 <= self.status_code <= 699:
            raise LocalProtocolError(f"status code {self.status_code!r} out of 100..699")
        if "\r" in self.reason or "\n" in self.reason:
            raise LocalProtocolError("CR or LF in a reason phrase")
        _check_common(self.headers, self.body, self.version)

    @property
    def is_provisional(self) -> bool:
        return self.status_code < 200

    @property
    def is_final(self) -> bool:
        return self.status_code >= 200

    def __bytes__(self) -> bytes:
        return self._serialize(f"{self.version} {self.status_code} {self.reason}\r\n")


SipMessage: TypeAlias = SipRequest | SipResponse

# §8.2.6.2: these are copied from the request, in this order, into every response.
_COPIED = (("Via", "via"), ("From", "from"), ("To", "to"), ("Call-ID", "call-id"),
           ("CSeq", "cseq"))


def make_response(request: SipRequest, status: int, reason: str | None = None, *,
                  to_tag: str | None = None, headers: Iterable[tuple[str, str]] = (),
                  body: bytes = b"") -> SipResponse:
    """A response to ``request`` built by RFC 3261 §8.2.6.

    Copies every Via (same values, same order), From, To, Call-ID and CSeq; adds ``to_tag`` to
    To unless To already has a tag (a request inside a dialog, §8.2.6.2) or the status is 100
    (§8.2.6.2: "with the exception of the 100 (Trying) response"). A 100 also copies Timestamp
    (§8.2.6.1). ``headers`` are appended after the copied ones. Raises ``RemoteProtocolError``
    if the request's To cannot be parsed (so that the tag would land in the wrong place).
    """
    index = request.headers._lookup()
    tag = None
    if to_tag is not None and status != 100 and "to" in index and request.to.tag is None:
        # Not is_token(): its cache is for the names that repeat, and tags never do.
        if _abnf.TOKEN.fullmatch(to_tag) is None:
            raise LocalProtocolError(f"To tag must be a token: {to_tag!r}")
        # Appending keeps the peer's own spelling of To; after a name-addr and after an
        # addr-spec alike, ";tag=" is a header parameter (§20.10, §20.39).
        tag = ";tag=" + to_tag
    fields: list[tuple[str, str]] = []
    append = fields.append
    for name, key in _COPIED:
        for value in index.get(key, ()):
            append((name, value + tag if tag is not None and key == "to" else value))
    if status == 100:
        for value in index.get("timestamp", ()):
            append(("Timestamp", value))
    if headers:
        fields += _checked_fields(headers)
    return SipResponse(status, reason if reason is not None else reason_phrase(status),
                       Headers._trusted(tuple(fields)), body)
