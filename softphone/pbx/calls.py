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
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from softphone.media.relay import MediaRelay, RelayLeg
from softphone.pbx.call_media import LegSdp, RemoteMedia, media_of, parse_sdp
from softphone.pbx.cdr import CallDirection, CallRecord, Disposition
from softphone.pbx.location import Binding
from softphone.sip.dialog import (
    AckTimeout,
    Dialog,
    SuccessRetransmission,
    new_tag,
)
from softphone.sip.errors import RemoteProtocolError
from softphone.sip.headers import CSeq, Via
from softphone.sip.message import Headers, SipRequest, SipResponse
from softphone.sip.sdp import Direction, SdpError, SessionDescription
from softphone.sip.timers import TimerConfig
from softphone.sip.transaction import Send, TransactionId
from softphone.sip.transport import Peer, TransportKind
from softphone.sip.uri import NameAddr, SipUri, parse_uri

__all__ = ["Call", "CallControl", "CallState", "Leg", "Signalling", "peer_of_binding"]

logger = logging.getLogger("softphone.calls")

SDP = "application/sdp"
# RFC 3326 + RFC 3261 §9.1 / RFC 5923-era practice (3CX, Asterisk, FreeSWITCH all send it):
# the phones that did not answer show "answered elsewhere" instead of a missed call.
ANSWERED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'
BUSY_STATUSES = frozenset({486, 600})
DECLINED_STATUSES = frozenset({603})
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
                to_tag: str | None = None, body: bytes = b"") -> bool: ...

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


class Leg:
    """One SIP dialog of a call and the relay leg that faces its phone."""

    def __init__(self, call: Call, role: LegRole, media: RelayLeg, peer: Peer,
                 invite: SipRequest, local_tag: str, device: str = "") -> None:
        self.call = call
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
        self.caller: Leg | None = None
        self.branches: list[Leg] = []
        self.callee: Leg | None = None
        self.early: Leg | None = None  # the branch whose early media the caller hears
        self.our_answer: SessionDescription | None = None  # to the caller's offer
        self.sent_ringing = False
        self.ring_timer: asyncio.TimerHandle | None = None
        self.record = CallRecord(
            call_id=self.id, direction=direction, caller_number=caller.number,
            caller_name=caller.name, caller_extension=caller.extension,
            callee_number=callee.number, callee_name=callee.name,
            callee_extension=callee.extension, started_at=started_at)

    def __repr__(self) -> str:
        return f"Call({self.id} {self.caller_party.number}->{self.callee_party.number} " \
               f"{self.state})"

    def legs(self) -> list[Leg]:
        legs = [self.caller] if self.caller is not None else []
        return legs + [b for b in self.branches if b is not self.caller]

    def other(self, leg: Leg) -> Leg | None:
        if leg is self.caller:
            return self.callee
        return self.caller if leg is self.callee else None


def peer_of_binding(binding: Binding) -> Peer:
    """Where to send requests for a registered device: where its REGISTER came from (RFC
    3581 symmetric signalling — a phone behind NAT is reachable only there), else the
    Contact's host and port."""
    kind_text, _, rest = binding.source.partition(":")
    host, _, port = rest.rpartition(":")
    if kind_text in TransportKind.__members__.values() and host and port.isdigit():
        return Peer(TransportKind(kind_text), host.strip("[]"), int(port))
    uri = parse_uri(binding.contact)
    if not isinstance(uri, SipUri):
        raise RemoteProtocolError(f"contact {binding.contact[:60]!r} is not a SIP URI")
    transport = (uri.param("transport") or "udp").lower()
    kind = TransportKind(transport) if transport in ("udp", "tcp", "tls") else TransportKind.UDP
    return Peer(kind, uri.host.strip("[]"), uri.port or (5061 if kind == "tls" else 5060))


class CallControl:
    """Every call of one engine. Runs on the engine's loop; every method is synchronous
    except where it awaits the store."""

    def __init__(self, signalling: Signalling, relay: MediaRelay, *,
                 timers: TimerConfig, wall_clock: Callable[[], float],
                 save_record: Callable[[CallRecord], None],
                 user_agent: str = "pbxweb") -> None:
        self.signalling = signalling
        self.relay = relay
        self.timers = timers
        self.wall_clock = wall_clock
        self.save_record = save_record
        self.user_agent = user_agent
        self.calls: dict[str, Call] = {}
        self._by_server_tid: dict[TransactionId, Call] = {}
        self._dialogs: dict[tuple[str, str], Leg] = {}

    # -- a new call (the engine has authenticated the caller and routed the INVITE) ------------
    async def place(self, tid: TransactionId, invite: SipRequest, source: Peer, *,
                    caller: Party, callee: Party, bindings: list[Binding],
                    ring_seconds: float, direction: CallDirection) -> Call:
        call = Call(tid, invite, caller, callee, direction, self.wall_clock())
        self.calls[call.id] = call
        self._by_server_tid[tid] = call
        if not bindings:  # nobody to ring: no media needed either
            self._fail(call, 480, Disposition.MISSED, "no registered device")
            return call
        try:
            offer = parse_sdp(invite.body) if invite.body else None
            if offer is None:
                # Late offer (§13.2.1: the offer in our 2xx, the answer in the ACK) is not
                # supported yet; every phone we know sends its offer in the INVITE.
                raise SdpError("an INVITE without an SDP offer is not supported", 488)
            media = await self.relay.open_leg(name=f"{call.id}-caller")
            leg = Leg(call, LegRole.CALLER, media, source, invite, call.caller_tag)
            leg.tid = tid
            call.caller = leg
            call.our_answer = leg.sdp.answer(offer)
            leg.remote = media_of(offer, call.our_answer)
            self._apply_remote(leg)
        except RemoteProtocolError as error:
            status = error.status_hint if 400 <= error.status_hint < 700 else 400
            self._fail(call, status, Disposition.FAILED, f"bad offer: {error.msg}",
                       warning=error.msg)
            return call
        self._index(leg)
        for binding in bindings:
            await self._fork(call, binding)
            if call.state is CallState.ENDED:  # the caller gave up while we forked
                return call
        call.ring_timer = asyncio.get_running_loop().call_later(
            ring_seconds, self._ring_timeout, call)
        logger.info("%r: ringing %d device(s)", call, len(call.branches))
        return call

    async def _fork(self, call: Call, binding: Binding) -> None:
        assert call.caller is not None
        try:
            peer = peer_of_binding(binding)
            target = parse_uri(binding.contact)
        except (RemoteProtocolError, ValueError):
            logger.warning("%r: unusable binding %s", call, binding.contact[:80])
            return
        media = await self.relay.open_leg(name=f"{call.id}-{binding.aor}")
        call_id = f"{secrets.token_hex(10)}@pbxweb"
        tag = new_tag()
        caller, callee = call.caller_party, call.callee_party
        leg_sdp = LegSdp(media.relay.host, media.local_port)
        body = bytes(leg_sdp.offer())
        domain = self.signalling.domain
        fields = [
            ("Via", str(self.signalling.via(peer.kind))),
            ("Max-Forwards", "70"),
            ("From", str(NameAddr(SipUri(domain, user=caller.number),
                                  display_name=caller.name or None).with_tag(tag))),
            ("To", str(NameAddr(SipUri(domain, user=callee.number),
                                display_name=callee.name or None))),
            ("Call-ID", call_id),
            ("CSeq", str(CSeq(1, "INVITE"))),
            ("Contact", str(self.signalling.contact(peer.kind))),
            ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"),
            ("User-Agent", self.user_agent),
            ("Content-Type", SDP),
        ]
        invite = SipRequest("INVITE", target, Headers(fields), body)
        leg = Leg(call, LegRole.CALLEE, media, peer, invite, tag,
                  device=binding.user_agent or binding.contact)
        leg.sdp = leg_sdp
        call.branches.append(leg)
        self._index(leg)
        sent = self.signalling.send_request(
            invite, peer, on_response=lambda response: self._branch_response(leg, response))
        leg.tid = sent.tid
        sent.final.add_done_callback(lambda future: self._branch_done(leg, future))

    # -- responses from the callee's devices ----------------------------------------------------
    def _branch_response(self, leg: Leg, response: SipResponse) -> None:
        call = leg.call
        status = response.status_code
        if status == 100:
            return
        if 100 < status < 200:
            if call.state is not CallState.RINGING or response.to_tag is None:
                return
            if leg.dialog is None:
                leg.dialog = Dialog.as_uac(leg.invite, response,
                                           self.signalling.contact(leg.peer.kind))
            if response.body and response.content_type == SDP and call.early is None:
                self._early_media(call, leg, response)
            elif not call.sent_ringing and call.early is None:
                call.sent_ringing = True
                self._answer_caller(call, 180)
        elif 200 <= status < 300:
            self._branch_answered(leg, response)
        else:
            leg.status = status

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
        call = leg.call
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
        if call.state is not CallState.RINGING or call.callee is not None:
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
            self._close_leg(leg)
            return
        self._connect(call, leg)

    def _branch_done(self, leg: Leg,
                     future: asyncio.Future[SipResponse | None]) -> None:
        """The branch's INVITE transaction has its final outcome (a non-2xx, a timeout)."""
        response = None if future.cancelled() else future.result()
        call = leg.call
        if response is None:
            leg.status = leg.status or 408
        elif response.status_code >= 300:
            leg.status = response.status_code
        else:
            return
        if leg is not call.callee:
            self._close_leg(leg)
        if call.state is CallState.RINGING and all(
                b.status is not None for b in call.branches):
            self._all_branches_failed(call)

    def _all_branches_failed(self, call: Call) -> None:
        statuses = [b.status for b in call.branches if b.status is not None]
        if statuses and all(s in BUSY_STATUSES for s in statuses):
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
                   ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO")]
        body = b""
        if sdp and call.our_answer is not None:
            headers.append(("Content-Type", SDP))
            body = bytes(call.our_answer)
        self.signalling.respond(leg.tid, leg.invite, status, headers,
                                f"{call.id}", to_tag=leg.local_tag, body=body)

    def _connect(self, call: Call, leg: Leg) -> None:
        """The first 2xx: this branch is the callee; the others stop ringing."""
        caller = call.caller
        assert caller is not None and caller.tid is not None and call.our_answer is not None
        call.callee = leg
        call.state = CallState.ANSWERED
        if call.ring_timer is not None:
            call.ring_timer.cancel()
        for other in call.branches:
            if other is not leg and other.status is None:
                self._cancel_branch(other, ANSWERED_ELSEWHERE)
        self._apply_remote(leg)
        self._route_media(call)
        record = call.record
        record.answered_at = self.wall_clock()
        record.answered_by = call.callee_party.extension or call.callee_party.number
        record.answered_device = leg.device
        record.disposition = Disposition.ANSWERED
        record.status_code = 200
        response = self._success_to_caller(call)
        caller.dialog = Dialog.as_uas(caller.invite, caller.local_tag,
                                      self.signalling.contact(caller.peer.kind))
        caller.dialog.response_sent(caller.invite, response)
        for each in (caller, leg):
            self._watch(each)
        logger.info("%r: answered by %s", call, leg.device[:60])

    def _success_to_caller(self, call: Call) -> SipResponse:
        caller = call.caller
        assert caller is not None and caller.tid is not None and call.our_answer is not None
        headers = [("Contact", str(self.signalling.contact(caller.peer.kind))),
                   ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"),
                   ("Content-Type", SDP)]
        body = bytes(call.our_answer)
        self.signalling.respond(caller.tid, caller.invite, 200, headers, call.id,
                                to_tag=caller.local_tag, body=body)
        response = caller.invite.make_response(200, to_tag=caller.local_tag,
                                               headers=headers, body=body)
        self._retransmit_until_acked(caller, response)
        return response

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

    def _ring_timeout(self, call: Call) -> None:
        if call.state is CallState.RINGING:
            self._fail(call, 480, Disposition.MISSED, "no answer", ended_by="timeout")

    def _fail(self, call: Call, status: int, disposition: Disposition, detail: str, *,
              ended_by: str = "", warning: str | None = None) -> None:
        """End a call that was never answered: answer the caller ``status``, stop every
        branch, write the record."""
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
        if method == "BYE":
            self.signalling.respond(tid, request, 200, detail=leg.call.id)
            self._hang_up(leg.call, leg, leg.role.value)
        elif method == "INVITE":
            self._reinvite(tid, leg, request)
        elif method in ("INFO", "OPTIONS", "NOTIFY"):
            # INFO: DTMF by SIP INFO (application/dtmf-relay) is accepted; the media path
            # carries RFC 4733 events, which the relay forwards already.
            self.signalling.respond(tid, request, 200, detail=leg.call.id)
        else:
            self.signalling.respond(
                tid, request, 405, [("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO")])
        return True

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
        headers = [("Contact", str(self.signalling.contact(leg.peer.kind))),
                   ("Content-Type", SDP)]
        body = bytes(answer)
        self.signalling.respond(tid, request, 200, headers,
                                f"{call.id} {'hold' if leg.holding else 'resume'}",
                                body=body)
        self._retransmit_until_acked(leg, request.make_response(200, headers=headers,
                                                                body=body))
        if leg.holding != was_holding:
            logger.info("%r: %s %s", call, leg.role, "holds" if leg.holding else "resumes")
        if remote.direction is Direction.INACTIVE:
            self.relay.unwatch_inactivity(leg.media)
        else:
            self._watch(leg)

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
        of a holding leg hears music on hold; otherwise the two legs hear each other."""
        a, b = call.caller, call.callee
        if a is None or b is None:
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
        call = leg.call

        def dead(_media: RelayLeg) -> None:
            self._media_dead(call)

        self.relay.watch_inactivity(leg.media, dead)

    def _media_dead(self, call: Call) -> None:
        if call.state is CallState.ANSWERED:
            logger.info("%r: no RTP any more; hanging up", call)
            self._hang_up(call, None, "rtp-timeout")

    # -- the end -----------------------------------------------------------------------------
    def _hang_up(self, call: Call, by: Leg | None, ended_by: str) -> None:
        if call.state is CallState.ENDED:
            return
        for leg in call.legs():
            if leg is not by and leg.dialog is not None and not leg.dialog.terminated:
                self._bye(leg)
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
        if call.ring_timer is not None:
            call.ring_timer.cancel()
        for leg in call.legs():
            self._close_leg(leg)
        call.record.ended_at = self.wall_clock()
        self.calls.pop(call.id, None)
        self._by_server_tid.pop(call.server_tid, None)
        self.save_record(call.record)

    def _close_leg(self, leg: Leg) -> None:
        if leg.retransmit_timer is not None:
            leg.retransmit_timer.cancel()
            leg.retransmit_timer = None
        if not leg.media.closed:
            self.relay.close_leg(leg.media)
        if leg.call.state is CallState.ENDED or leg.status is not None:
            # Keep the dialog a moment for late BYE/ACK retransmissions? They get 481,
            # which every UA accepts as "already gone" (§15.1.2).
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


def _quoted(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")[:120]
