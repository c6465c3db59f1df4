"""SIP dialogs (RFC 3261 §12) and the UAS core's 2xx retransmission (§13.3.1.4).

A ``Dialog`` is the state two user agents share after an INVITE (or SUBSCRIBE, REFER) was
answered with a tag: its id (Call-ID, local tag, remote tag), the route set, the remote target,
the CSeq numbers each side has used. It builds the requests sent inside it (§12.2.1.1) and
checks the ones received (§12.2.2). Like the transactions it is sans-IO: it never sends, it
returns messages; the TU hands requests to the ``TransactionLayer`` (or, for the ACK to a 2xx,
straight to the transport: it has no transaction, §17.1.1.3).

The states and their one table: EARLY (a 1xx with a To tag), CONFIRMED (a 2xx), TERMINATED
(a non-2xx final response to the creating request, a BYE, or a 481/408 to a request inside it,
§12.2.1.2, §12.3, §15). The TU drives the inputs through ``response_sent`` (UAS),
``receive_response`` (UAC) and ``receive_request``/``create_request`` (BYE).

Who retransmits what for an INVITE 2xx (RFC 6026 fixes RFC 3261 here): the UAS core resends
its 2xx at T1, 2*T1 ... T2 until the ACK arrives or 64*T1 passes (``SuccessRetransmission``);
the UAC core sends a new ACK for every 2xx the transaction layer hands it
(``Dialog.ack_for_2xx`` once, then ``Dialog.last_ack`` again for each retransmission).
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace

from softphone.sip.errors import LocalProtocolError, RemoteProtocolError
from softphone.sip.headers import CSeq, Via
from softphone.sip.message import Headers, SipRequest, SipResponse
from softphone.sip.timers import TimerConfig
from softphone.sip.transaction import Address, Send
from softphone.sip.uri import NameAddr, SipUri, Uri

__all__ = [
    "DIALOG_CREATING_METHODS",
    "DIALOG_TRANSITIONS",
    "MAX_FORWARDS",
    "TARGET_REFRESH_METHODS",
    "AckTimeout",
    "Dialog",
    "DialogId",
    "DialogInput",
    "DialogRole",
    "DialogState",
    "SuccessRetransmission",
    "new_tag",
]

# §8.1.1.6: requests we originate start with Max-Forwards 70.
MAX_FORWARDS = 70
# Methods whose responses (with a tag) create a dialog: RFC 3261 §12.1 (INVITE),
# RFC 6665 §4.1.2.4 (SUBSCRIBE), RFC 3515 §2.4.4 (REFER creates a subscription).
DIALOG_CREATING_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER"})
# Target refresh requests (§12.2, RFC 3311 UPDATE, RFC 6665 §4.1.2.5, RFC 3515): their
# Contact replaces the remote target, and ours goes in them.
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
# §12.2.2: a request with a CSeq lower than the remote one is out of order.
OUT_OF_ORDER = 500
# §12.2.1.2: these answers to a request inside the dialog end it.
_DIALOG_GONE = frozenset({408, 481})
# §8.1.1.5: "less than 2**31"; start low enough that a long call never wraps.
_INITIAL_CSEQ_LIMIT = 2**16
_TAG_BYTES = 8
_PROVISIONAL_MAX = 199
_SUCCESS_MAX = 299
_WITHOUT_OWN_CSEQ = frozenset({"ACK", "CANCEL"})  # §12.2.1.1: they reuse the INVITE's


def new_tag() -> str:
    """A From/To tag (§19.3: at least 32 random bits; we use 64)."""
    return secrets.token_hex(_TAG_BYTES)


def initial_cseq() -> int:
    """§8.1.1.5: an arbitrary first CSeq for a dialog's requests."""
    return secrets.randbelow(_INITIAL_CSEQ_LIMIT) + 1


@dataclass(frozen=True, slots=True)
class DialogId:
    """§12: Call-ID, local tag, remote tag (the remote tag is "" for an RFC 2543 peer)."""

    call_id: str
    local_tag: str
    remote_tag: str


class DialogRole(enum.StrEnum):
    UAC = "uac"
    UAS = "uas"


class DialogState(enum.StrEnum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class DialogInput(enum.StrEnum):
    PROVISIONAL = "1xx"  # to the creating request (or any, once confirmed)
    SUCCESS = "2xx"
    FAILURE = "300-699 to the creating request"
    REFUSED = "300-699 to a request inside the dialog"
    GONE = "481/408 to a request inside the dialog"
    BYE = "BYE sent or received"


_S, _I = DialogState, DialogInput

DIALOG_TRANSITIONS: dict[tuple[DialogState, DialogInput], DialogState] = {
    (_S.EARLY, _I.PROVISIONAL): _S.EARLY,
    (_S.EARLY, _I.SUCCESS): _S.CONFIRMED,  # §13.2.2.4 / §13.3.1.4
    (_S.EARLY, _I.FAILURE): _S.TERMINATED,  # §12.3: a non-2xx final ends early dialogs
    (_S.EARLY, _I.REFUSED): _S.EARLY,  # e.g. a refused UPDATE or PRACK while ringing
    (_S.EARLY, _I.GONE): _S.TERMINATED,  # §12.2.1.2
    (_S.EARLY, _I.BYE): _S.TERMINATED,  # §15: the caller may BYE an early dialog
    (_S.CONFIRMED, _I.PROVISIONAL): _S.CONFIRMED,  # a late 1xx, or a re-INVITE's
    (_S.CONFIRMED, _I.SUCCESS): _S.CONFIRMED,  # 2xx retransmission, re-INVITE answered
    (_S.CONFIRMED, _I.FAILURE): _S.CONFIRMED,  # a non-2xx after our 2xx: too late to matter
    (_S.CONFIRMED, _I.REFUSED): _S.CONFIRMED,  # §14.1: a failed re-INVITE keeps the call
    (_S.CONFIRMED, _I.GONE): _S.TERMINATED,  # §12.2.1.2
    (_S.CONFIRMED, _I.BYE): _S.TERMINATED,  # §15
    **{(_S.TERMINATED, event): _S.TERMINATED for event in DialogInput},
}


def _strip_tag(address: NameAddr) -> NameAddr:
    return replace(address, params=tuple(p for p in address.params if p[0].lower() != "tag"))


def _target_of(contacts: tuple[NameAddr, ...]) -> Uri | None:
    return contacts[0].uri if contacts else None


class Dialog:
    """One dialog, as seen by this UA (see the module docstring)."""

    TRANSITIONS = DIALOG_TRANSITIONS

    def __init__(self, *, role: DialogRole, state: DialogState, call_id: str, local_tag: str,
                 remote_tag: str, local_uri: NameAddr, remote_uri: NameAddr,
                 remote_target: Uri, route_set: tuple[NameAddr, ...],
                 local_seq: int | None, remote_seq: int | None,
                 local_contact: NameAddr | None, secure: bool, creating: CSeq) -> None:
        self.role = role
        self.state = state
        self.id = DialogId(call_id, local_tag, remote_tag)
        self.local_uri = _strip_tag(local_uri)
        self.remote_uri = _strip_tag(remote_uri)
        self.remote_target = remote_target
        self.route_set = route_set
        self.local_seq = local_seq  # None: "empty" (§12.1.1)
        self.remote_seq = remote_seq
        self.local_contact = local_contact
        self.secure = secure
        self.creating = creating  # the CSeq of the INVITE/SUBSCRIBE that made it
        self.last_ack: SipRequest | None = None  # UAC: resent for every 2xx retransmission

    def __repr__(self) -> str:
        return f"Dialog({self.role}, {self.state}, {self.id})"

    # -- creation (§12.1) ---------------------------------------------------------------------
    @classmethod
    def as_uac(cls, request: SipRequest, response: SipResponse,
               local_contact: NameAddr | None = None) -> Dialog:
        """§12.1.2: the dialog a 1xx (with To tag) or 2xx to our ``request`` creates."""
        remote_tag = response.to_tag
        if remote_tag is None or not 100 < response.status_code <= _SUCCESS_MAX:
            raise RemoteProtocolError("only a 101-299 response with a To tag makes a dialog")
        if request.method not in DIALOG_CREATING_METHODS:
            raise LocalProtocolError(f"{request.method} does not create dialogs")
        state = _S.EARLY if response.status_code <= _PROVISIONAL_MAX else _S.CONFIRMED
        return cls(
            role=DialogRole.UAC, state=state, call_id=request.call_id,
            local_tag=request.from_tag or "", remote_tag=remote_tag,
            local_uri=request.from_, remote_uri=request.to,
            # §12.1.2: the target is the response's Contact (a 1xx may lack one, then we keep
            # the Request-URI until one comes); the route set is Record-Route reversed.
            remote_target=_target_of(response.contacts) or request.uri,
            route_set=tuple(reversed(response.name_addrs("Record-Route"))),
            local_seq=request.cseq.number, remote_seq=None, local_contact=local_contact,
            secure=_is_secure(request), creating=request.cseq)

    @classmethod
    def as_uas(cls, request: SipRequest, local_tag: str, local_contact: NameAddr | None = None,
               ) -> Dialog:
        """§12.1.1: the dialog we create by answering ``request`` with a tag. Starts EARLY;
        ``response_sent`` confirms or ends it."""
        if request.method not in DIALOG_CREATING_METHODS:
            raise LocalProtocolError(f"{request.method} does not create dialogs")
        target = _target_of(request.contacts)
        if target is None:
            raise RemoteProtocolError(f"{request.method} without Contact (§8.1.1.8)")
        return cls(
            role=DialogRole.UAS, state=_S.EARLY, call_id=request.call_id,
            local_tag=local_tag, remote_tag=request.from_tag or "",
            local_uri=request.to, remote_uri=request.from_, remote_target=target,
            route_set=request.name_addrs("Record-Route"),  # in order for the UAS
            local_seq=None, remote_seq=request.cseq.number, local_contact=local_contact,
            secure=_is_secure(request), creating=request.cseq)

    # -- state ------------------------------------------------------------------------------
    @property
    def terminated(self) -> bool:
        return self.state is _S.TERMINATED

    def _step(self, event: DialogInput) -> DialogState:
        old = self.state
        self.state = self.TRANSITIONS[(old, event)]  # complete table: no KeyError
        return old

    def response_sent(self, request: SipRequest, response: SipResponse) -> None:
        """We answered ``request`` (the creating one, as UAS, or one inside the dialog)."""
        creating = self.role is DialogRole.UAS and request.cseq == self.creating
        self._step(self._classify(request, response, creating))

    def receive_response(self, request: SipRequest, response: SipResponse) -> None:
        """A response to ``request`` we sent (§12.1.2, §12.2.1.2, §13.2.2.4)."""
        creating = self.role is DialogRole.UAC and request.cseq == self.creating
        event = self._classify(request, response, creating)
        old = self._step(event)
        refresh = (request.method in TARGET_REFRESH_METHODS
                   and response.status_code > _PROVISIONAL_MAX)
        if event is _I.SUCCESS and old is _S.EARLY:
            # §13.2.2.4: the route set is recomputed from the 2xx that confirms the dialog.
            self.route_set = tuple(reversed(response.name_addrs("Record-Route")))
        if (event is _I.SUCCESS and (refresh or creating)) or (
                event is _I.PROVISIONAL and creating):
            self.remote_target = _target_of(response.contacts) or self.remote_target

    @staticmethod
    def _classify(request: SipRequest, response: SipResponse, creating: bool) -> DialogInput:
        status = response.status_code
        if status <= _PROVISIONAL_MAX:
            return _I.PROVISIONAL
        if status <= _SUCCESS_MAX:
            return _I.BYE if request.method == "BYE" else _I.SUCCESS
        if creating:
            return _I.FAILURE
        if status in _DIALOG_GONE or request.method == "BYE":
            return _I.GONE  # §12.2.1.2; and a BYE ends the dialog whatever its answer (§15.1.2)
        return _I.REFUSED

    # -- requests received (§12.2.2) ------------------------------------------------------------
    def matches(self, message: SipRequest | SipResponse) -> bool:
        """Whether ``message`` belongs to this dialog (its tags seen from our side)."""
        if message.call_id != self.id.call_id:
            return False
        if isinstance(message, SipRequest):
            return ((message.to_tag or "") == self.id.local_tag
                    and (message.from_tag or "") == self.id.remote_tag)
        return ((message.from_tag or "") == self.id.local_tag
                and (message.to_tag or "") == self.id.remote_tag)

    def receive_request(self, request: SipRequest) -> None:
        """Check and apply a request received inside the dialog (§12.2.2).

        Raises ``RemoteProtocolError(status_hint=500)`` for a CSeq lower than the last one
        (out of order); the TU answers with that status and the dialog is unchanged."""
        method = request.method
        number = request.cseq.number
        if method not in _WITHOUT_OWN_CSEQ:
            if self.remote_seq is not None and number < self.remote_seq:
                raise RemoteProtocolError(
                    f"CSeq {number} is lower than {self.remote_seq} (§12.2.2)", OUT_OF_ORDER)
            self.remote_seq = number
        if method in TARGET_REFRESH_METHODS:
            self.remote_target = _target_of(request.contacts) or self.remote_target
        if method == "BYE":
            self._step(_I.BYE)

    # -- requests sent (§12.2.1.1) --------------------------------------------------------------
    def create_request(self, method: str, via: Via, *, headers: Iterable[tuple[str, str]] = (),
                       body: bytes = b"", content_type: str | None = None) -> SipRequest:
        """A request inside the dialog (BYE, re-INVITE, UPDATE, INFO, REFER, NOTIFY...).

        ``via``: our Via with a fresh branch (``TransactionLayer.new_branch``). Takes the next
        local CSeq. A BYE ends the dialog at once (§15.1.1: the session is over when it is
        sent). ACK and CANCEL are built elsewhere (``ack_for_2xx``; the layer's CANCEL)."""
        if method in _WITHOUT_OWN_CSEQ:
            raise LocalProtocolError(f"{method} reuses the INVITE's CSeq; see ack_for_2xx")
        if self.terminated:
            raise LocalProtocolError(f"{self.id} is terminated")
        self.local_seq = (self.local_seq if self.local_seq is not None else initial_cseq()) + 1
        request = self._build(method, self.local_seq, via, headers, body, content_type)
        if method == "BYE":
            self._step(_I.BYE)
        return request

    def ack_for_2xx(self, invite: SipRequest, via: Via, *, body: bytes = b"",
                    content_type: str | None = None) -> SipRequest:
        """§13.2.2.4: the ACK to a 2xx for ``invite``: the INVITE's CSeq number, the dialog's
        route set and target, the INVITE's credentials, our ``via`` (a new branch). Kept in
        ``last_ack`` to answer retransmissions of the same 2xx."""
        credentials = [(name, value) for name, value in invite.headers
                       if name in ("Authorization", "Proxy-Authorization")]
        ack = self._build("ACK", invite.cseq.number, via, credentials, body, content_type)
        self.last_ack = ack
        return ack

    def _build(self, method: str, number: int, via: Via, extra: Iterable[tuple[str, str]],
               body: bytes, content_type: str | None) -> SipRequest:
        uri, routes = self._request_uri_and_routes()
        remote = self.remote_uri.with_tag(self.id.remote_tag) if self.id.remote_tag else (
            self.remote_uri)
        fields: list[tuple[str, str]] = [
            ("Via", str(via)),
            *(("Route", str(route)) for route in routes),
            ("Max-Forwards", str(MAX_FORWARDS)),
            ("From", str(self.local_uri.with_tag(self.id.local_tag))),
            ("To", str(remote)),
            ("Call-ID", self.id.call_id),
            ("CSeq", str(CSeq(number, method))),
        ]
        if method in TARGET_REFRESH_METHODS and self.local_contact is not None:
            fields.append(("Contact", str(self.local_contact)))
        fields.extend(extra)
        if content_type is not None:
            fields.append(("Content-Type", content_type))
        return SipRequest(method, uri, Headers(fields), body)

    def _request_uri_and_routes(self) -> tuple[Uri, tuple[NameAddr, ...]]:
        """§12.2.1.1: loose routing puts the target in the Request-URI and the whole route
        set in Route; a strict router (no ``lr``) first gets the Request-URI, and the target
        goes last in Route."""
        routes = self.route_set
        if not routes:
            return self.remote_target, ()
        first = routes[0].uri
        if isinstance(first, SipUri) and first.lr:
            return self.remote_target, routes
        # Strict: URI parameters are allowed in a Request-URI, URI headers are not (§19.1.1).
        uri = replace(first, headers=()) if isinstance(first, SipUri) else first
        return uri, (*routes[1:], NameAddr(self.remote_target))


def _is_secure(request: SipRequest) -> bool:
    """§12.1.1/§12.1.2: the dialog is secure if the request came over TLS to a sips URI."""
    return isinstance(request.uri, SipUri) and request.uri.scheme == "sips" and (
        request.top_via.transport == "TLS")


# -- the UAS core's 2xx retransmission (§13.3.1.4) ----------------------------------------------
class SuccessState(enum.StrEnum):
    WAITING = "waiting for ACK"
    ACKED = "acked"
    GAVE_UP = "gave up"  # no ACK within 64*T1: the TU should send BYE


class SuccessInput(enum.StrEnum):
    RETRANSMIT = "retransmit timer"
    ACK = "ACK"
    GIVE_UP = "64*T1 timer"


SUCCESS_TRANSITIONS: dict[tuple[SuccessState, SuccessInput], SuccessState] = {
    (SuccessState.WAITING, SuccessInput.RETRANSMIT): SuccessState.WAITING,
    (SuccessState.WAITING, SuccessInput.ACK): SuccessState.ACKED,
    (SuccessState.WAITING, SuccessInput.GIVE_UP): SuccessState.GAVE_UP,
    # ACK retransmissions and late ACKs are harmless.
    (SuccessState.ACKED, SuccessInput.ACK): SuccessState.ACKED,
    (SuccessState.GAVE_UP, SuccessInput.ACK): SuccessState.GAVE_UP,
}


@dataclass(frozen=True, slots=True)
class AckTimeout:
    """§13.3.1.4: no ACK for our 2xx within 64*T1; the session SHOULD end with a BYE."""

    response: SipResponse


class SuccessRetransmission:
    """Resends a 2xx to INVITE until its ACK comes (§13.3.1.4): after T1, then doubling up to
    T2, whatever the transport (the ACK may cross unreliable hops beyond the first)."""

    def __init__(self, response: SipResponse, destination: Address, *, timers: TimerConfig,
                 now: float) -> None:
        self.response = response
        self.destination = destination
        self.state = SuccessState.WAITING
        self._timers = timers
        self._interval = timers.t1
        self._next: float | None = now + self._interval
        self._give_up = now + timers.transaction_timeout
        self.cseq = response.cseq.number

    def next_deadline(self) -> float | None:
        if self.state is not SuccessState.WAITING or self._next is None:
            return None
        return min(self._next, self._give_up)

    def ack_received(self, ack: SipRequest) -> bool:
        """Stop if ``ack`` acknowledges this 2xx (same CSeq number); True if it did."""
        if ack.method != "ACK" or ack.cseq.number != self.cseq:
            return False
        self.state = SUCCESS_TRANSITIONS[(self.state, SuccessInput.ACK)]
        return True

    def handle_timeout(self, now: float) -> list[Send | AckTimeout]:
        out: list[Send | AckTimeout] = []
        while self.state is SuccessState.WAITING and self._next is not None:
            if now >= self._give_up:
                self.state = SUCCESS_TRANSITIONS[(self.state, SuccessInput.GIVE_UP)]
                out.append(AckTimeout(self.response))
            elif now >= self._next:
                self.state = SUCCESS_TRANSITIONS[(self.state, SuccessInput.RETRANSMIT)]
                out.append(Send(None, self.response, self.destination))
                self._interval = self._timers.next_interval(self._interval, capped=True)
                # From now, not from the missed deadline: a late wake-up sends one copy.
                self._next = now + self._interval
            else:
                break
        return out
