"""The SIP engine: transports → parser → transaction layer → the PBX's request handlers.

One ``Engine`` per process, on one asyncio loop (``runengine``, or inside ``runpbx``). The
flow of a datagram or stream message (``_on_data``):

1. a banned source address is ignored (``bans.py``);
2. ``parse_message`` + ``validate_request``/``validate_response``: a request that fails is
   answered statelessly with the error's status when its Via can be salvaged (``stateless.py``),
   otherwise dropped; a bad response is dropped (§18.1.2);
3. the top Via gets ``received``/``rport`` (RFC 3581 §4, RFC 3261 §18.2.1); a REGISTER
   without credentials is challenged statelessly; every other request enters the transaction
   layer, which absorbs retransmissions;
4. a new request reaches ``_dispatch``: REGISTER (registrar), OPTIONS, INVITE (authenticated,
   then routed to ``calls.CallControl``), requests inside a call's dialog (BYE, re-INVITE,
   INFO) to the call, the rest 405/481/501. The ACK for a call's 2xx has no transaction and
   goes straight to call control.

Responses always go back where the request came from (symmetric signalling, RFC 3581 —
what works behind the NAT of a home office); on TCP/TLS over the same connection.

Two clocks: the transaction layer runs on the loop's monotonic clock; digest nonces and
registrations on the wall clock, because those survive a restart.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import ssl
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from softphone.media.relay import MediaRelay
from softphone.media.transport import PortAllocator
from softphone.pbx import dialplan
from softphone.pbx.authentication import MAX_USERNAME, AuthDecision, RequestAuthenticator
from softphone.pbx.bans import AuthFailureBans
from softphone.pbx.calls import VOICEMAIL_MENU_NUMBER, CallControl, Party, Target
from softphone.pbx.cdr import CallDirection, CallRecord, Disposition
from softphone.pbx.config import EngineConfig
from softphone.pbx.credentials import CredentialCache
from softphone.pbx.location import Binding, Location
from softphone.pbx.mwi import EVENT as MWI_EVENT
from softphone.pbx.mwi import MessageWaiting
from softphone.pbx.persistence import BindingWriter, CallRecordWriter
from softphone.pbx.prompts import Prompts
from softphone.pbx.registrar import RegisterRequest, process_register
from softphone.pbx.registration import (
    BadRegister,
    register_aor,
    register_request,
    register_response_headers,
)
from softphone.pbx.storage import ExtensionInfo, PbxStore
from softphone.pbx.trunks import TrunkLink, Trunks
from softphone.sip.digest import DigestAuthenticator
from softphone.sip.errors import LocalProtocolError, RemoteProtocolError
from softphone.sip.framing import StreamFramer
from softphone.sip.headers import Via, parse_replaces, parse_via
from softphone.sip.message import SipRequest, SipResponse
from softphone.sip.parser import (
    KNOWN_METHODS,
    BadExtensionError,
    parse_message,
    validate_request,
    validate_response,
)
from softphone.sip.stateless import salvage_error_response
from softphone.sip.timers import DEFAULT_TIMERS, TimerConfig
from softphone.sip.transaction import (
    CancelReceived,
    Effect,
    RequestReceived,
    ResponseReceived,
    Send,
    Terminated,
    Timeout,
    TransactionId,
    TransportError,
)
from softphone.sip.transaction_layer import TransactionLayer
from softphone.sip.transport import Peer, SipTransports, StreamLimits, TransportKind
from softphone.sip.uri import NameAddr, SipUri, unescape

logger = logging.getLogger("softphone.engine")

# What this engine implements today; the list grows with call control (§20.5).
ALLOWED_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO", "REFER",
                   "NOTIFY", "SUBSCRIBE")
# Option tags we honour in Require (§8.2.2.3): Replaces (RFC 3891); any other Require gets 420.
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset({"replaces"})
ACCEPTED_BODIES = "application/sdp"
EXPIRY_SWEEP_SECONDS = 1.0
# An outgoing call rings at most this long: the carrier or the called party usually gives up
# first; this only bounds a carrier that never answers.
OUTBOUND_RING_SECONDS = 120.0


@dataclass(slots=True)
class ClientRequest:
    """A request the engine sent: its client transaction and the future of its final
    response (None when Timer B/F fired or the transport failed)."""

    tid: TransactionId
    final: asyncio.Future[SipResponse | None]
    on_response: Callable[[SipResponse], None] | None = None


class Engine:
    def __init__(self, config: EngineConfig, store: PbxStore, *,
                 wall_clock: Callable[[], float] = time.time,
                 timers: TimerConfig = DEFAULT_TIMERS) -> None:
        self.config = config
        self.store = store
        self.wall_clock = wall_clock
        self.location = Location()
        self.bans = AuthFailureBans(config.bans)
        self.layer = TransactionLayer(timers)
        self.credentials = CredentialCache(store, wall_clock)
        self.writer = BindingWriter(store, config.persist_interval)
        self.records = CallRecordWriter(store, config.persist_interval)
        self.transports = SipTransports(
            self._on_data,
            lambda: StreamFramer(max_header_size=config.max_message_bytes,
                                 max_body_size=config.max_message_bytes),
            StreamLimits(max_connections=config.max_tcp_connections,
                         first_message_timeout=config.tcp_first_message_timeout,
                         idle_timeout=config.tcp_idle_timeout))
        self.auth: RequestAuthenticator | None = None
        self.addresses: dict[TransportKind, tuple[str, int]] = {}
        self.stats: dict[str, int] = {"rejected": 0, "banned_drops": 0, "dropped": 0}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._waiters: dict[TransactionId, ClientRequest] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self.domain = config.domain
        self.relay = MediaRelay(PortAllocator(config.rtp_port_first, config.rtp_port_last),
                                config.media_host or config.host,
                                inactivity_timeout=config.rtp_timeout)
        self.trunks = Trunks(lambda request, peer: self.send_request(request, peer).final,
                             self.via_for, self.contact)
        self.calls = CallControl(self, self.relay, timers=timers, wall_clock=wall_clock,
                                 save_record=self._save_record, resolve=self._resolve,
                                 user_agent=config.user_agent,
                                 transfer_ring_seconds=config.transfer_ring_seconds,
                                 voicemail_store=store, prompts=Prompts(config.prompts_dir),
                                 on_voicemail=self._voicemail_changed)
        self.mwi = MessageWaiting(
            store=store, location=self.location, domain=config.domain,
            send=lambda request, peer: self.send_request(request, peer),
            respond=self._respond, via=lambda peer: self.via(peer.kind),
            contact=lambda peer: self.contact(peer.kind), wall_clock=wall_clock)

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        now = self.wall_clock()
        self.location.load(await self.store.load_bindings(), now)
        await self.credentials.warm()
        digest = DigestAuthenticator(self.config.realm, self.config.nonce_secret, now=now,
                                     algorithms=self.config.digest_algorithms,
                                     nonce_lifetime=self.config.nonce_lifetime)
        self.auth = RequestAuthenticator(digest, self.credentials, self.bans, self.wall_clock)
        try:
            recovered = await self.store.recover_voicemail()
            if recovered:
                logger.info("%d voicemail message(s) recorded before a crash recovered",
                            recovered)
        except Exception:
            logger.exception("recovering interrupted voicemail messages failed")
        # Media and trunks first: a call may arrive as soon as a transport listens.
        await self.relay.start()
        try:
            await self.trunks.load(await self.store.trunks())
        except Exception:  # the PBX still works inside without its trunk
            logger.exception("loading the trunks failed")
        config, host = self.config, self.config.host
        if config.udp_port is not None:
            self.addresses[TransportKind.UDP] = await self.transports.listen_udp(
                host, config.udp_port)
        if config.tcp_port is not None:
            self.addresses[TransportKind.TCP] = await self.transports.listen_stream(
                TransportKind.TCP, host, config.tcp_port)
        if config.tls_port is not None and config.tls_cert and config.tls_key:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(config.tls_cert, config.tls_key)
            self.addresses[TransportKind.TLS] = await self.transports.listen_stream(
                TransportKind.TLS, host, config.tls_port, context)
        self.trunks.start_registering()
        self.writer.start()
        self.records.start()
        self.mwi.start()
        self._sweeper = asyncio.create_task(self._sweep_expired(), name="registration-expiry")
        logger.info("engine listening on %s; %d registrations restored",
                    ", ".join(f"{k}:{a[0]}:{a[1]}" for k, a in self.addresses.items()),
                    self.location.count())

    async def stop(self) -> None:
        await self.mwi.stop()
        await self.trunks.stop()
        await self.calls.stop()
        await asyncio.sleep(0)  # let the BYEs of the calls ended just now leave
        await self.transports.close()
        if self._timer is not None:
            self._timer.cancel()
        for task in [*self._tasks, *([self._sweeper] if self._sweeper else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, *([self._sweeper] if self._sweeper else []),
                             return_exceptions=True)
        for waiter in self._waiters.values():
            if not waiter.final.done():
                waiter.final.set_result(None)
        await self.relay.stop()
        await self.writer.stop()
        await self.records.stop()
        logger.info("engine stopped; %d registrations kept", self.location.count())

    # -- client side (call control sends requests through here) ------------------------------
    def via_for(self, kind: TransportKind) -> str:
        """A top Via for a request we originate, with a fresh branch (§8.1.1.7, RFC 3581)."""
        host, port = self.addresses[kind]
        return f"SIP/2.0/{kind.upper()} {host}:{port};branch={self.layer.new_branch()};rport"

    def via(self, kind: TransportKind) -> Via:
        return parse_via(self.via_for(kind))

    def contact(self, kind: TransportKind, user: str = "pbx") -> NameAddr:
        """Our Contact for dialogs over ``kind`` (§8.1.1.8): where in-dialog requests go."""
        host, port = self.addresses[kind]
        params = () if kind is TransportKind.UDP else (("transport", kind.value),)
        return NameAddr(SipUri(host, user=user, port=port, params=params))

    def send_request(self, request: SipRequest, destination: Peer, *,
                     on_response: Callable[[SipResponse], None] | None = None,
                     ) -> ClientRequest:
        """Start a client transaction. ``on_response`` sees every response (1xx, the final
        one, and for an INVITE each 2xx retransmission, which its TU must ACK — RFC 6026);
        ``final`` gets the final response, or None when the transaction timed out (Timer
        B/F) or the transport failed."""
        tid, effects = self.layer.send_request(request, destination,
                                               reliable=destination.kind.reliable,
                                               now=self._now())
        future: asyncio.Future[SipResponse | None] = self._running_loop().create_future()
        sent = ClientRequest(tid, future, on_response)
        self._waiters[tid] = sent
        self._process(effects)
        return sent

    def cancel(self, tid: TransactionId, reason: str | None) -> None:
        """CANCEL our INVITE ``tid`` (§9.1), with a Reason header (RFC 3326) if given."""
        if tid not in self.layer:
            return
        try:
            _, effects = self.layer.send_cancel(
                tid, self._now(), [("Reason", reason)] if reason else [])
        except LocalProtocolError:
            return
        self._process(effects)

    def send_direct(self, message: SipRequest | SipResponse, destination: Peer) -> bool:
        """Outside any transaction: the ACK to a 2xx, a 2xx retransmission (§13.3.1.4)."""
        return self.transports.send(bytes(message), destination)

    # -- inbound ----------------------------------------------------------------------------
    def _on_data(self, data: bytes, peer: Peer) -> None:
        if self.bans.is_banned(peer.host, self.wall_clock()):
            self.stats["banned_drops"] += 1
            return
        try:
            message = parse_message(data, max_size=self.config.max_message_bytes)
            if isinstance(message, SipResponse):
                validate_response(message)
                self._process(self.layer.receive_response(message, now=self._now()))
                return
            request = _stamp_via(validate_request(
                message, supported_extensions=SUPPORTED_EXTENSIONS), peer)
        except RemoteProtocolError as error:
            self._reject(data, peer, error)
            return
        if request.method == "REGISTER" and "Authorization" not in request.headers:
            self._challenge_statelessly(request, peer)
            return
        self._process(self.layer.receive_request(request, peer, reliable=peer.kind.reliable,
                                                 now=self._now()))

    def _challenge_statelessly(self, request: SipRequest, peer: Peer) -> None:
        """The first REGISTER of every registration only learns a nonce: answer it like a
        stateless UAS (§8.2.7) — no transaction kept for 32 s per phone. A retransmission
        simply gets a fresh challenge, which is as good as the first."""
        assert self.auth is not None
        try:
            # The registrar's first check: a challenge would only make the phone retry a
            # REGISTER that can never succeed (RFC 4475 §3.3.4).
            register_aor(request)
        except BadRegister:
            self._respond_statelessly(request, peer, 400, [], "To is not an AOR",
                                      reason="Bad Request: To must be a sip(s) AOR")
            return
        decision = self.auth.challenge(proxy=False, detail="challenged")
        self._respond_statelessly(request, peer, decision.status, decision.headers,
                                  decision.detail)

    def _respond_statelessly(self, request: SipRequest, peer: Peer, status: int,
                             headers: list[tuple[str, str]], detail: str, *,
                             reason: str | None = None) -> None:
        response = request.make_response(
            status, reason, to_tag=_tag(),
            headers=[*headers, ("Server", self.config.user_agent)])
        self.transports.send(bytes(response), peer)
        logger.info("%s %s [stateless] -> %d (%s)", request.method, _short(request), status,
                    detail)

    def _reject(self, data: bytes, peer: Peer, error: RemoteProtocolError) -> None:
        extra: tuple[tuple[str, str], ...] = ()
        if isinstance(error, BadExtensionError):
            extra = (("Unsupported", ", ".join(error.unsupported)),)
        elif error.status_hint in (405, 501):
            extra = (("Allow", ", ".join(ALLOWED_METHODS)),)
        reply = salvage_error_response(data, error.status_hint, to_tag=_tag(), extra=extra)
        if reply is None:
            self.stats["dropped"] += 1
            logger.info("%s: dropped an unusable message (%s)", peer, error.msg[:120])
            return
        self.stats["rejected"] += 1
        self.transports.send(reply, peer)
        logger.info("%s: rejected -> %d (%s)", peer, error.status_hint, error.msg[:120])

    def _process(self, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case Send(transaction=tid, message=message, destination=destination):
                    assert isinstance(destination, Peer)
                    if not self.transports.send(bytes(message), destination) and tid:
                        self._process(self.layer.transport_error(tid, now=self._now()))
                case RequestReceived(transaction=tid, request=request, source=source):
                    if tid is not None:
                        assert isinstance(source, Peer)
                        self._dispatch(tid, request, source)
                    elif request.method == "ACK":  # for a 2xx: no transaction (§17.1.1.3)
                        self.calls.ack_received(request)
                case ResponseReceived(transaction=tid, response=response):
                    self._settle(tid, response, final=False)
                case CancelReceived(transaction=tid):
                    self._cancelled(tid)
                case Timeout(transaction=tid) | TransportError(transaction=tid):
                    logger.info("%s: %s", tid, type(effect).__name__.lower())
                    self._settle(tid, None, final=True)
                case Terminated(transaction=tid):
                    self._settle(tid, None, final=True)
        self._schedule()

    def _settle(self, tid: TransactionId, response: SipResponse | None, *, final: bool) -> None:
        """A response (or the end) of client transaction ``tid``. The waiter stays until the
        transaction ends: an INVITE's 2xx retransmissions still reach ``on_response``."""
        waiter = self._waiters.get(tid)
        if waiter is None:
            return
        if response is not None and waiter.on_response is not None:
            try:
                waiter.on_response(response)
            except Exception:
                logger.exception("handling a response to %s failed", tid)
        if response is not None and response.is_final and not waiter.final.done():
            waiter.final.set_result(response)
        if final:
            del self._waiters[tid]
            if not waiter.final.done():
                waiter.final.set_result(None)

    def _cancelled(self, tid: TransactionId) -> None:
        if self.calls.cancelled(tid):
            return
        transaction = self.layer.get(tid)
        if transaction is not None:  # §9.2: the INVITE is answered 487
            self._respond(tid, transaction.request, 487, detail="cancelled by the caller")

    # -- request handlers (the transaction user) ---------------------------------------------
    def _dispatch(self, tid: TransactionId, request: SipRequest, source: Peer) -> None:
        method = request.method
        if method == "REGISTER":
            self._register(tid, request, source)
        elif method == "OPTIONS":
            self._spawn(self._options(tid, request))
        elif request.to_tag is not None and method != "ACK":
            if not self.calls.in_dialog(tid, request, source) and \
                    not self.mwi.in_dialog(tid, request, source):  # §12.2.2
                self._respond(tid, request, 481, detail="no such dialog")
        elif method == "SUBSCRIBE":
            self._spawn(self._subscribe(tid, request, source))
        elif method == "INVITE":
            self._spawn(self._invite(tid, request, source))
        elif method in ("BYE", "CANCEL"):
            self._respond(tid, request, 481, detail="no such dialog")
        elif method in KNOWN_METHODS:
            self._respond(tid, request, 405, [("Allow", ", ".join(ALLOWED_METHODS))])
        else:
            self._respond(tid, request, 501, [("Allow", ", ".join(ALLOWED_METHODS))])

    def _register(self, tid: TransactionId, request: SipRequest, source: Peer) -> None:
        assert self.auth is not None
        try:
            registration = register_request(request, str(source))
        except (BadRegister, RemoteProtocolError) as error:
            self._respond(tid, request, 400, detail=str(error))
            return
        decision = self.auth.authenticate_now(request, source.host, proxy=False)
        if decision is None:  # the credentials are not cached: ask the store, then go on
            self._spawn(self._register_after_lookup(tid, request, source, registration))
        else:
            self._registered(tid, request, registration, decision)

    async def _register_after_lookup(self, tid: TransactionId, request: SipRequest,
                                     source: Peer, registration: RegisterRequest) -> None:
        assert self.auth is not None
        decision = await self.auth.authenticate(request, source.host, proxy=False)
        self._registered(tid, request, registration, decision)

    def _registered(self, tid: TransactionId, request: SipRequest,
                    registration: RegisterRequest, decision: AuthDecision) -> None:
        if decision.user is None:
            self._respond(tid, request, decision.status, decision.headers, decision.detail)
            return
        if decision.user != registration.aor:
            self._respond(tid, request, 403, detail=f"{decision.user} may not register "
                                                    f"{registration.aor[:32]!r}")
            return
        now = self.wall_clock()
        answer = process_register(self.location, registration, self.config.registrar, now)
        for binding in answer.changed:
            self.writer.upsert(binding)
        for binding in answer.removed:
            self.writer.remove(binding)
        self._respond(tid, request, answer.status, register_response_headers(answer, now),
                      detail=f"{registration.aor}: {len(answer.bindings)} binding(s)")

    async def _options(self, tid: TransactionId, request: SipRequest) -> None:
        """§11.2: capabilities, for the server itself or any known extension, no auth."""
        if isinstance(request.uri, SipUri) and request.uri.user \
                and not await self._is_extension(request):
            self._respond(tid, request, 404, detail="no such extension")
            return
        self._respond(tid, request, 200, [
            ("Allow", ", ".join(ALLOWED_METHODS)), ("Accept", ACCEPTED_BODIES),
            ("Accept-Encoding", "identity"), ("Accept-Language", "nl, en"),
            ("Supported", ", ".join(sorted(SUPPORTED_EXTENSIONS))), ("Allow-Events", MWI_EVENT)])

    async def _invite(self, tid: TransactionId, request: SipRequest, source: Peer) -> None:
        """Authenticate, then route: an extension, an external number through the trunk, or
        (from the carrier's address) a DID."""
        assert self.auth is not None
        carrier = self.trunks.from_carrier(source)
        if carrier is not None:
            await self._inbound(tid, request, source, carrier)
            return
        decision = await self.auth.authenticate(request, source.host, proxy=True)
        if decision.user is None:
            self._respond(tid, request, decision.status, decision.headers, decision.detail)
            return
        caller = _user_of(request.from_.uri)
        if caller != decision.user:
            self._respond(tid, request, 403, detail=f"{decision.user} may not call as "
                                                    f"{caller[:32]!r}")
            return
        unusable = _unusable_body(request)
        if unusable is not None:
            status, headers, detail = unusable
            self._respond(tid, request, status, headers, detail)
            return
        caller_info = await self._extension_info(caller)
        party = Party(caller, caller_info.display_name, caller)
        if "Replaces" in request.headers:  # RFC 3891: take over a dialog of ours
            try:
                replaces = parse_replaces(request.headers.values("Replaces")[0])
            except RemoteProtocolError as error:
                self._respond(tid, request, 400, detail=error.msg)
                return
            await self.calls.replace(tid, request, source, replaces=replaces, caller=party)
            return
        uri = request.uri
        if isinstance(uri, SipUri) and uri.user == VOICEMAIL_MENU_NUMBER:
            mailbox = await self.store.mailbox(caller)
            await self.calls.voicemail_menu(tid, request, source, caller=party,
                                            language=mailbox.language if mailbox else "nl")
            return
        direct = _voicemail_direct(uri)
        if direct is not None:  # *9<ext>: straight to that extension's mailbox (SPEC.md C12)
            target = await self._resolve(direct)
            if target is None:
                self._respond(tid, request, 404, detail="no such mailbox")
                return
            await self.calls.place(tid, request, source, caller=party,
                                   target=Target(target.party, [], target.ring_seconds),
                                   direction=CallDirection.INTERNAL)
            return
        target = await self._resolve(_user_of(uri)[:MAX_USERNAME])
        if target is not None:  # one of our extensions
            await self.calls.place(tid, request, source, caller=party, target=target,
                                   direction=CallDirection.INTERNAL)
            return
        await self._outbound(tid, request, source, party, caller_info)

    async def _outbound(self, tid: TransactionId, request: SipRequest, source: Peer,
                        caller: Party, info: ExtensionInfo) -> None:
        """A number that is not an extension: out through the trunk, if this extension may
        call it (SPEC.md E2; toll fraud is the classic PBX compromise)."""
        dialled = _user_of(request.uri)
        destination = dialplan.classify(dialled[:64])
        callee = Party(destination.number[:64])
        if not destination.is_external:
            self._respond(tid, request, 404, detail="no such extension or number")
            return
        if not dialplan.permits(info.outbound, destination):
            self.calls.refuse(tid, request, caller=caller, callee=callee,
                              direction=CallDirection.OUTBOUND, status=403,
                              disposition=Disposition.BLOCKED,
                              detail=f"{destination.kind} calls are not allowed for "
                                     f"{caller.number} ({info.outbound})")
            return
        route = self.trunks.route_for(
            destination.number, lambda trunk: dialplan.caller_id_for_trunk(trunk, caller.number))
        if route is None:
            self.calls.refuse(tid, request, caller=caller, callee=callee,
                              direction=CallDirection.OUTBOUND, status=503,
                              disposition=Disposition.FAILED, detail="no trunk configured")
            return
        await self.calls.place(tid, request, source, caller=caller,
                               target=Target(callee, [], OUTBOUND_RING_SECONDS, route),
                               direction=CallDirection.OUTBOUND)

    async def _inbound(self, tid: TransactionId, request: SipRequest, source: Peer,
                       link: TrunkLink) -> None:
        """A call from the carrier: trusted by its address, routed by the called DID."""
        called = _user_of(request.uri)
        extension = dialplan.route_did(link.config, called[:64])
        if extension is None:  # some carriers keep the DID in To only
            extension = dialplan.route_did(link.config, _user_of(request.to.uri)[:64])
        from_ = request.from_
        number = _user_of(from_.uri) or "anonymous"
        caller = Party(dialplan.normalise_from_trunk(number[:64]) or number[:64],
                       (from_.display_name or "")[:64])
        unusable = _unusable_body(request)
        if unusable is not None:
            status, headers, detail = unusable
            self._respond(tid, request, status, headers, detail)
            return
        target = await self._resolve(extension) if extension is not None else None
        if target is None:
            self.calls.refuse(tid, request, caller=caller, callee=Party(called[:64]),
                              direction=CallDirection.INBOUND, status=404,
                              disposition=Disposition.FAILED,
                              detail=f"DID {called[:20]!r} is not routed on trunk "
                                     f"{link.config.name}")
            return
        await self.calls.place(tid, request, source, caller=caller, target=target,
                               direction=CallDirection.INBOUND)

    async def _subscribe(self, tid: TransactionId, request: SipRequest, source: Peer) -> None:
        """RFC 6665: only the message-summary package (RFC 3842), for one's own mailbox."""
        assert self.auth is not None
        events = request.headers.values("Event")
        if len(events) != 1:  # RFC 6665 §8.2.1: exactly one Event header
            self._respond(tid, request, 400, [("Allow-Events", MWI_EVENT)],
                          detail="SUBSCRIBE without exactly one Event")
            return
        event = events[0].partition(";")[0].strip().lower()
        if event != MWI_EVENT:
            self._respond(tid, request, 489, [("Allow-Events", MWI_EVENT)],
                          detail=f"event package {event[:20]!r}")
            return
        decision = await self.auth.authenticate(request, source.host, proxy=False)
        if decision.user is None:
            self._respond(tid, request, decision.status, decision.headers, decision.detail)
            return
        await self.mwi.subscribe(tid, request, source, decision.user)

    def _voicemail_changed(self, number: str) -> None:
        self._spawn(self.mwi.changed(number))

    # -- helpers ----------------------------------------------------------------------------
    async def _resolve(self, number: str) -> Target | None:
        """An extension to ring: its name, its live devices, its ring time."""
        if await self.credentials.get(number[:MAX_USERNAME]) is None:
            return None
        info = await self._extension_info(number)
        return Target(Party(number, info.display_name, number),
                      self.location.lookup(number, self.wall_clock()), info.ring_seconds)

    async def _extension_info(self, number: str) -> ExtensionInfo:
        try:
            info = await self.store.extension_info(number)
        except Exception:  # the call goes on with defaults rather than fail on a lookup
            logger.exception("looking up extension %s failed", number)
            info = None
        return info or ExtensionInfo(number)

    def _save_record(self, record: CallRecord) -> None:
        self.records.add(record)

    def respond(self, tid: TransactionId, request: SipRequest, status: int,
                headers: list[tuple[str, str]] | None = None, detail: str = "", *,
                to_tag: str | None = None, body: bytes = b"") -> SipResponse | None:
        return self._respond(tid, request, status, headers, detail, to_tag=to_tag, body=body)

    async def _is_extension(self, request: SipRequest) -> bool:
        """Whether the Request-URI names one of our extensions (by its SIP credentials)."""
        uri = request.uri
        if not isinstance(uri, SipUri) or not uri.user:
            return False
        return await self.credentials.get(unescape(uri.user)[:MAX_USERNAME]) is not None

    def _respond(self, tid: TransactionId, request: SipRequest, status: int,
                 headers: list[tuple[str, str]] | None = None, detail: str = "", *,
                 to_tag: str | None = None, body: bytes = b"") -> SipResponse | None:
        """Answer server transaction ``tid``; the response as sent, or None when the
        transaction is gone (its retransmissions must repeat exactly what was sent)."""
        response = request.make_response(
            status, to_tag=to_tag or _tag(),
            headers=[*(headers or []), ("Server", self.config.user_agent)], body=body)
        try:
            effects = self.layer.send_response(tid, response, now=self._now())
        except LocalProtocolError:
            logger.info("%s %s: transaction gone before the %d", request.method, tid, status)
            return None
        logger.info("%s %s [%s] -> %d%s", request.method, _short(request), tid, status,
                    f" ({detail})" if detail else "")
        self._process(effects)
        return response

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a request handler failed", exc_info=task.exception())

    def _now(self) -> float:
        return self._running_loop().time()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _schedule(self) -> None:
        deadline = self.layer.next_deadline()
        if deadline is None or deadline >= self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, math.inf
        self._process(self.layer.handle_timeout(self._now()))

    async def _sweep_expired(self) -> None:
        warmed = self.wall_clock()
        while True:
            await asyncio.sleep(EXPIRY_SWEEP_SECONDS)
            now = self.wall_clock()
            for binding in self.location.expire(now):
                self._expired(binding)
            if now - warmed >= self.credentials.ttl:
                warmed = now
                try:
                    await self.credentials.warm()
                except Exception:  # the database may be away for a moment; try next round
                    logger.exception("reloading SIP credentials failed")

    def _expired(self, binding: Binding) -> None:
        self.writer.remove(binding)
        logger.info("registration of %s at %s expired", binding.aor, binding.contact)


def _user_of(uri: object) -> str:
    """The unescaped user part of a sip(s) URI; "" for none (a tel: URI, a bare host)."""
    return unescape(uri.user) if isinstance(uri, SipUri) and uri.user else ""


VOICEMAIL_DIRECT_PREFIX = "*9"  # *9<ext> leaves a message without ringing (SPEC.md C12)


def _voicemail_direct(uri: object) -> str | None:
    """The extension of a ``*9<ext>`` Request-URI, else None."""
    user = _user_of(uri)
    rest = user[len(VOICEMAIL_DIRECT_PREFIX):]
    if user.startswith(VOICEMAIL_DIRECT_PREFIX) and rest.isdigit() and 2 <= len(rest) <= 6:
        return rest
    return None


def _stamp_via(request: SipRequest, peer: Peer) -> SipRequest:
    """RFC 3261 §18.2.1 ``received`` and RFC 3581 §4 ``rport`` on the top Via."""
    top = request.top_via
    if top.has_rport:
        top = top.with_received(peer.host, peer.port)
    elif top.host.strip("[]").lower() != peer.host.lower():
        top = top.with_received(peer.host, None)
    else:
        return request
    return request.with_top_via(top)


def _unusable_body(request: SipRequest,
                   ) -> tuple[int, list[tuple[str, str]], str] | None:
    """§8.2.3 content processing of an INVITE: a body we cannot read is 415 with Accept
    (RFC 4475 §3.3.6); an Accept without SDP leaves no answer we could give, 406 with a
    Warning (§21.4.7, RFC 4475 §3.3.15 — our choice over 400)."""
    if request.body and request.content_type != ACCEPTED_BODIES:
        return 415, [("Accept", ACCEPTED_BODIES)], f"body is {request.content_type}"
    accepted = [value.partition(";")[0].strip().lower()
                for value in request.headers.values("Accept")]
    if "Accept" in request.headers and not {"application/sdp", "application/*",
                                            "*/*"} & set(accepted):
        return 406, [("Warning", '399 pbxweb "answers carry application/sdp only"')], \
            "Accept excludes application/sdp"
    return None


def _tag() -> str:
    return secrets.token_hex(6)


def _short(request: SipRequest) -> str:
    return f"{str(request.uri)[:64]} call-id {request.call_id[:40]}"
