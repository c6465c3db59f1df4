"""Call control: a back-to-back user agent with the media anchored on the engine.

A call is two (or, while ringing, more) SIP dialogs that the engine keeps apart: the caller's
INVITE is answered by the engine (UAS, RFC 3261 §13.3), and the engine itself calls every
registered device of the callee (UAC, §13.2) — one branch each, all at once (SPEC.md E1: the
desk phone, the DECT handset and the app ring together). Each leg has its own relay leg in
``softphone.media.relay``: both phones talk to the engine's RTP ports, never to each other, so
hold, transfer and pickup only re-point the relay; the other phone never sees a re-INVITE.

The call's states and what moves them (``CallState``)::

    RINGING --first 2xx from a branch-----------> ANSWERED --BYE from either leg--> ENDED
       |   (the others: CANCEL with Reason         |  --RTP timeout, ACK timeout-->
       |    "Call completed elsewhere", RFC 3326)  |
       +--every branch failed / no device / ring timeout / caller's CANCEL-------> ENDED

On ENDED the call record (``cdr.py``) is handed to the store, whatever ended the call.

Hold (RFC 3264 §8.4): a re-INVITE whose stream is sendonly/inactive (or ``c=0.0.0.0``) is
answered by the engine itself; the *other* party then hears the engine's music on hold, the
holder hears nothing; the next sendrecv re-INVITE bridges them again.

Ringing a party is an ``Attempt`` (its branches, its ring timer, what to do on answer and on
failure): the call's first one answers the caller's INVITE; a blind transfer (REFER, RFC 3515)
starts another one towards the target while the transferee hears music on hold. If the target
does not answer in time or is busy, the call comes back to the transferrer — to its dialog if
the transferrer is still on the line, else by ringing the transferrer's devices again with the
caller's identity (SPEC.md C3: "a blind transfer never loses the call").
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from softphone.media.dtmf import DEFAULT_PACKET_SAMPLES, build_digit_packets
from softphone.media.relay import MediaRelay, RelayLeg
from softphone.pbx.call_media import LegSdp, RemoteMedia, media_of, parse_sdp
from softphone.pbx.cdr import CallDirection, CallRecord, Disposition
from softphone.pbx.location import Binding
from softphone.pbx.prompts import Prompts
from softphone.pbx.storage import MailboxInfo, PbxStore, VoicemailStart
from softphone.pbx.trunks import TrunkAuth, TrunkRoute, with_auth
from softphone.pbx.voicemail import VoicemailSession, VoicemailState
from softphone.pbx.voicemail_menu import MenuState, VoicemailMenu
from softphone.sip.dialog import (
    AckTimeout,
    Dialog,
    DialogState,
    SuccessRetransmission,
    new_tag,
)
from softphone.sip.errors import RemoteProtocolError
from softphone.sip.headers import CSeq, Replaces, Via, parse_replaces
from softphone.sip.message import Headers, SipRequest, SipResponse
from softphone.sip.sdp import Direction, SdpError, SessionDescription
from softphone.sip.status import reason_phrase
from softphone.sip.timers import TimerConfig
from softphone.sip.transaction import Send, TransactionId
from softphone.sip.transport import Peer, TransportKind
from softphone.sip.uri import NameAddr, SipUri, Uri, parse_name_addr, parse_uri, unescape

__all__ = ["Call", "CallControl", "CallState", "Leg", "Signalling", "peer_of_binding"]

logger = logging.getLogger("softphone.calls")

SDP = "application/sdp"
# RFC 3326 + RFC 3261 §9.1 / RFC 5923-era practice (3CX, Asterisk, FreeSWITCH all send it):
# the phones that did not answer show "answered elsewhere" instead of a missed call.
ANSWERED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'
BUSY_STATUSES = frozenset({486, 600})
DECLINED_STATUSES = frozenset({603})
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY"
VOICEMAIL_MENU_NUMBER = "999"  # SPEC.md S4: listen to one's voicemail
_call_numbers = itertools.count(1)


class ClientRequest(Protocol):
    tid: TransactionId
    final: asyncio.Future[SipResponse | None]


class Signalling(Protocol):
    """What call control needs from the engine's SIP side (``Engine`` implements it)."""

    domain: str

    def send_request(self, request: SipRequest, destination: Peer, *,
                     on_response: Callable[[SipResponse], None] | None = None,
                     ) -> ClientRequest: ...

    def cancel(self, tid: TransactionId, reason: str | None) -> None: ...

    def respond(self, tid: TransactionId, request: SipRequest, status: int,
                headers: list[tuple[str, str]] | None = None, detail: str = "", *,
                to_tag: str | None = None, body: bytes = b"") -> SipResponse | None: ...

    def send_direct(self, message: SipRequest | SipResponse, destination: Peer) -> bool: ...

    def via(self, kind: TransportKind) -> Via: ...

    def contact(self, kind: TransportKind) -> NameAddr: ...


class CallState(enum.StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


class LegRole(enum.StrEnum):
    CALLER = "caller"
    CALLEE = "callee"


@dataclass(frozen=True, slots=True)
class Party:
    number: str
    name: str = ""
    extension: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """A party to ring: who, at which devices, for how long."""

    party: Party
    bindings: list[Binding]
    ring_seconds: float
    route: TrunkRoute | None = None  # an external number: out through this trunk


class Attempt:
    """Ringing one party's devices for a call (all at once, §16.6-style parallel forking)."""

    def __init__(self, call: Call, target: Target, presented_as: Party,
                 on_answer: Callable[[Leg], None],
                 on_fail: Callable[[list[int]], None]) -> None:
        self.call = call
        self.target = target
        self.presented_as = presented_as  # the identity shown on the ringing phones (From)
        self.on_answer = on_answer
        self.on_fail = on_fail
        self.branches: list[Leg] = []
        self.done = False
        self.timed_out = False
        self.timer: asyncio.TimerHandle | None = None

    def finish(self) -> None:
        self.done = True
        if self.timer is not None:
            self.timer.cancel()


class Leg:
    """One SIP dialog of a call and the relay leg that faces its phone."""

    def __init__(self, call: Call, role: LegRole, media: RelayLeg, peer: Peer,
                 invite: SipRequest, local_tag: str, device: str = "", *,
                 party: Party | None = None, attempt: Attempt | None = None) -> None:
        self.call = call
        self.party = party
        self.attempt = attempt
        self.role = role
        self.media = media
        self.sdp = LegSdp(media.relay.host, media.local_port)
        self.peer = peer
        self.invite = invite  # the INVITE that made the leg (received or sent)
        self.local_tag = local_tag
        self.device = device
        self.dialog: Dialog | None = None
        self.remote: RemoteMedia | None = None
        self.tid: TransactionId | None = None
        self.status: int | None = None  # a branch's final status
        self.retransmit: SuccessRetransmission | None = None
        self.retransmit_timer: asyncio.TimerHandle | None = None
        self.auth: TrunkAuth | None = None  # the carrier's credentials (a trunk leg)
        self.auth_tried = False

    def __repr__(self) -> str:
        return f"Leg({self.call.id} {self.role} {self.peer})"

    @property
    def holding(self) -> bool:
        return self.remote is not None and self.remote.holding

    @property
    def key(self) -> tuple[str, str]:
        return self.invite.call_id, self.local_tag


class Call:
    def __init__(self, server_tid: TransactionId, invite: SipRequest, caller: Party,
                 callee: Party, direction: CallDirection, started_at: float) -> None:
        self.id = f"c{next(_call_numbers)}-{secrets.token_hex(4)}"
        self.server_tid = server_tid  # the caller's INVITE transaction
        self.invite = invite
        self.caller_tag = new_tag()  # our To tag towards the caller, in every response
        self.state = CallState.RINGING
        self.caller_party = caller
        self.callee_party = callee
        # The two connected legs (a transfer replaces one of them); while ringing, the
        # current attempt's branches.
        self.caller: Leg | None = None
        self.callee: Leg | None = None
        self.attempt: Attempt | None = None
        self.transfer: Transfer | None = None
        self.voicemail: VoicemailSession | None = None
        self.menu: VoicemailMenu | None = None  # the 999 menu
        self.on_digit: Callable[[str], None] | None = None  # keys go here, not to the peer
        self.early: Leg | None = None  # the branch whose early media the caller hears
        self.our_answer: SessionDescription | None = None  # to the caller's offer
        self.sent_ringing = False
        self.record = CallRecord(
            call_id=self.id, direction=direction, caller_number=caller.number,
            caller_name=caller.name, caller_extension=caller.extension,
            callee_number=callee.number, callee_name=callee.name,
            callee_extension=callee.extension, started_at=started_at)

    def __repr__(self) -> str:
        return f"Call({self.id} {self.caller_party.number}->{self.callee_party.number} " \
               f"{self.state})"

    @property
    def branches(self) -> list[Leg]:
        return self.attempt.branches if self.attempt is not None else []

    def legs(self) -> list[Leg]:
        legs = [leg for leg in (self.caller, self.callee) if leg is not None]
        if self.transfer is not None and self.transfer.transferrer not in legs:
            legs.append(self.transfer.transferrer)
        return legs + [b for b in self.branches if b not in legs]

    def other(self, leg: Leg) -> Leg | None:
        if leg is self.caller:
            return self.callee
        return self.caller if leg is self.callee else None


@dataclass(slots=True)
class Transfer:
    """A blind transfer in progress (RFC 3515): who asked, who waits, whom we ring."""

    transferrer: Leg
    transferee: Leg
    target: Party
    refer_dialog: Dialog  # the transferrer's dialog, where the sipfrag NOTIFYs go
    returning: bool = False  # the target failed: ringing the transferrer again


def peer_of_binding(binding: Binding) -> Peer:
    """Where to send requests for a registered device.

    Over TCP/TLS: back down the connection its REGISTER came on. Over UDP: the Contact, unless
    the REGISTER came from another host than the Contact names — then the phone is behind NAT
    and only the address its REGISTER really came from reaches it (RFC 3581-style symmetric
    signalling, what Kamailio's fix_nated_contact and Asterisk's force_rport do). Same host,
    other port is not NAT: a phone that sends from one port and listens on another (or a
    registration made for it) is reached at its Contact."""
    uri = parse_uri(binding.contact)
    if not isinstance(uri, SipUri):
        raise RemoteProtocolError(f"contact {binding.contact[:60]!r} is not a SIP URI")
    transport = (uri.param("transport") or "udp").lower()
    kind = TransportKind(transport) if transport in ("udp", "tcp", "tls") else TransportKind.UDP
    contact = Peer(kind, uri.host.strip("[]"), uri.port or (5061 if kind == "tls" else 5060))
    kind_text, _, rest = binding.source.partition(":")
    host, _, port = rest.rpartition(":")
    if kind_text not in TransportKind.__members__.values() or not host or not port.isdigit():
        return contact
    source = Peer(TransportKind(kind_text), host.strip("[]"), int(port))
    if source.kind is not TransportKind.UDP or source.host != contact.host:
        return source
    return contact


class CallControl:
    """Every call of one engine. Runs on the engine's loop; every method is synchronous
    except where it awaits the store (``resolve``) or a relay port."""

    def __init__(self, signalling: Signalling, relay: MediaRelay, *,
                 timers: TimerConfig, wall_clock: Callable[[], float],
                 save_record: Callable[[CallRecord], None],
                 resolve: Callable[[str], Awaitable[Target | None]],
                 user_agent: str = "pbxweb", transfer_ring_seconds: float = 20.0,
                 voicemail_store: PbxStore | None = None,
                 prompts: Prompts | None = None,
                 on_voicemail: Callable[[str], None] | None = None) -> None:
        self.signalling = signalling
        self.relay = relay
        self.timers = timers
        self.wall_clock = wall_clock
        self.save_record = save_record
        self.resolve = resolve  # an extension number -> whom to ring, or None
        self.user_agent = user_agent
        self.transfer_ring_seconds = transfer_ring_seconds
        self.voicemail_store = voicemail_store  # None: no voicemail (unanswered: 480)
        self.prompts = prompts or Prompts(Path("var/prompts"))
        self.on_voicemail = on_voicemail  # a message was left in this mailbox (MWI)
        self.calls: dict[str, Call] = {}
        self._by_server_tid: dict[TransactionId, Call] = {}
        self._dialogs: dict[tuple[str, str], Leg] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- a new call (the engine has authenticated the caller and routed the INVITE) ------------
    async def place(self, tid: TransactionId, invite: SipRequest, source: Peer, *,
                    caller: Party, target: Target, direction: CallDirection) -> Call:
        call = Call(tid, invite, caller, target.party, direction, self.wall_clock())
        self.calls[call.id] = call
        self._by_server_tid[tid] = call
        straight_to_voicemail: MailboxInfo | None = None
        if not target.bindings and target.route is None:  # nobody to ring
            straight_to_voicemail = await self._mailbox_of(call)
            if straight_to_voicemail is None:  # and no voicemail: no media needed either
                self._fail(call, 480, Disposition.MISSED, "no registered device")
                return call
        leg = await self._caller_leg(call, tid, invite, source, caller, "caller")
        if leg is None:
            return call
        self._index(leg)
        if straight_to_voicemail is not None:
            if call.state is CallState.RINGING:  # not cancelled meanwhile
                self._to_voicemail(call, straight_to_voicemail)
            return call
        attempt = Attempt(call, target, caller, lambda branch: self._connect(call, branch),
                          lambda statuses: self._all_branches_failed(call, statuses))
        await self._ring(attempt)
        return call

    async def _caller_leg(self, call: Call, tid: TransactionId, invite: SipRequest,
                          source: Peer, caller: Party, name: str) -> Leg | None:
        """The caller's leg: a relay port answering its SDP offer; None (the call failed
        with 400/488) when the offer is missing or unusable."""
        try:
            offer = parse_sdp(invite.body) if invite.body else None
            if offer is None:
                # Late offer (§13.2.1: the offer in our 2xx, the answer in the ACK) is not
                # supported yet; every phone we know sends its offer in the INVITE.
                raise SdpError("an INVITE without an SDP offer is not supported", 488)
            media = await self.relay.open_leg(name=f"{call.id}-{name}")
            leg = Leg(call, LegRole.CALLER, media, source, invite, call.caller_tag,
                      party=caller)
            leg.tid = tid
            call.caller = leg
            call.our_answer = leg.sdp.answer(offer)
            leg.remote = media_of(offer, call.our_answer)
            self._apply_remote(leg)
        except RemoteProtocolError as error:
            status = error.status_hint if 400 <= error.status_hint < 700 else 400
            self._fail(call, status, Disposition.FAILED, f"bad offer: {error.msg}",
                       warning=error.msg)
            return None
        return leg

    def refuse(self, tid: TransactionId, invite: SipRequest, *, caller: Party, callee: Party,
               direction: CallDirection, status: int, disposition: Disposition,
               detail: str) -> None:
        """A call refused before anything rings (a forbidden or unroutable number): the
        caller gets ``status`` and the attempt still gets its record."""
        call = Call(tid, invite, caller, callee, direction, self.wall_clock())
        self.calls[call.id] = call
        self._by_server_tid[tid] = call
        self._fail(call, status, disposition, detail, warning=detail)

    async def _ring(self, attempt: Attempt) -> None:
        """Fork to every device of the attempt's target at once; arm its ring timer."""
        call = attempt.call
        call.attempt = attempt
        route = attempt.target.route
        if route is not None:
            await self._fork(attempt, route.destination, route.request_uri,
                             f"trunk {route.trunk}", from_uri=route.from_uri, auth=route.auth)
        for binding in attempt.target.bindings:
            try:
                peer, target = peer_of_binding(binding), parse_uri(binding.contact)
            except (RemoteProtocolError, ValueError):
                logger.warning("%r: unusable binding %s", call, binding.contact[:80])
                continue
            await self._fork(attempt, peer, target, binding.user_agent or binding.contact)
            if attempt.done or call.state is CallState.ENDED:  # given up while forking
                return
        if not attempt.branches:
            attempt.finish()
            attempt.on_fail([480])
            return
        attempt.timer = asyncio.get_running_loop().call_later(
            attempt.target.ring_seconds, self._ring_timeout, attempt)
        logger.info("%r: ringing %s on %d device(s)", call, attempt.target.party.number,
                    len(attempt.branches))

    async def _fork(self, attempt: Attempt, peer: Peer, target: Uri, device: str, *,
                    from_uri: SipUri | None = None, auth: TrunkAuth | None = None) -> None:
        """One branch: an INVITE from the engine to one device (or the carrier)."""
        call = attempt.call
        media = await self.relay.open_leg(name=f"{call.id}-{attempt.target.party.number}")
        call_id = f"{secrets.token_hex(10)}@pbxweb"
        tag = new_tag()
        shown, callee = attempt.presented_as, attempt.target.party
        leg_sdp = LegSdp(media.relay.host, media.local_port)
        body = bytes(leg_sdp.offer())
        domain = self.signalling.domain
        fields = [
            ("Via", str(self.signalling.via(peer.kind))),
            ("Max-Forwards", "70"),
            ("From", str(NameAddr(from_uri or SipUri(domain, user=shown.number),
                                  display_name=shown.name or None).with_tag(tag))),
            ("To", str(NameAddr(target if auth is not None or from_uri is not None
                                else SipUri(domain, user=callee.number),
                                display_name=callee.name or None))),
            ("Call-ID", call_id),
            ("CSeq", str(CSeq(1, "INVITE"))),
            ("Contact", str(self.signalling.contact(peer.kind))),
            ("Allow", ALLOW),
            ("User-Agent", self.user_agent),
            ("Content-Type", SDP),
        ]
        invite = SipRequest("INVITE", target, Headers(fields), body)
        leg = Leg(call, LegRole.CALLEE, media, peer, invite, tag, device=device, party=callee,
                  attempt=attempt)
        leg.sdp = leg_sdp
        leg.auth = auth
        attempt.branches.append(leg)
        self._index(leg)
        self._send_invite(leg)

    def _send_invite(self, leg: Leg) -> None:
        sent = self.signalling.send_request(
            leg.invite, leg.peer,
            on_response=lambda response: self._branch_response(leg, response))
        leg.tid = sent.tid
        sent.final.add_done_callback(lambda future: self._branch_done(leg, future))

    # -- responses from the ringing devices --------------------------------------------------
    def _branch_response(self, leg: Leg, response: SipResponse) -> None:
        status = response.status_code
        if status == 100:
            return
        if 100 < status < 200:
            self._branch_ringing(leg, response)
        elif 200 <= status < 300:
            self._branch_answered(leg, response)
        else:
            leg.status = status

    def _branch_ringing(self, leg: Leg, response: SipResponse) -> None:
        call, attempt = leg.call, leg.attempt
        if attempt is None or attempt.done or response.to_tag is None:
            return
        if leg.dialog is None:
            leg.dialog = Dialog.as_uac(leg.invite, response,
                                       self.signalling.contact(leg.peer.kind))
        if call.state is not CallState.RINGING:
            return  # a transfer's target rings: the transferee keeps its music on hold
        if response.body and response.content_type == SDP and call.early is None:
            self._early_media(call, leg, response)
        elif not call.sent_ringing and call.early is None:
            call.sent_ringing = True
            self._answer_caller(call, 180)

    def _early_media(self, call: Call, leg: Leg, response: SipResponse) -> None:
        """RFC 3960 early media (a callee's ringback or announcement): the caller hears the
        branch that sent SDP first in a 1xx."""
        try:
            leg.remote = media_of(parse_sdp(response.body))
        except RemoteProtocolError:
            return
        self._apply_remote(leg)
        call.early = leg
        assert call.caller is not None
        self.relay.set_source(call.caller.media, leg.media)
        self._answer_caller(call, 183, sdp=True)

    def _branch_answered(self, leg: Leg, response: SipResponse) -> None:
        call, attempt = leg.call, leg.attempt
        if leg.dialog is None or leg.dialog.id.remote_tag != (response.to_tag or ""):
            leg.dialog = Dialog.as_uac(leg.invite, response,
                                       self.signalling.contact(leg.peer.kind))
        else:
            leg.dialog.receive_response(leg.invite, response)
        if leg.dialog.last_ack is not None:  # a retransmitted 2xx: our ACK got lost (§13.2.2.4)
            self.signalling.send_direct(leg.dialog.last_ack, leg.peer)
            return
        ack = leg.dialog.ack_for_2xx(leg.invite, self.signalling.via(leg.peer.kind))
        self.signalling.send_direct(ack, leg.peer)
        if attempt is None or attempt.done or call.state is CallState.ENDED:
            # Answered elsewhere a moment earlier, or the caller hung up meanwhile: the
            # 2xx crossed our CANCEL. Acknowledge, then end this device's call (§15).
            self._bye(leg)
            self._close_leg(leg)
            return
        try:
            leg.remote = media_of(parse_sdp(response.body))
        except RemoteProtocolError as error:
            logger.warning("%r: unusable answer from %s (%s)", call, leg.peer, error.msg)
            self._bye(leg)
            leg.status = 488
            self._close_leg(leg)
            self._maybe_all_failed(attempt)
            return
        attempt.finish()
        for other in attempt.branches:
            if other is not leg and other.status is None:
                self._cancel_branch(other, ANSWERED_ELSEWHERE)
        self._apply_remote(leg)
        attempt.on_answer(leg)

    def _branch_done(self, leg: Leg,
                     future: asyncio.Future[SipResponse | None]) -> None:
        """The branch's INVITE transaction has its final outcome (a non-2xx, a timeout)."""
        response = None if future.cancelled() else future.result()
        if response is not None and leg.auth is not None and not leg.auth_tried \
                and (leg.attempt is None or not leg.attempt.done):
            # The carrier challenges our INVITE (§22.2): answer once, same Call-ID and tag.
            leg.auth_tried = True
            retry = with_auth(leg.invite, response, leg.auth,
                              str(self.signalling.via(leg.peer.kind)))
            if retry is not None:
                leg.invite = retry
                leg.status = None
                self._send_invite(leg)
                return
        if response is None:
            leg.status = leg.status or 408
        elif response.status_code >= 300:
            leg.status = response.status_code
        else:
            return
        if leg is not leg.call.callee:
            self._close_leg(leg)
        if leg.attempt is not None:
            self._maybe_all_failed(leg.attempt)

    def _maybe_all_failed(self, attempt: Attempt) -> None:
        if not attempt.done and all(b.status is not None for b in attempt.branches):
            attempt.finish()
            attempt.on_fail([b.status for b in attempt.branches if b.status is not None])

    def _ring_timeout(self, attempt: Attempt) -> None:
        if attempt.done:
            return
        attempt.finish()
        attempt.timed_out = True
        for branch in attempt.branches:
            if branch.status is None:
                self._cancel_branch(branch, None)
        attempt.on_fail([480])

    def _all_branches_failed(self, call: Call, statuses: list[int]) -> None:
        """Nobody took the call: voicemail if the callee has a box, else the best failure."""
        if call.state is not CallState.RINGING:
            return
        if self.voicemail_store is not None and call.callee_party.extension is not None:
            self._spawn(self._voicemail_or_fail(call, statuses))
            return
        self._fail_unanswered(call, statuses)

    async def _voicemail_or_fail(self, call: Call, statuses: list[int]) -> None:
        mailbox = await self._mailbox_of(call)
        if call.state is not CallState.RINGING:
            return  # the caller gave up while we looked
        if mailbox is None:
            self._fail_unanswered(call, statuses)
        else:
            self._to_voicemail(call, mailbox)

    def _fail_unanswered(self, call: Call, statuses: list[int]) -> None:
        if call.attempt is not None and call.attempt.timed_out:
            self._fail(call, 480, Disposition.MISSED, "no answer", ended_by="timeout")
        elif statuses and all(s in BUSY_STATUSES for s in statuses):
            self._fail(call, 486, Disposition.BUSY, "busy everywhere")
        elif any(s in DECLINED_STATUSES for s in statuses) and all(
                s in BUSY_STATUSES | DECLINED_STATUSES for s in statuses):
            self._fail(call, 603, Disposition.MISSED, "declined")
        elif any(s in BUSY_STATUSES for s in statuses):
            self._fail(call, 486, Disposition.BUSY, "busy")
        else:
            self._fail(call, 480, Disposition.MISSED, f"no device answered {statuses}")

    # -- the caller's side ----------------------------------------------------------------------
    def _answer_caller(self, call: Call, status: int, *, sdp: bool = False) -> None:
        leg = call.caller
        assert leg is not None and leg.tid is not None
        headers = [("Contact", str(self.signalling.contact(leg.peer.kind))),
                   ("Allow", ALLOW)]
        body = b""
        if sdp and call.our_answer is not None:
            headers.append(("Content-Type", SDP))
            body = bytes(call.our_answer)
        self.signalling.respond(leg.tid, leg.invite, status, headers,
                                f"{call.id}", to_tag=leg.local_tag, body=body)

    def _connect(self, call: Call, leg: Leg) -> None:
        """The first 2xx of the first attempt: this branch is the callee."""
        caller = call.caller
        assert caller is not None and caller.tid is not None and call.our_answer is not None
        call.callee = leg
        call.state = CallState.ANSWERED
        self._route_media(call)
        record = call.record
        record.answered_at = self.wall_clock()
        record.answered_by = call.callee_party.extension or call.callee_party.number
        record.answered_device = leg.device
        record.disposition = Disposition.ANSWERED
        record.status_code = 200
        self._success_to_caller(call)
        for each in (caller, leg):
            self._watch(each)
        logger.info("%r: answered by %s", call, leg.device[:60])

    def _success_to_caller(self, call: Call) -> None:
        """200 with our SDP answer to the caller's INVITE: its dialog begins (§12.1.1)."""
        caller = call.caller
        assert caller is not None and caller.tid is not None and call.our_answer is not None
        self._accept(caller, caller.tid, caller.invite, call.id, to_tag=caller.local_tag,
                     body=bytes(call.our_answer), headers=[("Allow", ALLOW)],
                     new_dialog=True)

    def _accept(self, leg: Leg, tid: TransactionId, invite: SipRequest, detail: str, *,
                body: bytes, to_tag: str | None = None,
                headers: list[tuple[str, str]] | None = None,
                new_dialog: bool = False) -> None:
        """A 2xx with SDP to an INVITE or re-INVITE from ``leg``'s phone, retransmitted until
        its ACK (§13.3.1.4); ``new_dialog``: the INVITE creates ``leg``'s dialog."""
        contact = self.signalling.contact(leg.peer.kind)
        response = self.signalling.respond(
            tid, invite, 200, [("Contact", str(contact)), *(headers or []),
                               ("Content-Type", SDP)], detail, to_tag=to_tag, body=body)
        if response is None:
            return  # the transaction is gone (a CANCEL won the race)
        if new_dialog:
            assert to_tag is not None
            leg.dialog = Dialog.as_uas(invite, to_tag, contact)
            leg.dialog.response_sent(invite, response)
        self._retransmit_until_acked(leg, response)

    # -- 2xx retransmission until the ACK (§13.3.1.4) --------------------------------------------
    def _retransmit_until_acked(self, leg: Leg, response: SipResponse) -> None:
        loop = asyncio.get_running_loop()
        if leg.retransmit_timer is not None:
            leg.retransmit_timer.cancel()
        leg.retransmit = SuccessRetransmission(response, leg.peer, timers=self.timers,
                                               now=loop.time())
        self._arm_retransmit(leg)

    def _arm_retransmit(self, leg: Leg) -> None:
        deadline = leg.retransmit.next_deadline() if leg.retransmit else None
        leg.retransmit_timer = None if deadline is None else \
            asyncio.get_running_loop().call_at(deadline, self._retransmit_due, leg)

    def _retransmit_due(self, leg: Leg) -> None:
        assert leg.retransmit is not None
        for effect in leg.retransmit.handle_timeout(asyncio.get_running_loop().time()):
            if isinstance(effect, Send):
                assert isinstance(effect.message, SipResponse)
                self.signalling.send_direct(effect.message, leg.peer)
            elif isinstance(effect, AckTimeout):
                logger.info("%r: no ACK from %s; hanging up", leg.call, leg.peer)
                self._hang_up(leg.call, None, "no ACK")
                return
        self._arm_retransmit(leg)

    def ack_received(self, ack: SipRequest) -> None:
        """An ACK outside any transaction: the one for our 2xx (§13.3.1.4, §17.1.1.3)."""
        leg = self._dialogs.get((ack.call_id, ack.to_tag or ""))
        if leg is None or leg.retransmit is None:
            return
        if leg.retransmit.ack_received(ack) and leg.retransmit_timer is not None:
            leg.retransmit_timer.cancel()
            leg.retransmit_timer = None

    # -- the caller gives up, nobody answers ------------------------------------------------
    def cancelled(self, tid: TransactionId) -> bool:
        """The caller's CANCEL arrived (§9.2); False when no ringing call has ``tid``."""
        call = self._by_server_tid.get(tid)
        if call is None or call.state is not CallState.RINGING:
            return False
        self._fail(call, 487, Disposition.CANCELLED, "cancelled by the caller",
                   ended_by="caller")
        return True

    def _fail(self, call: Call, status: int, disposition: Disposition, detail: str, *,
              ended_by: str = "", warning: str | None = None) -> None:
        """End a call that was never answered: answer the caller ``status``, stop every
        branch, write the record."""
        if call.attempt is not None:
            call.attempt.finish()
        for branch in call.branches:
            if branch.status is None:
                self._cancel_branch(branch, None)
        headers = [("Warning", f'399 pbxweb "{_quoted(warning)}"')] if warning else []
        self.signalling.respond(call.server_tid, call.invite, status, headers, detail,
                                to_tag=call.caller_tag)
        call.record.disposition = disposition
        call.record.status_code = status
        call.record.ended_by = ended_by or ("callee" if status in (486, 603) else "")
        logger.info("%r: %d (%s)", call, status, detail)
        self._end(call)

    # -- inside a dialog -------------------------------------------------------------------------
    def in_dialog(self, tid: TransactionId, request: SipRequest, source: Peer) -> bool:
        """A request with a To tag (§12.2.2). False when it matches none of our dialogs (the
        engine answers 481)."""
        leg = self._dialogs.get((request.call_id, request.to_tag or ""))
        if leg is None or leg.dialog is None or leg.call.state is CallState.ENDED:
            return False
        try:
            leg.dialog.receive_request(request)
        except RemoteProtocolError as error:
            self.signalling.respond(tid, request, error.status_hint, detail=error.msg)
            return True
        method = request.method
        call = leg.call
        if method == "BYE":
            self.signalling.respond(tid, request, 200, detail=call.id)
            transfer = call.transfer
            if transfer is not None and leg is transfer.transferrer:
                # RFC 5589 §6.1: the transferor hangs up once its REFER is accepted (most
                # desk phones do at once); the transferee stays, on music on hold.
                self._leave(call, leg)
            else:
                self._hang_up(call, leg, leg.role.value)
        elif method == "REFER":
            self._spawn(self._refer(tid, leg, request))
        elif method == "INVITE":
            self._reinvite(tid, leg, request)
        elif method == "INFO":
            self._info(tid, leg, request)
        elif method in ("OPTIONS", "NOTIFY"):
            self.signalling.respond(tid, request, 200, detail=leg.call.id)
        else:
            self.signalling.respond(
                tid, request, 405, [("Allow", ALLOW)])
        return True

    def _info(self, tid: TransactionId, leg: Leg, request: SipRequest) -> None:
        """SIP INFO DTMF (``application/dtmf-relay``, ``application/dtmf``): the key press
        reaches the other party as RFC 4733 telephone-events, as if sent in the media — one
        way for the other phone, whichever way this one signals it. An empty INFO (a
        keep-alive) gets 200; another body 415."""
        if not request.body:
            self.signalling.respond(tid, request, 200, detail=f"{leg.call.id} empty INFO")
            return
        if request.content_type not in DTMF_INFO_TYPES:
            self.signalling.respond(tid, request, 415, [("Accept", ", ".join(DTMF_INFO_TYPES))],
                                    detail=f"INFO with {request.content_type}")
            return
        digit = dtmf_of_info(request.body)
        if digit is None:
            self.signalling.respond(tid, request, 400, [
                ("Warning", '399 pbxweb "no DTMF digit in the INFO body"')],
                detail="INFO without a digit")
            return
        self.signalling.respond(tid, request, 200, detail=f"{leg.call.id} DTMF {digit}")
        if leg.call.on_digit is not None:
            leg.call.on_digit(digit)
            return
        other = leg.call.other(leg)
        if other is not None and not other.media.closed:
            self._send_digit(leg, other, digit)

    def _send_digit(self, source: Leg, target: Leg, digit: str) -> None:
        """Telephone-event packets into ``target``'s stream, paced like a phone sends them
        (RFC 4733 §2.5), as if they came from ``source``'s leg."""
        event_pt = source.media.format.event_pt
        if event_pt is None or target.media.format.event_pt is None:
            return  # the other phone negotiated no telephone-event: nothing can carry it
        packets = build_digit_packets(digit, payload_type=event_pt,
                                      ssrc=secrets.randbits(32),
                                      first_sequence=secrets.randbits(16),
                                      timestamp=secrets.randbits(32))
        loop = asyncio.get_running_loop()
        interval = DEFAULT_PACKET_SAMPLES / 8000
        media = target.media
        for index, packet in enumerate(packets):
            loop.call_later(index * interval, _emit_if_open, media, packet)

    def _reinvite(self, tid: TransactionId, leg: Leg, request: SipRequest) -> None:
        """A re-INVITE (§14.2): hold, resume or a new address. The engine answers it itself;
        the other party's phone never hears of it — only the relay is re-pointed."""
        call = leg.call
        if call.state is not CallState.ANSWERED:
            self.signalling.respond(tid, request, 491, detail="the call is not set up yet")
            return
        if not request.body:
            self.signalling.respond(tid, request, 488, [
                ("Warning", '399 pbxweb "a re-INVITE needs an SDP offer here"')])
            return
        try:
            offer = parse_sdp(request.body)
            wanted = Direction.SENDRECV
            answer = leg.sdp.answer(offer, wanted)
            remote = media_of(offer, answer)
        except RemoteProtocolError as error:
            # §14.2: a refused re-INVITE leaves the session as it was.
            self.signalling.respond(tid, request, error.status_hint, [
                ("Warning", f'399 pbxweb "{_quoted(error.msg)}"')], detail=error.msg)
            return
        was_holding = leg.holding
        leg.remote = remote
        self._apply_remote(leg)
        self._route_media(call)
        self._accept(leg, tid, request, f"{call.id} {'hold' if leg.holding else 'resume'}",
                     body=bytes(answer))
        if leg.holding != was_holding:
            logger.info("%r: %s %s", call, leg.role, "holds" if leg.holding else "resumes")
        if remote.direction is Direction.INACTIVE:
            self.relay.unwatch_inactivity(leg.media)
        else:
            self._watch(leg)

    # -- blind transfer (RFC 3515, RFC 5589 §6) ------------------------------------------------
    async def _refer(self, tid: TransactionId, leg: Leg, request: SipRequest) -> None:
        """``leg``'s phone asks us to hand the other party to Refer-To."""
        call = leg.call
        transferee = call.other(leg)
        if call.state is not CallState.ANSWERED or transferee is None \
                or call.transfer is not None:
            self.signalling.respond(tid, request, 491, detail="no call to transfer now")
            return
        try:
            number, replaces = refer_target(request)
        except RemoteProtocolError as error:
            self.signalling.respond(tid, request, error.status_hint, [
                ("Warning", f'399 pbxweb "{_quoted(error.msg)}"')], detail=error.msg)
            return
        if replaces is not None:
            self._attended(tid, leg, request, replaces)
            return
        target = await self.resolve(number)
        if call.state is not CallState.ANSWERED or call.transfer is not None:
            self.signalling.respond(tid, request, 491, detail="the call changed meanwhile")
            return
        if target is None:
            self.signalling.respond(tid, request, 404, detail=f"no extension {number[:20]!r}")
            return
        assert leg.dialog is not None
        self.signalling.respond(tid, request, 202, [("Contact", str(
            self.signalling.contact(leg.peer.kind)))], detail=f"{call.id} -> {number}")
        transfer = Transfer(leg, transferee, target.party, leg.dialog)
        call.transfer = transfer
        call.record.transfers.append(
            f"{_number(leg.party)} -> {target.party.number} (blind)")
        self._notify_transfer(transfer, 100)
        self._route_media(call)
        logger.info("%r: %s transfers %s to %s", call, _number(leg.party),
                    _number(transferee.party), target.party.number)
        await self._ring(Attempt(
            call, Target(target.party, target.bindings, min(target.ring_seconds,
                                                            self.transfer_ring_seconds)),
            transferee.party or call.caller_party,
            lambda branch: self._transfer_answered(transfer, branch),
            lambda statuses: self._transfer_failed(transfer, statuses)))

    # -- attended transfer (RFC 3891 Replaces) ------------------------------------------------
    def _attended(self, tid: TransactionId, leg: Leg, request: SipRequest,
                  replaces: Replaces) -> None:
        """``leg``'s phone has two calls — this one (the other party on hold) and the
        consultation named by Replaces — and asks us to join the two other parties."""
        consult = self._replaced_leg(replaces)
        if consult is None or consult is leg:
            self.signalling.respond(tid, request, 404, [
                ("Warning", '399 pbxweb "Replaces names no call of yours"')],
                detail="Replaces matches no dialog")
            return
        if consult.party is None or leg.party is None or \
                consult.party.number != leg.party.number:
            # Only one's own calls can be joined: never someone else's (RFC 3891 §3 asks
            # for authorization; a colleague's dialog ids are not a licence).
            self.signalling.respond(tid, request, 403, detail="Replaces names another's call")
            return
        first, second = leg.call, consult.call
        held, target = first.other(leg), second.other(consult)
        if target is None or held is None or second.state is not CallState.ANSWERED:
            self.signalling.respond(tid, request, 491, [
                ("Warning", '399 pbxweb "the consultation call is not answered"')],
                detail="consultation not answered")
            return
        self.signalling.respond(tid, request, 202, [("Contact", str(
            self.signalling.contact(leg.peer.kind)))], detail=f"{first.id} joins {second.id}")
        assert leg.dialog is not None
        self._notify_transfer(Transfer(leg, held, target.party or Party("?"), leg.dialog),
                              200, final=True)
        # The consultation's other party moves into this call, in the transferrer's place.
        self._detach(second, target)
        target.call = first
        if first.caller is leg:
            first.caller = target
        else:
            first.callee = target
        first.record.transfers.append(
            f"{_number(leg.party)} -> {_number(target.party)} (attended): answered")
        second.record.transfers.append(
            f"{_number(consult.party)} joined {_number(target.party)} to "
            f"{_number(held.party)} (attended)")
        for gone in (leg, consult):
            self._bye(gone)
            self._close_leg(gone)
        self._route_media(first)
        self._watch(target)
        second.record.ended_by = "transfer"
        self._end(second)
        logger.info("%r: attended transfer by %s: %s now talks with %s", first,
                    _number(leg.party), _number(held.party), _number(target.party))

    def _replaced_leg(self, replaces: Replaces) -> Leg | None:
        """The leg whose dialog Replaces names (tags as the engine sees them, §3)."""
        leg = self._dialogs.get((replaces.call_id, replaces.to_tag))
        if leg is None or leg.dialog is None or leg.dialog.id.remote_tag != replaces.from_tag:
            return None
        return leg

    @staticmethod
    def _detach(call: Call, leg: Leg) -> None:
        """Take ``leg`` out of ``call`` (it moves to another call)."""
        if call.caller is leg:
            call.caller = None
        if call.callee is leg:
            call.callee = None
        if call.attempt is not None and leg in call.attempt.branches:
            call.attempt.branches.remove(leg)
        leg.attempt = None

    # -- an INVITE with Replaces (RFC 3891 §3) ---------------------------------------------------
    async def replace(self, tid: TransactionId, invite: SipRequest, source: Peer, *,
                      caller: Party, replaces: Replaces) -> None:
        """A phone takes over a dialog of one of our calls: its new leg replaces the named
        one (an attended transfer completed by the phone, a pickup from a BLF key)."""
        old = self._replaced_leg(replaces)
        if old is None or old.call.state is CallState.ENDED:
            self.signalling.respond(tid, invite, 481, detail="Replaces matches no dialog")
            return
        call = old.call
        other = call.other(old)
        parties = {p.number for p in (old.party, other.party if other else None) if p}
        if caller.number not in parties:
            self.signalling.respond(tid, invite, 403, detail="Replaces names another's call")
            return
        confirmed = old.dialog is not None and old.dialog.state is DialogState.CONFIRMED
        if replaces.early_only and confirmed:
            self.signalling.respond(tid, invite, 486, detail="early-only, but answered")
            return
        if not confirmed or other is None or call.state is not CallState.ANSWERED:
            self.signalling.respond(tid, invite, 481, detail="only answered calls here")
            return
        try:
            offer = parse_sdp(invite.body) if invite.body else None
            if offer is None:
                raise SdpError("an INVITE without an SDP offer is not supported", 488)
            media = await self.relay.open_leg(name=f"{call.id}-replaces")
        except RemoteProtocolError as error:
            self.signalling.respond(tid, invite, error.status_hint, detail=error.msg)
            return
        leg = Leg(call, LegRole.CALLER, media, source, invite, new_tag(), party=caller)
        leg.tid = tid
        try:
            answer = leg.sdp.answer(offer)
            leg.remote = media_of(offer, answer)
        except RemoteProtocolError as error:
            self.relay.close_leg(media)
            self.signalling.respond(tid, invite, error.status_hint, detail=error.msg)
            return
        if call.state is not CallState.ANSWERED or call.other(old) is None:
            self.relay.close_leg(media)
            self.signalling.respond(tid, invite, 481, detail="the call ended meanwhile")
            return
        self._accept(leg, tid, invite, f"{call.id} replaced", body=bytes(answer),
                     to_tag=leg.local_tag, headers=[("Allow", ALLOW)], new_dialog=True)
        self._index(leg)
        self._apply_remote(leg)
        if call.caller is old:
            call.caller = leg
        else:
            call.callee = leg
        call.record.transfers.append(f"{_number(old.party)} replaced by {caller.number}")
        self._bye(old)
        self._close_leg(old)
        self._route_media(call)
        self._watch(leg)
        logger.info("%r: %s took over the dialog of %s", call, caller.number,
                    _number(old.party))

    def _transfer_answered(self, transfer: Transfer, leg: Leg) -> None:
        call = transfer.transferee.call
        gone = transfer.transferrer
        if call.caller is gone:
            call.caller = leg
        else:
            call.callee = leg
        call.transfer = None
        call.attempt = None
        outcome = "back to the transferrer" if transfer.returning else "answered"
        call.record.transfers[-1] += f": {outcome}"
        self._notify_transfer(transfer, 200, final=True)
        self._route_media(call)
        self._watch(leg)
        if gone.dialog is not None and gone.dialog.state is DialogState.CONFIRMED:
            self._bye(gone)  # RFC 5589: the transferor's part is over
        if gone is not call.caller and gone is not call.callee:
            self._close_leg(gone)
        logger.info("%r: transfer %s, now with %s", call, outcome, leg.device[:60])

    def _transfer_failed(self, transfer: Transfer, statuses: list[int]) -> None:
        """The target did not answer or was busy: the call comes back (SPEC.md C3)."""
        call = transfer.transferee.call
        if call.state is CallState.ENDED:
            return
        status = 486 if statuses and all(s in BUSY_STATUSES for s in statuses) else 480
        back = transfer.transferrer
        if back.dialog is not None and back.dialog.state is DialogState.CONFIRMED:
            # Still on the line (e.g. waiting for the outcome): reconnect at once.
            call.transfer = None
            call.attempt = None
            call.record.transfers[-1] += f": {status}, back to the transferrer"
            self._notify_transfer(transfer, status, final=True)
            self._route_media(call)
            logger.info("%r: transfer failed (%d); back with the transferrer", call, status)
            return
        if transfer.returning:
            call.record.transfers[-1] += f": {status}, nobody took the call back"
            logger.info("%r: the transferrer did not take the call back", call)
            self._hang_up(call, None, "transfer-failed")
            return
        transfer.returning = True
        call.record.transfers[-1] += f": {status}, ringing the transferrer again"
        self._spawn(self._ring_back(transfer))

    async def _ring_back(self, transfer: Transfer) -> None:
        call = transfer.transferee.call
        party = transfer.transferrer.party
        target = await self.resolve(party.number) if party is not None else None
        if target is None or call.state is CallState.ENDED:
            self._hang_up(call, None, "transfer-failed")
            return
        logger.info("%r: ringing the transferrer %s again", call, party.number if party else "")
        await self._ring(Attempt(
            call, Target(target.party, target.bindings, target.ring_seconds),
            transfer.transferee.party or call.caller_party,
            lambda branch: self._transfer_answered(transfer, branch),
            lambda statuses: self._transfer_failed(transfer, statuses)))

    def _leave(self, call: Call, leg: Leg) -> None:
        """The transferrer hung up during its transfer: its leg goes, the call stays."""
        self.relay.unwatch_inactivity(leg.media)
        self._close_leg(leg)

    def _notify_transfer(self, transfer: Transfer, status: int, *, final: bool = False) -> None:
        """RFC 3515 §2.4.5: the outcome of the REFER as a sipfrag NOTIFY to the
        transferrer, while its dialog lasts."""
        dialog = transfer.refer_dialog
        if dialog.state is not DialogState.CONFIRMED:
            return
        state = "terminated;reason=noresource" if final else "active;expires=60"
        notify = dialog.create_request(
            "NOTIFY", self.signalling.via(transfer.transferrer.peer.kind),
            headers=[("Event", "refer"), ("Subscription-State", state)],
            body=f"SIP/2.0 {status} {reason_phrase(status)}\r\n".encode(),
            content_type="message/sipfrag;version=2.0")
        self.signalling.send_request(notify, transfer.transferrer.peer)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                logger.error("call control task failed", exc_info=finished.exception())

        task.add_done_callback(done)

    # -- voicemail (issue #9) --------------------------------------------------------------------
    async def _mailbox_of(self, call: Call) -> MailboxInfo | None:
        number = call.callee_party.extension
        if self.voicemail_store is None or number is None:
            return None
        try:
            return await self.voicemail_store.mailbox(number)
        except Exception:  # no voicemail rather than no call
            logger.exception("looking up the mailbox of %s failed", number)
            return None

    def _to_voicemail(self, call: Call, mailbox: MailboxInfo) -> None:
        """Answer the caller ourselves and let them leave a message."""
        caller = call.caller
        assert caller is not None and self.voicemail_store is not None
        for branch in call.branches:
            if branch.status is None:
                self._cancel_branch(branch, None)
        if call.attempt is not None:
            call.attempt.finish()
        call.state = CallState.ANSWERED
        record = call.record
        record.disposition, record.status_code = Disposition.MISSED, 200
        record.answered_by = "voicemail"
        self._success_to_caller(call)
        session = VoicemailSession(
            media=caller.media, relay=self.relay, mailbox=mailbox, prompts=self.prompts,
            store=self.voicemail_store,
            start=VoicemailStart(mailbox.number, call.id, call.caller_party.number,
                                 call.caller_party.name, self.wall_clock()),
            on_done=lambda done: self._voicemail_done(call, done))
        call.voicemail = session
        self._listen_for_keys(call, session.digit)
        self._watch(caller)
        logger.info("%r: to the voicemail of %s", call, mailbox.number)
        self._spawn(session.run())

    def _listen_for_keys(self, call: Call, on_digit: Callable[[str], None]) -> None:
        """The caller's keys (RFC 4733 in its media, SIP INFO) go to ``on_digit``."""
        assert call.caller is not None
        call.on_digit = on_digit
        call.caller.media.on_dtmf = lambda _media, digit: on_digit(digit)

    async def voicemail_menu(self, tid: TransactionId, invite: SipRequest, source: Peer, *,
                             caller: Party, language: str) -> None:
        """999: the engine answers and reads the caller's own mailbox out (PIN first)."""
        call = Call(tid, invite, caller, Party(VOICEMAIL_MENU_NUMBER, "Voicemail"),
                    CallDirection.INTERNAL, self.wall_clock())
        self.calls[call.id] = call
        self._by_server_tid[tid] = call
        leg = await self._caller_leg(call, tid, invite, source, caller, "999")
        if leg is None:
            return
        self._index(leg)
        call.state = CallState.ANSWERED
        call.record.disposition, call.record.status_code = Disposition.ANSWERED, 200
        call.record.answered_at = self.wall_clock()
        call.record.answered_by = "voicemail menu"
        self._success_to_caller(call)
        assert self.voicemail_store is not None
        menu = VoicemailMenu(media=leg.media, relay=self.relay, prompts=self.prompts,
                             store=self.voicemail_store, mailbox=caller.number,
                             language=language,
                             on_done=lambda done: self._menu_done(call, done),
                             on_change=self.on_voicemail)
        call.menu = menu
        self._listen_for_keys(call, menu.digit)
        self._watch(leg)
        self._spawn(menu.run())

    def _menu_done(self, call: Call, menu: VoicemailMenu) -> None:
        logger.info("%r: 999 menu of %s ended (%s)", call, menu.mailbox, menu.outcome)
        if call.state is not CallState.ENDED:
            self._hang_up(call, None, "voicemail menu")

    def _voicemail_done(self, call: Call, session: VoicemailSession) -> None:
        call.record.ended_by = "voicemail" if session.kept else "caller"
        if session.kept and self.on_voicemail is not None:
            self.on_voicemail(session.mailbox.number)
        if call.state is CallState.ENDED:  # the caller hung up: the record waited for us
            self.save_record(call.record)
        else:  # '#', the maximum length, mailbox full: we release the caller
            self._hang_up(call, None, call.record.ended_by)

    # -- media ---------------------------------------------------------------------------------
    def _apply_remote(self, leg: Leg) -> None:
        remote = leg.remote
        if remote is None:
            return
        self.relay.set_format(leg.media, remote.format)
        if remote.address is not None:
            leg.media.set_remote(remote.address)
            leg.media.relatch()

    def _route_media(self, call: Call) -> None:
        """Who hears what (RFC 3264 §8.4 hold): a holding leg hears nothing; the other side
        of a holding leg hears music on hold; otherwise the two legs hear each other. During
        a blind transfer the transferee hears music and the transferrer nothing."""
        a, b = call.caller, call.callee
        if a is None or b is None:
            return
        if call.transfer is not None:
            self.relay.set_source(call.transfer.transferee.media, self.relay.music_on_hold)
            if not call.transfer.transferrer.media.closed:
                self.relay.set_source(call.transfer.transferrer.media, None)
            return
        for leg, other in ((a, b), (b, a)):
            if leg.holding:
                self.relay.set_source(leg.media, None)
            elif other.holding:
                self.relay.set_source(leg.media, self.relay.music_on_hold)
            else:
                self.relay.set_source(leg.media, other.media)

    def _watch(self, leg: Leg) -> None:
        """Hang up when this phone's RTP stops (it vanished: power, network, crash)."""
        def dead(_media: RelayLeg) -> None:
            self._media_dead(leg.call)  # the leg may have moved to another call meanwhile

        self.relay.watch_inactivity(leg.media, dead)

    def _media_dead(self, call: Call) -> None:
        if call.state is CallState.ANSWERED:
            logger.info("%r: no RTP any more; hanging up", call)
            self._hang_up(call, None, "rtp-timeout")

    # -- the end -----------------------------------------------------------------------------
    def _hang_up(self, call: Call, by: Leg | None, ended_by: str) -> None:
        if call.state is CallState.ENDED:
            return
        if call.attempt is not None and not call.attempt.done:  # e.g. a transfer ringing
            call.attempt.finish()
            for branch in call.attempt.branches:
                if branch.status is None:
                    self._cancel_branch(branch, None)
        for leg in call.legs():
            if leg is not by and leg.dialog is not None and not leg.dialog.terminated \
                    and leg.dialog.state is DialogState.CONFIRMED:
                self._bye(leg)
        if call.transfer is not None:
            self._notify_transfer(call.transfer, 487, final=True)
        call.record.ended_by = ended_by
        self._end(call)

    def _bye(self, leg: Leg) -> None:
        if leg.dialog is None or leg.dialog.terminated:
            return
        bye = leg.dialog.create_request("BYE", self.signalling.via(leg.peer.kind),
                                        headers=[("User-Agent", self.user_agent)])
        self.signalling.send_request(bye, leg.peer)

    def _cancel_branch(self, leg: Leg, reason: str | None) -> None:
        if leg.tid is not None:
            self.signalling.cancel(leg.tid, reason)

    def _end(self, call: Call) -> None:
        call.state = CallState.ENDED
        if call.attempt is not None:
            call.attempt.finish()
        for leg in call.legs():
            self._close_leg(leg)
        call.record.ended_at = self.wall_clock()
        self.calls.pop(call.id, None)
        self._by_server_tid.pop(call.server_tid, None)
        if call.menu is not None and call.menu.state is not MenuState.DONE:
            call.menu.caller_left()
        session = call.voicemail
        if session is not None and session.state is not VoicemailState.DONE:
            session.caller_left()  # it commits the message, then saves the record
            return
        self.save_record(call.record)

    def _close_leg(self, leg: Leg) -> None:
        if leg.retransmit_timer is not None:
            leg.retransmit_timer.cancel()
            leg.retransmit_timer = None
        if not leg.media.closed:
            self.relay.close_leg(leg.media)
        # Late retransmissions of a BYE for a closed leg get 481, which every UA takes as
        # "already gone" (§15.1.2).
        self._dialogs.pop(leg.key, None)

    def _index(self, leg: Leg) -> None:
        self._dialogs[leg.key] = leg

    async def stop(self) -> None:
        """Engine shutdown: every call ends (BYE to the answered ones)."""
        for call in list(self.calls.values()):
            if call.state is CallState.RINGING:
                self._fail(call, 503, Disposition.FAILED, "engine stopping",
                           ended_by="shutdown")
            else:
                self._hang_up(call, None, "shutdown")


DTMF_INFO_TYPES = ("application/dtmf-relay", "application/dtmf")
_DTMF_DIGITS = frozenset("0123456789*#ABCD")


def dtmf_of_info(body: bytes) -> str | None:
    """The key of a SIP INFO DTMF body: ``Signal=5`` lines (application/dtmf-relay, the
    Cisco/Polycom form) or a bare ``5`` (application/dtmf); None when there is none."""
    text = body.decode("utf-8", "replace").strip()
    for line in text.splitlines():
        name, eq, value = line.partition("=")
        if eq and name.strip().lower() == "signal":
            text = value.strip()
            break
    digit = text[:1].upper() if len(text) == 1 else ("*" if text == "10" else
                                                     "#" if text == "11" else "")
    return digit if digit in _DTMF_DIGITS and digit else None


def _emit_if_open(media: RelayLeg, packet: bytes) -> None:
    if not media.closed:
        media.emit(packet)


def refer_target(request: SipRequest) -> tuple[str, Replaces | None]:
    """The extension number in a REFER's Refer-To (RFC 3515 §2.1) and, for an attended
    transfer, the dialog its ``?Replaces=`` names (RFC 3891 §7.1); or RemoteProtocolError."""
    values = request.headers.values("Refer-To")
    if len(values) != 1:
        raise RemoteProtocolError("a REFER needs exactly one Refer-To (RFC 3515 §2.4.1)")
    target = parse_name_addr(values[0]).uri
    if not isinstance(target, SipUri) or not target.user:
        raise RemoteProtocolError("Refer-To is not a sip: URI with a user part")
    replaces = [unescape(value) for name, value in target.headers
                if name.lower() == "replaces"]
    if len(replaces) > 1:
        raise RemoteProtocolError("Refer-To with more than one Replaces")
    number = unescape(target.user)
    if not number.isdigit() or len(number) > 32:
        raise RemoteProtocolError(f"Refer-To user {number[:20]!r} is not a number")
    return number, parse_replaces(replaces[0]) if replaces else None


def _number(party: Party | None) -> str:
    return party.number if party is not None else "?"


def _quoted(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")[:120]
