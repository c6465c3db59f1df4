"""REGISTER processing after authentication (RFC 3261 §10.3), as a pure decision.

The engine parses the message and authenticates it; this module decides what happens to the
bindings and what the answer is. Digest authentication itself lives in ``softphone.sip.digest``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from softphone.pbx.location import Binding, BindingOutcome, BindingUpdate, Location

MAX_CONTACT_LENGTH = 512
MAX_CONTACTS_PER_REQUEST = 10


@dataclass(frozen=True, slots=True)
class RegistrarPolicy:
    default_expires: int = 3600
    min_expires: int = 60  # below this: 423 Interval Too Brief with Min-Expires (§10.3 step 7)
    max_expires: int = 3600  # above this: shortened (§10.3 step 7 lets the registrar decide)
    max_bindings_per_aor: int = 10


@dataclass(frozen=True, slots=True)
class ContactSpec:
    uri: str  # the Contact URI as sent (without display name or params)
    expires: int | None  # the contact's own expires parameter
    q: float = 1.0


@dataclass(frozen=True, slots=True)
class RegisterRequest:
    aor: str  # the extension number (To user part)
    contacts: Sequence[ContactSpec]
    star: bool  # "Contact: *"
    expires_header: int | None
    call_id: str
    cseq: int
    source: str
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class RegisterAnswer:
    status: int
    reason: str
    bindings: list[Binding] = field(default_factory=list)  # for 200: all current bindings
    min_expires: int | None = None
    changed: list[Binding] = field(default_factory=list)
    removed: list[Binding] = field(default_factory=list)


def process_register(location: Location, request: RegisterRequest, policy: RegistrarPolicy,
                     now: float) -> RegisterAnswer:
    """Apply an authenticated REGISTER to ``location`` and say how to answer it."""
    if request.star:
        # §10.3 step 6: "*" only with Expires: 0 and as the only contact.
        if request.contacts or request.expires_header != 0:
            return RegisterAnswer(400, "Bad Request")
        if not location.check_order(request.aor, request.call_id, request.cseq):
            return RegisterAnswer(500, "Server Internal Error")  # §10.3 step 6 / 7
        removed = location.remove_all(request.aor, call_id=request.call_id, cseq=request.cseq)
        return RegisterAnswer(200, "OK", [], removed=removed)

    if len(request.contacts) > MAX_CONTACTS_PER_REQUEST or any(
            len(c.uri) > MAX_CONTACT_LENGTH for c in request.contacts):
        return RegisterAnswer(400, "Bad Request")

    updates: list[BindingUpdate] = []
    for contact in request.contacts:
        expires = contact.expires if contact.expires is not None else request.expires_header
        if expires is None:
            expires = policy.default_expires
        if 0 < expires < policy.min_expires:
            return RegisterAnswer(423, "Interval Too Brief", min_expires=policy.min_expires)
        updates.append(BindingUpdate(contact.uri, min(expires, policy.max_expires), contact.q))

    if not location.check_order(request.aor, request.call_id, request.cseq):
        return RegisterAnswer(500, "Server Internal Error")

    existing = {b.contact for b in location.lookup(request.aor, now)}
    new_contacts = {u.contact for u in updates if u.expires > 0} - existing
    if len(existing) + len(new_contacts) > policy.max_bindings_per_aor:
        return RegisterAnswer(403, "Forbidden")  # too many devices for one extension

    outcomes = location.apply(request.aor, updates, call_id=request.call_id, cseq=request.cseq,
                              now=now, source=request.source, user_agent=request.user_agent)
    if any(outcome is BindingOutcome.OUT_OF_ORDER for outcome, _ in outcomes):
        return RegisterAnswer(500, "Server Internal Error")
    changed = [b for o, b in outcomes if o in (BindingOutcome.ADDED, BindingOutcome.REFRESHED)]
    removed = [b for o, b in outcomes if o is BindingOutcome.REMOVED]
    # §10.3 step 8: the 200 lists every current binding of the AoR with its expiry.
    return RegisterAnswer(200, "OK", location.lookup(request.aor, now), changed=changed,
                          removed=removed)
