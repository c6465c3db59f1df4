"""REGISTER from the wire to the location service (RFC 3261 §10.3), after the parser.

``register_request`` turns a parsed REGISTER into the registrar's ``RegisterRequest`` (or says
why it is a 400); ``register_response_headers`` writes the answer's extra headers. The
decision itself is ``registrar.process_register``.
"""

from __future__ import annotations

import functools
from email.utils import formatdate

from softphone.pbx.registrar import ContactSpec, RegisterAnswer, RegisterRequest
from softphone.sip.message import SipRequest
from softphone.sip.uri import SipUri, unescape

# §20.19: an expires value above 2**32-1 is read as 2**32-1; the registrar caps it anyway.
_MAX_DELTA = 2**32 - 1


class BadRegister(ValueError):
    """The REGISTER is well-formed SIP but not a usable registration: answer 400."""


def register_aor(request: SipRequest) -> str:
    """The extension a REGISTER is for (§10.3 step 3): To must be a sip(s) URI with a user."""
    to_uri = request.to.uri
    if not isinstance(to_uri, SipUri) or not to_uri.user:
        raise BadRegister("the To header must be a sip: or sips: URI with an extension")
    return unescape(to_uri.user)


def register_request(request: SipRequest, source: str) -> RegisterRequest:
    aor = register_aor(request)
    contacts = []
    for contact in request.contacts:
        contacts.append(ContactSpec(str(contact.uri), _delta(contact.param("expires")),
                                    _q(contact.param("q"))))
    return RegisterRequest(
        aor=aor, contacts=contacts, star=request.contact_star,
        expires_header=request.expires, call_id=request.call_id, cseq=request.cseq.number,
        source=source, user_agent=(request.header("User-Agent") or "")[:256])


def register_response_headers(answer: RegisterAnswer, now: float) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    if answer.min_expires is not None:
        headers.append(("Min-Expires", str(answer.min_expires)))  # §10.3 step 7 (423)
    if answer.status == 200:
        # §10.3 step 8: every current binding, each with its remaining time; and Date.
        headers.extend(("Contact", f"<{b.contact}>;expires={b.remaining(now)}")
                       for b in answer.bindings)
        headers.append(("Date", _http_date(int(now))))
    return headers


@functools.lru_cache(maxsize=4)
def _http_date(second: int) -> str:
    """The Date header (§20.17, RFC 1123 form): formatted once per second, not per REGISTER."""
    return formatdate(second, usegmt=True)


def _delta(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise BadRegister(f"bad Contact expires parameter {value[:20]!r}")
    return min(int(value[:12]), _MAX_DELTA) if len(value) <= 12 else _MAX_DELTA


def _q(value: str | None) -> float:
    if value is None:
        return 1.0
    try:
        q = float(value)
    except ValueError:
        raise BadRegister(f"bad Contact q parameter {value[:20]!r}") from None
    if not 0.0 <= q <= 1.0 or len(value) > 5:
        raise BadRegister(f"Contact q parameter {value[:20]!r} is not a qvalue (§25.1)")
    return q
