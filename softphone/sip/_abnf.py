"""The RFC 3261 grammar we match, in one place: each regex has its ABNF quoted above it.

References: RFC 3261 §25.1 (https://www.rfc-editor.org/rfc/rfc3261#section-25.1), RFC 3966
(tel URIs), RFC 5118 (IPv6). Where we deliberately accept more than the ABNF, the comment
says so and why (RFC 4475 tells parsers to be liberal in several places).

Besides the regexes, the few *lexical* scanners that both ``uri.py`` and ``headers.py`` need
live here: splitting on a separator outside quoted strings and ``<...>``, unquoting a
quoted-string, and reading ``;name=value`` parameter lists. They raise only
``RemoteProtocolError`` (status 400).
"""

from __future__ import annotations

import functools
import re

from softphone.sip.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "HEADER_NAME",
    "METHOD",
    "TOKEN",
    "is_token",
    "parse_params",
    "quote",
    "split_top_level",
    "unquote",
]

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
_TOKENCHAR_SET = r"A-Za-z0-9\-.!%*_+`'~"
TOKEN = re.compile(rf"[{_TOKENCHAR_SET}]+")
# Method = INVITEm / ACKm / ... / extension-method ; extension-method = token
METHOD = TOKEN
# header-name = token   (§25.1, "extension-header")
HEADER_NAME = TOKEN

# SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT   (literal strings in ABNF are case-insensitive)
SIP_VERSION = re.compile(r"SIP/(\d+)\.(\d+)", re.IGNORECASE)

# Status-Code = 3DIGIT  (extension-code = 3DIGIT); §7.2: 100..699
STATUS_CODE = re.compile(r"[1-6]\d\d")

# delta-seconds = 1*DIGIT ; CSeq = "CSeq" HCOLON 1*DIGIT LWS Method
DIGITS = re.compile(r"\d+")

# scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )      (RFC 3986 §3.1)
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")

# SIP-URI  = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
# userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"
# user     = 1*( unreserved / escaped / user-unreserved )
# user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
# password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
# hostport = host [ ":" port ] ; host = hostname / IPv4address / IPv6reference
# uri-parameters = *( ";" uri-parameter) ; headers = "?" header *( "&" header )
# Liberal on purpose: '%' is accepted even when not followed by two hex digits (RFC 4475
# §3.1.1.5 keeps such octets literal), and '_' in host names (common in the wild, RFC 2181).
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
_USER = rf"[{_UNRESERVED}%&=+$,;?/]+"
_PASSWORD = rf"[{_UNRESERVED}%&=+$,]*"
_HOST = r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_\-.]+"
_PARAMS = rf"(?:;[{_UNRESERVED}%\[\]/:&+$=]*)*"
_HEADERS = rf"[{_UNRESERVED}%\[\]/?:+$=&]*"
SIP_URI = re.compile(
    rf"(?P<scheme>sips?):(?:(?P<user>{_USER})(?::(?P<password>{_PASSWORD}))?@)?"
    rf"(?P<host>{_HOST})(?::(?P<port>\d{{1,5}}))?(?P<params>{_PARAMS})(?:\?(?P<headers>{_HEADERS}))?",
    re.IGNORECASE,
)

# hostname = *( domainlabel "." ) toplabel [ "." ]
# domainlabel = alphanum / alphanum *( alphanum / "-" ) alphanum
# (we also take '_' and a digit-led top label: IPv4address is checked first)
HOSTNAME = re.compile(r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?\.)*"
                      r"[A-Za-z0-9_](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?\.?")
# IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")

# telephone-uri = "tel:" telephone-subscriber        (RFC 3966 §3, loosely: number, params)
# global-number-digits = "+" *phonedigit DIGIT *phonedigit
# local-number-digits  = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
# visual-separator = "-" / "." / "(" / ")"
TEL_NUMBER = re.compile(r"\+?[0-9A-Fa-f*#\-.()]+")
TEL_VISUAL_SEPARATORS = re.compile(r"[\-.()]")

# escaped = "%" HEXDIG HEXDIG
ESCAPED = re.compile(r"%([0-9A-Fa-f]{2})")

# quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
# quoted-pair   = "\" (%x00-09 / %x0B-0C / %x0E-7F)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_NEEDS_QUOTING = re.compile(r'["\\]')

# LWS = [*WSP CRLF] 1*WSP ; after unfolding (the parser replaces folds by SP) it is 1*WSP
WSP = " \t"


@functools.lru_cache(maxsize=4096)
def is_token(text: str) -> bool:
    # Cached: the same names and parameters (branch, tag, rport, Via...) come in every message.
    return TOKEN.fullmatch(text) is not None


def unquote(text: str) -> str:
    """The content of a quoted-string (with its quotes), quoted-pairs resolved."""
    inner = text[1:-1]
    if "\\" not in inner:
        return inner
    return _QUOTED_PAIR.sub(r"\1", inner)


def quote(text: str) -> str:
    """``text`` as a quoted-string; CR and LF cannot be quoted (§25.1 quoted-pair)."""
    if "\r" in text or "\n" in text:
        raise LocalProtocolError("CR/LF cannot appear in a quoted-string")
    return '"' + _NEEDS_QUOTING.sub(r"\\\g<0>", text) + '"'


_SCANNERS = {sep: re.compile(f'["<{re.escape(sep)}]') for sep in ",;"}
_QUOTE_END = re.compile(r'["\\]')


def split_top_level(text: str, separator: str) -> list[str]:
    """Split on ``separator`` (``,`` or ``;``) outside quoted-strings and ``<...>``; pieces are
    stripped.

    Used for comma-separated header values (§7.3.1) and for ``;`` parameter lists. An
    unterminated quote or ``<`` is a syntax error (RFC 4475 §3.1.2.6: 400). The scan jumps
    from one interesting character to the next (a regex search), so it stays linear and cheap.
    """
    # Fast paths: nothing that could hide a separator; or no separator at all, with nothing
    # the scan below would refuse (a quote, a '<' without a '>' after it).
    if '"' not in text:
        if "<" not in text:
            return [piece.strip(WSP) for piece in text.split(separator)]
        if separator not in text and text.rfind("<") < text.rfind(">"):
            return [text.strip(WSP)]
    return _split_scanning(text, separator)


def _split_scanning(text: str, separator: str) -> list[str]:
    search = _SCANNERS[separator].search
    pieces: list[str] = []
    start = i = 0
    while (match := search(text, i)) is not None:
        j = match.start()
        ch = text[j]
        if ch == '"':
            i = _end_of_quoted(text, j)
        elif ch == "<":
            close = text.find(">", j + 1)
            if close < 0:
                raise RemoteProtocolError("unbalanced '<' in header value")
            i = close + 1
        else:
            pieces.append(text[start:j].strip(WSP))
            start = i = j + 1
    pieces.append(text[start:].strip(WSP))
    return pieces


def _end_of_quoted(text: str, start: int) -> int:
    """Index just after the quoted-string that opens at ``start``."""
    i = start + 1
    search = _QUOTE_END.search
    while (match := search(text, i)) is not None:
        j = match.start()
        if text[j] == '"':
            return j + 1
        i = j + 2  # a quoted-pair: skip the escaped character
    raise RemoteProtocolError("unterminated quoted-string")


def end_of_quoted(text: str, start: int) -> int:
    """Public form of the quoted-string scanner: index just after the closing quote."""
    return _end_of_quoted(text, start)


# generic-param = token [ EQUAL gen-value ] ; gen-value = token / host / quoted-string
# EQUAL = SWS "=" SWS ; SEMI = SWS ";" SWS
_PARAM_VALUE_CHARS = r"A-Za-z0-9\-.!%*_+`'~\[\]:"
_PARAM_VALUE = re.compile(f"[{_PARAM_VALUE_CHARS}]+")
# The shape nearly every parameter list has (``;branch=z9hG4bK...;rport``): tokens, no
# whitespace, no quotes. One match checks it all; anything else goes the careful way.
_PLAIN_PARAMS = re.compile(rf"(?:;[{_TOKENCHAR_SET}]+(?:=[{_PARAM_VALUE_CHARS}]+)?)+")


def parse_params(text: str) -> tuple[tuple[str, str | None], ...]:
    """``;a=1;b;c="x y"`` (leading ``;`` included) -> ``(("a","1"),("b",None),("c",'"x y"'))``.

    Values keep their quotes: a quoted value is not a token, and whoever re-serializes must
    be able to tell. Use ``param_value`` to read one unquoted. Names keep their case; lookups
    are case-insensitive (§7.3.1: parameter names are case-insensitive).
    """
    text = text.strip(WSP)
    if not text:
        return ()
    if text[0] != ";":
        raise RemoteProtocolError(f"expected ';' before parameters, got {text[:20]!r}")
    if _PLAIN_PARAMS.fullmatch(text) is not None:
        return _plain_params(text)
    return _parse_params_careful(text)


def _plain_params(text: str) -> tuple[tuple[str, str | None], ...]:
    """Parameters already matched by ``_PLAIN_PARAMS``: only the splitting is left."""
    params: list[tuple[str, str | None]] = []
    for piece in text[1:].split(";"):
        name, eq, value = piece.partition("=")
        params.append((name, value if eq else None))
    return tuple(params)


def _parse_params_careful(text: str) -> tuple[tuple[str, str | None], ...]:
    params: list[tuple[str, str | None]] = []
    for piece in split_top_level(text[1:], ";"):
        name, eq, value = piece.partition("=")
        name = name.rstrip(WSP)
        if TOKEN.fullmatch(name) is None:
            raise RemoteProtocolError(f"bad parameter name {name[:40]!r}")
        if not eq:
            params.append((name, None))
            continue
        value = value.lstrip(WSP)
        if value.startswith('"'):
            if _end_of_quoted(value, 0) != len(value):
                raise RemoteProtocolError("junk after a quoted parameter value")
        elif _PARAM_VALUE.fullmatch(value) is None:
            raise RemoteProtocolError(f"bad value for parameter {name!r}")
        params.append((name, value))
    return tuple(params)


def param_value(params: tuple[tuple[str, str | None], ...], name: str) -> str | None:
    """The value of parameter ``name`` (case-insensitive), unquoted; "" when it has none."""
    lname = name.lower()
    for key, value in params:
        if key.lower() == lname:
            if value is None:
                return ""
            return unquote(value) if value.startswith('"') else value
    return None


def has_param(params: tuple[tuple[str, str | None], ...], name: str) -> bool:
    lname = name.lower()
    return any(key.lower() == lname for key, _ in params)


def format_params(params: tuple[tuple[str, str | None], ...]) -> str:
    return "".join([f";{k}" if v is None else f";{k}={v}" for k, v in params])
