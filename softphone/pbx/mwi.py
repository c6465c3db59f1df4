"""Message waiting indication (RFC 3842 ``message-summary`` over RFC 6665 SUBSCRIBE/NOTIFY).

Phones learn how many voicemail messages wait in two ways, both served:

- **Subscriptions**: a phone SUBSCRIBEs (authenticated, for its own extension only) and gets
  a NOTIFY at once and whenever the counts change; refreshed by re-SUBSCRIBE, ended by
  ``Expires: 0`` or by its expiry (RFC 6665 §4.2).
- **Unsolicited NOTIFY** (what many DECT bases and older desk phones expect): an extension
  with no subscription gets an out-of-dialog NOTIFY at each of its registered devices.

Counts change when a message is left (the engine knows at once) and when the owner listens
to or deletes one in the web client (another process): a sweep every ``SWEEP_SECONDS`` reads
all counts in one query and notifies where they differ from what was last sent.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from softphone.pbx.calls import peer_of_binding
from softphone.pbx.location import Binding, Location
from softphone.pbx.storage import PbxStore
from softphone.sip.dialog import Dialog, DialogState, new_tag
from softphone.sip.errors import RemoteProtocolError
from softphone.sip.headers import CSeq, Via
from softphone.sip.message import Headers, SipRequest, SipResponse
from softphone.sip.transaction import TransactionId
from softphone.sip.transport import Peer
from softphone.sip.uri import NameAddr, SipUri, parse_uri

__all__ = ["EVENT", "MessageWaiting", "summary_body"]

logger = logging.getLogger("softphone.mwi")

EVENT = "message-summary"
CONTENT_TYPE = "application/simple-message-summary"
DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 7200
SWEEP_SECONDS = 30.0

Counts = tuple[int, int]  # (new, saved)


def summary_body(counts: Counts, account: str) -> bytes:
    """RFC 3842 §5.2: ``Messages-Waiting`` and ``Voice-Message: new/old``."""
    new, old = counts
    return (f"Messages-Waiting: {'yes' if new else 'no'}\r\nMessage-Account: {account}\r\n"
            f"Voice-Message: {new}/{old} (0/0)\r\n").encode()


@dataclass(slots=True)
class Subscription:
    number: str
    dialog: Dialog
    peer: Peer
    expires_at: float


class MessageWaiting:
    def __init__(self, *, store: PbxStore, location: Location, domain: str,
                 send: Callable[[SipRequest, Peer], object],
                 respond: Callable[..., SipResponse | None], via: Callable[[Peer], Via],
                 contact: Callable[[Peer], NameAddr],
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.location = location
        self.domain = domain
        self.send = send
        self.respond = respond
        self.via = via
        self.contact = contact
        self.wall_clock = wall_clock
        self.subscriptions: dict[tuple[str, str], Subscription] = {}
        self._sent: dict[str, Counts] = {}
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._sweep_forever(), name="mwi-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # -- SUBSCRIBE (RFC 6665 §4.2) ------------------------------------------------------------
    async def subscribe(self, tid: TransactionId, request: SipRequest, source: Peer,
                        user: str) -> None:
        """A new subscription from authenticated ``user`` (only to its own mailbox)."""
        uri = request.uri
        target = uri.user if isinstance(uri, SipUri) and uri.user else user
        if target != user:
            self.respond(tid, request, 403, detail=f"{user} may not watch {target[:20]!r}")
            return
        expires = request.expires
        if expires is not None and 0 < expires < MIN_EXPIRES:
            self.respond(tid, request, 423, [("Min-Expires", str(MIN_EXPIRES))])
            return
        tag = new_tag()
        try:
            dialog = Dialog.as_uas(request, tag, self.contact(source))
        except RemoteProtocolError as error:
            self.respond(tid, request, 400, detail=error.msg)
            return
        granted = min(expires if expires is not None else DEFAULT_EXPIRES, MAX_EXPIRES)
        response_headers = [("Expires", str(granted)), ("Contact", str(self.contact(source)))]
        response = self.respond(tid, request, 200, response_headers,
                                detail=f"MWI for {user}", to_tag=tag)
        if response is None:
            return
        dialog.response_sent(request, response)
        subscription = Subscription(user, dialog, source, self.wall_clock() + granted)
        if granted:
            self.subscriptions[(request.call_id, tag)] = subscription
        await self._notify_subscription(subscription, terminated=granted == 0)

    def in_dialog(self, tid: TransactionId, request: SipRequest, source: Peer) -> bool:
        """A refresh or un-SUBSCRIBE inside one of our subscriptions; False if not ours."""
        key = (request.call_id, request.to_tag or "")
        subscription = self.subscriptions.get(key)
        if subscription is None or request.method != "SUBSCRIBE":
            return False
        try:
            subscription.dialog.receive_request(request)
        except RemoteProtocolError as error:
            self.respond(tid, request, error.status_hint, detail=error.msg)
            return True
        expires = request.expires
        granted = min(expires if expires is not None else DEFAULT_EXPIRES, MAX_EXPIRES)
        self.respond(tid, request, 200, [("Expires", str(granted))],
                     detail=f"MWI refresh for {subscription.number}")
        subscription.peer = source
        subscription.expires_at = self.wall_clock() + granted
        if granted == 0:
            del self.subscriptions[key]
        task = asyncio.ensure_future(
            self._notify_subscription(subscription, terminated=granted == 0))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return True

    # -- NOTIFY ----------------------------------------------------------------------------------
    async def changed(self, number: str) -> None:
        """The counts of ``number`` may have changed (a message was left): tell its phones."""
        counts = await self.store.voicemail_counts(number)
        self._notify(number, counts)

    def _notify(self, number: str, counts: Counts) -> None:
        self._sent[number] = counts
        subscribed = [s for s in self.subscriptions.values() if s.number == number]
        for subscription in subscribed:
            self._send_in_dialog(subscription, counts, terminated=False)
        if subscribed:
            return
        for binding in self.location.lookup(number, self.wall_clock()):
            self._send_unsolicited(binding, counts)

    async def _notify_subscription(self, subscription: Subscription, *,
                                   terminated: bool) -> None:
        counts = await self.store.voicemail_counts(subscription.number)
        self._sent[subscription.number] = counts
        self._send_in_dialog(subscription, counts, terminated=terminated)

    def _send_in_dialog(self, subscription: Subscription, counts: Counts, *,
                        terminated: bool) -> None:
        dialog = subscription.dialog
        if dialog.state is not DialogState.CONFIRMED:
            return
        remaining = max(0, round(subscription.expires_at - self.wall_clock()))
        state = "terminated;reason=timeout" if terminated or not remaining else \
            f"active;expires={remaining}"
        notify = dialog.create_request(
            "NOTIFY", self.via(subscription.peer),
            headers=[("Event", EVENT), ("Subscription-State", state)],
            body=summary_body(counts, self._account(subscription.number)),
            content_type=CONTENT_TYPE)
        self.send(notify, subscription.peer)

    def _send_unsolicited(self, binding: Binding, counts: Counts) -> None:
        number = binding.aor
        try:
            peer = peer_of_binding(binding)
            target = parse_uri(binding.contact)
        except (RemoteProtocolError, ValueError):
            return
        account = self._account(number)
        aor = NameAddr(SipUri(self.domain, user=number))
        request = SipRequest("NOTIFY", target, Headers([
            ("Via", str(self.via(peer))), ("Max-Forwards", "70"),
            ("From", str(NameAddr(SipUri(self.domain, user=number)).with_tag(new_tag()))),
            ("To", str(aor)), ("Call-ID", f"{secrets.token_hex(10)}@pbxweb"),
            ("CSeq", str(CSeq(1, "NOTIFY"))), ("Contact", str(self.contact(peer))),
            ("Event", EVENT), ("Subscription-State", "active"),
            ("Content-Type", CONTENT_TYPE)]), summary_body(counts, account))
        self.send(request, peer)

    def _account(self, number: str) -> str:
        return f"sip:{number}@{self.domain}"

    # -- the sweep ---------------------------------------------------------------------------
    async def sweep(self) -> None:
        """Expire subscriptions; notify every extension whose counts differ from the last
        NOTIFY (a message listened to or deleted in the web client)."""
        now = self.wall_clock()
        for key, subscription in list(self.subscriptions.items()):
            if subscription.expires_at <= now:
                del self.subscriptions[key]
                self._send_in_dialog(subscription, self._sent.get(subscription.number, (0, 0)),
                                     terminated=True)
        all_counts = await self.store.all_voicemail_counts()
        watched = {s.number for s in self.subscriptions.values()} | set(self._sent)
        for number in watched | set(all_counts):
            counts = all_counts.get(number, (0, 0))
            if self._sent.get(number, (0, 0)) != counts:
                self._notify(number, counts)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.sweep()
            except Exception:
                logger.exception("the message-waiting sweep failed")
