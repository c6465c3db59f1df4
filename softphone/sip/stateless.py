"""Answering a request we could not parse: a best-effort error response from its raw lines.

RFC 3261 §8.2 expects a UAS to answer a malformed request with 400 (RFC 4475 §3.1.2 lists the
cases), but ``make_response`` needs a parsed request. This module salvages the raw header
lines a response must copy (§8.2.6.2: Via, From, To, Call-ID, CSeq) from a message the strict
parser refused, so that the peer learns why. When even that is impossible — no request line,
no Via we understand, binary junk — it returns None and the message is dropped (§18.3: nothing
tells us where an answer would go, and junk deserves no answer).
"""

from __future__ import annotations

import re

from softphone.sip.errors import RemoteProtocolError
from softphone.sip.headers import parse_via
from softphone.sip.status import reason_phrase

__all__ = ["salvage_error_response"]

# Compact forms of the copied headers (§7.3.3), lowercase.
_COPIED = {"via": "Via", "v": "Via", "from": "From", "f": "From", "to": "To", "t": "To",
           "call-id": "Call-ID", "i": "Call-ID", "cseq": "CSeq"}
_ORDER = ("Via", "From", "To", "Call-ID", "CSeq")
# Lenient on purpose: extra SP between the elements or LWS inside the Request-URI make the
# request invalid (RFC 4475 §3.1.2.8, §3.1.2.9), which is exactly what the 400 is to say.
_REQUEST_LINE = re.compile(r"[!%*+\-.0-9A-Z_`a-z~']+ +\S.*? +SIP/\d+\.\d+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MAX_SALVAGED_HEADERS = 100
_TAG = re.compile(r";\s*tag\s*=", re.IGNORECASE)


def salvage_error_response(data: bytes, status: int, *, to_tag: str,
                           extra: tuple[tuple[str, str], ...] = ()) -> bytes | None:
    """Serialized ``status`` response to the request in ``data``, or None if there is none.

    Never raises: it runs on exactly the input that made the parser raise.
    """
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].lstrip(b"\r\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.replace("\r\n", "\n").split("\n")
    if not _REQUEST_LINE.fullmatch(lines[0].strip()) or lines[0].startswith("SIP/"):
        return None  # a response, or not SIP at all: never answered (§8.1.3.1, §18.3)
    if lines[0].split(" ", 1)[0] == "ACK":
        return None  # §17.2.1 / §12.2.2: an ACK is never answered
    copied: dict[str, list[str]] = {name: [] for name in _ORDER}
    current: str | None = None
    for line in lines[1:_MAX_SALVAGED_HEADERS]:
        if line[:1] in (" ", "\t"):  # folded continuation (§7.3.1)
            if current is not None and copied[current]:
                copied[current][-1] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        current = _COPIED.get(name.strip().lower()) if colon else None
        if current is not None:
            copied[current].append(value.strip())
    vias = copied["Via"]
    if not vias or not _parsable_via(vias[0]):
        return None
    out = [f"SIP/2.0 {status} {reason_phrase(status)}"]
    for name in _ORDER:
        for value in copied[name]:
            if _CONTROL.search(value):
                continue
            if name == "To" and not _TAG.search(value) and status != 100:
                value = f"{value};tag={to_tag}"
            out.append(f"{name}: {value}")
    out.extend(f"{name}: {value}" for name, value in extra)
    out.append("Content-Length: 0")
    return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8")


def _parsable_via(value: str) -> bool:
    """Whether the top Via says who sent the request: its sent-protocol and sent-by parse.

    Broken parameters after them (RFC 4475 §3.1.2.1 ``;;,;,,``) are one more reason for the
    400, not a reason to stay silent: the answer goes to the source address anyway (RFC 3581),
    and the Via is copied as received so that the client recognises its request (§8.2.6.2).
    """
    first = value.split(",", 1)[0]
    for candidate in (first, first.split(";", 1)[0]):
        try:
            parse_via(candidate)
        except RemoteProtocolError:
            continue
        return True
    return False
