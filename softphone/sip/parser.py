"""Bytes -> ``SipRequest``/``SipResponse`` (RFC 3261 §7, §18.3), and the §8.2 sanity checks.

Strategy: two steps, both raising only ``RemoteProtocolError`` with the status to answer.

1. ``parse_message(data)`` checks *syntax and framing*: the start line, every header line's
   shape, ``Content-Length``, the SIP version (505). Header values stay text (cheap: a
   typical REGISTER is split into lines and nothing more), except the Request-URI, which
   every request needs.
2. ``validate_request`` / ``validate_response`` check what RFC 3261 §8.1.1 makes mandatory
   (To, From, CSeq, Call-ID, Via), parse those headers (so later accessors cannot fail),
   refuse duplicates of single-valued headers, a CSeq method that is not the request's, an
   unsupported Request-URI scheme (416) and unknown ``Require`` options (420).

Policy choices where RFC 4475 allows one (each is also asserted in ``test_torture.py``):

- The request line is exactly ``Method SP Request-URI SP SIP-Version``: extra or trailing
  SP, LWS inside the Request-URI and ``<>`` around it are 400 (RFC 4475 §3.1.2.7-10), and so
  are URI headers (``?Route=...``) in a Request-URI (§3.1.2.11; §19.1.1 forbids them there).
- Line folding and LWS around ``:`` are accepted (§7.3.1); a fold becomes one SP.
- Bare LF line ends are accepted (robustness; RFC 3261 §7 requires CRLF but old stacks
  send LF); a stray CR inside a line is 400.
- Over UDP (``parse_message``), a missing Content-Length means "the rest of the datagram"
  (§18.3, RFC 2543 compatibility, RFC 4475 §3.4.1); octets beyond Content-Length are
  discarded (§18.3, RFC 4475 §3.1.1.8); a Content-Length larger than what arrived,
  negative, non-numeric or given twice with different values is 400.
- Max-Forwards is optional here (RFC 2543 peers do not send it, RFC 4475 §3.4.1).
"""

from __future__ import annotations

from collections.abc import Collection

from softphone.sip import _abnf
from softphone.sip.errors import RemoteProtocolError
from softphone.sip.headers import canonical_name
from softphone.sip.message import Headers, SipMessage, SipRequest, SipResponse
from softphone.sip.uri import SipUri, parse_uri

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "KNOWN_METHODS",
    "BadExtensionError",
    "parse_message",
    "validate_request",
    "validate_response",
]

# A UDP datagram cannot be larger; a stream message larger than this is refused with 513.
DEFAULT_MAX_MESSAGE_SIZE = 65_535
# Header lines per message: generous (RFC 4475 §3.1.1.7 has 34 Vias in a few lines), but a
# bound so that a flood of tiny lines cannot cost unbounded work.
DEFAULT_MAX_HEADER_LINES = 256

_BAD_REQUEST = 400
_UNSUPPORTED_URI_SCHEME = 416
_BAD_EXTENSION = 420
_NOT_IMPLEMENTED = 501
_VERSION_NOT_SUPPORTED = 505
_MESSAGE_TOO_LARGE = 513

# Methods of RFC 3261 and the extensions a PBX handles; used only to choose between 400 and
# 501 for a CSeq/method mismatch (RFC 4475 §3.1.2.18 prefers 501 for an unknown method).
KNOWN_METHODS = frozenset({
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE",
    "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
})

# §7.3.1 / §20: headers that may appear at most once (more is 400, RFC 4475 §3.3.8).
# (name, index key) pairs: the key is the lower-cased name.
_SINGLETONS = tuple((name, name.lower()) for name in (
    "To", "From", "CSeq", "Call-ID", "Max-Forwards", "Content-Type", "Expires"))
_REQUIRED_IN_REQUEST = tuple((name, name.lower()) for name in (
    "To", "From", "CSeq", "Call-ID", "Via"))
_REQUIRED_IN_RESPONSE = _REQUIRED_IN_REQUEST


class BadExtensionError(RemoteProtocolError):
    """420 Bad Extension (§8.2.2.3): ``unsupported`` goes into the Unsupported header."""

    def __init__(self, unsupported: tuple[str, ...]) -> None:
        super().__init__(f"unsupported extensions: {', '.join(unsupported)}", _BAD_EXTENSION)
        self.unsupported = unsupported


def parse_message(data: bytes, *,
                  max_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                  max_header_lines: int = DEFAULT_MAX_HEADER_LINES) -> SipMessage:
    """Parse one message from a datagram (or one message cut out by ``StreamFramer``)."""
    if len(data) > max_size:
        raise RemoteProtocolError(f"message of {len(data)} octets is too large",
                                  _MESSAGE_TOO_LARGE)
    # §7.5: CRLFs before the start line are ignored (keep-alives, stray line ends).
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    body_start = end + 4
    if end < 0:
        end = data.find(b"\n\n", start)
        body_start = end + 2
        if end < 0:
            raise RemoteProtocolError("no empty line after the headers")
    try:
        head = data[start:end].decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError("header block is not UTF-8") from None
    crlf = head.count("\r\n")
    if head.count("\n") == crlf:
        lines = head.split("\r\n")
        stray_cr = head.count("\r") != crlf
    else:
        # Bare LF line ends (robustness, see the module docstring).
        head = head.replace("\r\n", "\n")
        lines = head.split("\n")
        stray_cr = "\r" in head
    if stray_cr:
        raise RemoteProtocolError("stray CR in the header block")
    if len(lines) > max_header_lines + 1:
        raise RemoteProtocolError("too many header lines", _MESSAGE_TOO_LARGE)
    headers = Headers._trusted(_parse_header_lines(lines))
    body = _body(data, body_start, headers._lookup().get("content-length"))
    return _start_line(lines[0], headers, body)


# Header names as written on the wire -> canonical name, for names already found valid. Peers
# use a few spellings, so this stays small; the bound stops one that invents names.
_SEEN_NAMES: dict[str, str] = {}
_MAX_SEEN_NAMES = 2048


def _parse_header_lines(lines: list[str]) -> tuple[tuple[str, str], ...]:
    fields: list[tuple[str, str]] = []
    seen = _SEEN_NAMES
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            # §7.3.1 folding: the continuation joins the previous value with one SP.
            if not fields:
                raise RemoteProtocolError("continuation line before any header")
            name, value = fields[-1]
            more = line.strip(" \t")
            fields[-1] = (name, f"{value} {more}" if value and more else value or more)
            continue
        raw_name, colon, value = line.partition(":")
        if not colon or not raw_name:
            raise RemoteProtocolError(f"header line without a name and ':': {line[:40]!r}")
        known = seen.get(raw_name)
        fields.append((known if known is not None else _new_header_name(raw_name),
                       value.strip(" \t")))
    return tuple(fields)


def _new_header_name(raw_name: str) -> str:
    name = raw_name.rstrip(" \t")  # LWS before the colon is allowed (HCOLON, §25.1)
    if _abnf.TOKEN.fullmatch(name) is None:
        raise RemoteProtocolError(f"bad header name {name[:40]!r}")
    name = canonical_name(name)
    if len(_SEEN_NAMES) < _MAX_SEEN_NAMES:
        _SEEN_NAMES[raw_name] = name
    return name


def _body(data: bytes, body_start: int, lengths: tuple[str, ...] | None) -> bytes:
    """The body after the empty line, cut to the Content-Length values ``lengths``."""
    available = len(data) - body_start
    if not lengths:
        return data[body_start:]
    length = content_length(list(lengths))
    if length > available:
        raise RemoteProtocolError(
            f"Content-Length {length} is more than the {available} octets received")
    return data[body_start:body_start + length]


def content_length(values: list[str]) -> int:
    """The one Content-Length of these header values (§20.14); 400 when absent or bad."""
    if not values:
        raise RemoteProtocolError("missing Content-Length")
    first = values[0]
    # RFC 4475 §3.3.9: two different values are a framing error; equal repeats are harmless.
    if len(values) > 1 and any(value != first for value in values[1:]):
        raise RemoteProtocolError("conflicting Content-Length values")
    # Digits only (no sign, RFC 4475 §3.1.2.3), and never more than ten of them: beyond that
    # no message can be that long, and int() of a huge string is itself costly.
    if not first.isdigit() or not first.isascii() or len(first.lstrip("0")) > 10:
        raise RemoteProtocolError(f"bad Content-Length {first[:20]!r}")
    return int(first)


def _start_line(line: str, headers: Headers, body: bytes) -> SipMessage:
    if line[:4].upper() == "SIP/":
        return _status_line(line, headers, body)
    parts = line.split(" ")
    if len(parts) != 3:
        raise RemoteProtocolError("request line is not 'Method SP Request-URI SP SIP-Version'")
    method, uri_text, version = parts
    _check_version(version)
    if _abnf.METHOD.fullmatch(method) is None:
        raise RemoteProtocolError(f"bad method {method[:40]!r}")
    uri = parse_uri(uri_text)
    if isinstance(uri, SipUri) and uri.headers:
        raise RemoteProtocolError("headers are not allowed in a Request-URI (§19.1.1)")
    return SipRequest._trusted(method, uri, headers, body)


def _status_line(line: str, headers: Headers, body: bytes) -> SipResponse:
    # Status-Line = SIP-Version SP Status-Code SP Reason-Phrase; the phrase may be empty, and
    # we accept a missing last SP too (a liberal reading that loses nothing).
    parts = line.split(" ", 2)
    if len(parts) < 2:
        raise RemoteProtocolError("bad status line")
    _check_version(parts[0])
    code = parts[1]
    if len(code) != 3 or _abnf.STATUS_CODE.fullmatch(code) is None:
        raise RemoteProtocolError(f"bad status code {code[:20]!r}")
    return SipResponse(int(code), parts[2] if len(parts) == 3 else "", headers, body, "SIP/2.0")


def _check_version(version: str) -> None:
    if version == "SIP/2.0":
        return
    match = _abnf.SIP_VERSION.fullmatch(version)
    if match is None:
        raise RemoteProtocolError(f"bad SIP version {version[:20]!r}")
    if int(match[1]) != 2 or int(match[2]) != 0:
        raise RemoteProtocolError(f"{version} is not supported", _VERSION_NOT_SUPPORTED)


def _check_common(message: SipMessage, required: tuple[tuple[str, str], ...]) -> None:
    index = message.headers._lookup()
    for name, key in required:
        if key not in index:
            raise RemoteProtocolError(f"missing {name} header (§8.1.1)")
    for name, key in _SINGLETONS:
        if len(index.get(key, ())) > 1:
            raise RemoteProtocolError(f"more than one {name} header")
    # Parse now what every layer reads, so later accessors on this message cannot fail.
    _ = message.via, message.cseq, message.call_id, message.from_, message.to
    _ = message.max_forwards, message.expires, message.contacts


def validate_request(request: SipRequest, *,
                     uri_schemes: Collection[str] = ("sip", "sips", "tel"),
                     supported_extensions: Collection[str] | None = None,
                     known_methods: Collection[str] = KNOWN_METHODS) -> SipRequest:
    """§8.2 checks a UAS makes before looking at a request; returns it for chaining.

    ``supported_extensions``: option tags we support; None skips the Require check (§8.2.2.3
    applies only to UASs; a proxy checks Proxy-Require instead).
    """
    _check_common(request, _REQUIRED_IN_REQUEST)
    cseq_method = request.cseq.method
    if cseq_method != request.method:
        # RFC 4475 §3.1.2.17: 400; §3.1.2.18: for a method we do not know, 501 is better.
        status = _BAD_REQUEST if request.method in known_methods else _NOT_IMPLEMENTED
        raise RemoteProtocolError(
            f"CSeq method {cseq_method} does not match {request.method}", status)
    if request.uri.scheme not in uri_schemes:
        raise RemoteProtocolError(f"unsupported URI scheme {request.uri.scheme!r}",
                                  _UNSUPPORTED_URI_SCHEME)
    if supported_extensions is not None and request.method not in ("ACK", "CANCEL") \
            and "require" in request.headers._lookup():
        required = request.headers.values("Require")
        unsupported = tuple(tag for tag in required if tag not in supported_extensions)
        if unsupported:
            raise BadExtensionError(unsupported)
    return request


def validate_response(response: SipResponse) -> SipResponse:
    """The same checks for a response; a client drops one that fails (§18.1.2)."""
    _check_common(response, _REQUIRED_IN_RESPONSE)
    return response
