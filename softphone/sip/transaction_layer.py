"""The transaction layer (RFC 3261 §17): owns every transaction, matches messages to them,
absorbs retransmissions, routes CANCEL, and keeps one deadline for all of them.

How an engine drives it (all calls return effects, see ``transaction.py``)::

    layer = TransactionLayer(timers)
    # transport -> layer (after parsing):
    effects = layer.receive_request(request, source, reliable=source.kind.reliable, now=now)
    effects = layer.receive_response(response, now=now)
    effects = layer.transport_error(transaction_id, now=now)    # a send failed
    # TU -> layer:
    tid, effects = layer.send_request(request, destination, reliable=..., now=now)
    tid, effects = layer.send_cancel(invite_tid, now=now)       # tid None: queued or too late
    effects = layer.send_response(server_tid, response, now=now)
    # clock -> layer:
    deadline = layer.next_deadline()                            # sleep until then, at most
    effects = layer.handle_timeout(now)

    for effect in effects:
        match effect:
            case Send(message=m, destination=d): transport.send(bytes(m), d)
            case RequestReceived() | ResponseReceived() | CancelReceived() | Timeout() \
                    | TransportError() | Terminated(): tu.handle(effect)

Matching rules:

- Responses (§17.1.3): top Via branch + CSeq method (so the CANCEL's 200, which shares the
  INVITE's branch, reaches the CANCEL transaction). A response that matches nothing is dropped
  (RFC 6026 §8.9: only a stateless proxy may forward it; 2xx retransmissions reach the TU
  through the INVITE client transaction's Accepted state instead).
- Requests (§17.2.3): with the magic cookie, branch + sent-by + method, an ACK matching the
  INVITE; without it (RFC 2543 peers), Request-URI, From tag, Call-ID, CSeq number, top Via and
  method, with the To tag checked against the request (or, for an ACK, against our response).
- ACK to a 2xx has its own branch, matches nothing, and goes to the TU with no transaction.
- CANCEL (§9.2) gets its own non-INVITE server transaction, answered here: 200 if it matches
  an INVITE server transaction (the TU then hears ``CancelReceived`` if that INVITE has no final
  response yet, and should answer it 487), 481 if it matches none.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Hashable, Iterable
from typing import TypeAlias

from softphone.sip.errors import LocalProtocolError
from softphone.sip.message import SipRequest, SipResponse
from softphone.sip.timers import DEFAULT_TIMERS, TimerConfig
from softphone.sip.transaction import (
    Address,
    CancelReceived,
    Effect,
    RequestReceived,
    Terminated,
    TransactionId,
    TransactionKind,
    new_branch,
)
from softphone.sip.transaction_client import (
    InviteClientState,
    InviteClientTransaction,
    NonInviteClientTransaction,
    cancel_for,
)
from softphone.sip.transaction_server import (
    InviteServerState,
    InviteServerTransaction,
    NonInviteServerTransaction,
)

__all__ = ["Transaction", "TransactionLayer"]

Transaction: TypeAlias = (InviteClientTransaction | NonInviteClientTransaction
                          | InviteServerTransaction | NonInviteServerTransaction)
_ServerTransaction: TypeAlias = InviteServerTransaction | NonInviteServerTransaction

_OK = 200
_NO_TRANSACTION = 481  # §9.2: "Call/Transaction Does Not Exist"
_INVITE = "INVITE"
_ACK = "ACK"
_CANCEL = "CANCEL"


class TransactionLayer:
    def __init__(self, timers: TimerConfig = DEFAULT_TIMERS, *,
                 branch_factory: Callable[[], str] = new_branch) -> None:
        self.timers = timers
        self._branch_factory = branch_factory
        self._numbers = itertools.count(1)
        self._transactions: dict[TransactionId, Transaction] = {}
        self._client_index: dict[Hashable, TransactionId] = {}
        self._server_index: dict[Hashable, TransactionId] = {}
        self._keys: dict[TransactionId, Hashable] = {}
        # §9.1: a CANCEL for an INVITE without a provisional response waits for one.
        self._pending_cancels: dict[TransactionId, SipRequest] = {}
        # (deadline, tie-breaker, transaction); stale entries are skipped when popped.
        self._deadlines: list[tuple[float, int, TransactionId]] = []
        self._tie = itertools.count()

    # -- inspection ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._transactions)

    def __contains__(self, transaction: object) -> bool:
        return transaction in self._transactions

    def get(self, transaction: TransactionId) -> Transaction | None:
        return self._transactions.get(transaction)

    def new_branch(self) -> str:
        """A branch for the top Via of a request the TU is about to send (§8.1.1.7)."""
        return self._branch_factory()

    # -- TU -> layer ----------------------------------------------------------------------------
    def send_request(self, request: SipRequest, destination: Address, *, reliable: bool,
                     now: float) -> tuple[TransactionId, list[Effect]]:
        """Start a client transaction for ``request`` (its top Via carries a fresh branch)."""
        if request.method == _ACK:
            raise LocalProtocolError(
                "an ACK is not sent through a transaction (§17.1.1.3, §13.2.2.4)", 500)
        key = _client_key(request)
        if key in self._client_index:
            raise LocalProtocolError(f"a client transaction already uses {key}", 500)
        machine: InviteClientTransaction | NonInviteClientTransaction
        if request.method == _INVITE:
            tid = self._new_id(TransactionKind.INVITE_CLIENT)
            machine = InviteClientTransaction(tid, request, destination, reliable=reliable,
                                              timers=self.timers)
        else:
            tid = self._new_id(TransactionKind.NON_INVITE_CLIENT)
            machine = NonInviteClientTransaction(tid, request, destination, reliable=reliable,
                                                 timers=self.timers)
        self._register(machine, self._client_index, key)
        return tid, self._track(machine, machine.start(now))

    def send_cancel(self, invite: TransactionId, now: float,
                    headers: Iterable[tuple[str, str]] = (),
                    ) -> tuple[TransactionId | None, list[Effect]]:
        """CANCEL the INVITE client transaction ``invite`` (§9.1).

        Returns the CANCEL's transaction, or None when the CANCEL waits for a provisional
        response (it is sent when one arrives) or comes too late (a final response is in)."""
        machine = self._transactions.get(invite)
        if not isinstance(machine, InviteClientTransaction):
            raise LocalProtocolError(f"{invite} is not a live INVITE client transaction", 500)
        state = machine.state
        effects = self._track(machine, machine.cancel_sent(now))
        if state is InviteClientState.CALLING:
            self._pending_cancels[invite] = cancel_for(machine.request, headers)
            return None, effects
        if state is not InviteClientState.PROCEEDING:
            return None, effects
        cancel_id, sent = self._start_cancel(machine, cancel_for(machine.request, headers),
                                             now)
        return cancel_id, effects + sent

    def send_response(self, transaction: TransactionId, response: SipResponse,
                      now: float) -> list[Effect]:
        machine = self._transactions.get(transaction)
        if not isinstance(machine, InviteServerTransaction | NonInviteServerTransaction):
            raise LocalProtocolError(f"{transaction} is not a live server transaction", 500)
        return self._track(machine, machine.send_response(response, now))

    def transport_error(self, transaction: TransactionId, now: float) -> list[Effect]:
        machine = self._transactions.get(transaction)
        if machine is None:
            return []  # it ended meanwhile; nobody to tell
        return self._track(machine, machine.transport_error(now))

    # -- transport -> layer -----------------------------------------------------------------
    def receive_response(self, response: SipResponse, now: float) -> list[Effect]:
        tid = self._client_index.get(_client_key(response))
        machine = self._transactions.get(tid) if tid is not None else None
        if not isinstance(machine, InviteClientTransaction | NonInviteClientTransaction):
            return []  # stray: dropped (RFC 6026 §8.9)
        effects = self._track(machine, machine.receive_response(response, now))
        if isinstance(machine, InviteClientTransaction):
            effects += self._release_pending_cancel(machine, now)
        return effects

    def receive_request(self, request: SipRequest, source: Address, *, reliable: bool,
                        now: float) -> list[Effect]:
        method = request.method
        if method == _ACK:
            return self._receive_ack(request, source, now)
        key = _server_key(request, method)
        existing = self._server_match(key, request)
        if existing is not None:  # a retransmission (§17.2.3)
            return self._track(existing, existing.receive_request(request, now))
        if method == _CANCEL:
            return self._receive_cancel(request, source, key, reliable=reliable, now=now)
        machine: _ServerTransaction
        if method == _INVITE:
            tid = self._new_id(TransactionKind.INVITE_SERVER)
            machine = InviteServerTransaction(tid, request, source, reliable=reliable,
                                              timers=self.timers)
        else:
            tid = self._new_id(TransactionKind.NON_INVITE_SERVER)
            machine = NonInviteServerTransaction(tid, request, source, reliable=reliable,
                                                 timers=self.timers)
        self._register(machine, self._server_index, key)
        return self._track(machine, machine.start(now))

    # -- clock -> layer -----------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        while self._deadlines:
            deadline, _, tid = self._deadlines[0]
            machine = self._transactions.get(tid)
            if machine is not None and machine.next_deadline() == deadline:
                return deadline
            heapq.heappop(self._deadlines)  # stale: the machine ended or re-armed
        return None

    def handle_timeout(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, tid = heapq.heappop(self._deadlines)
            machine = self._transactions.get(tid)
            if machine is None:
                continue
            due = machine.next_deadline()
            if due is not None and due <= now:
                effects += self._track(machine, machine.handle_timeout(now))
        return effects

    # -- internals ----------------------------------------------------------------------------
    def _new_id(self, kind: TransactionKind) -> TransactionId:
        return TransactionId(kind, next(self._numbers))

    def _register(self, machine: Transaction, index: dict[Hashable, TransactionId],
                  key: Hashable) -> None:
        self._transactions[machine.id] = machine
        index[key] = machine.id
        self._keys[machine.id] = key

    def _track(self, machine: Transaction, effects: list[Effect]) -> list[Effect]:
        """Bookkeeping after a machine acted: forget it once terminated, else note its
        next deadline."""
        if any(isinstance(e, Terminated) and e.transaction == machine.id for e in effects):
            self._forget(machine)
        else:
            deadline = machine.next_deadline()
            if deadline is not None:
                heapq.heappush(self._deadlines, (deadline, next(self._tie), machine.id))
        return effects

    def _forget(self, machine: Transaction) -> None:
        self._transactions.pop(machine.id, None)
        self._pending_cancels.pop(machine.id, None)
        key = self._keys.pop(machine.id, None)
        client = isinstance(machine, InviteClientTransaction | NonInviteClientTransaction)
        index = self._client_index if client else self._server_index
        if key is not None and index.get(key) == machine.id:
            del index[key]

    def _start_cancel(self, invite: InviteClientTransaction, cancel: SipRequest,
                      now: float) -> tuple[TransactionId, list[Effect]]:
        return self.send_request(cancel, invite.destination, reliable=invite.reliable, now=now)

    def _release_pending_cancel(self, invite: InviteClientTransaction,
                                now: float) -> list[Effect]:
        if invite.id not in self._pending_cancels:
            return []
        if invite.state is InviteClientState.CALLING:
            return []
        cancel = self._pending_cancels.pop(invite.id)
        if invite.state is not InviteClientState.PROCEEDING:
            return []  # a final response came first: nothing left to cancel
        effects = self._track(invite, invite.cancel_sent(now))
        _, sent = self._start_cancel(invite, cancel, now)
        return effects + sent

    def _server_match(self, key: Hashable, request: SipRequest) -> _ServerTransaction | None:
        tid = self._server_index.get(key)
        machine = self._transactions.get(tid) if tid is not None else None
        if not isinstance(machine, InviteServerTransaction | NonInviteServerTransaction):
            return None
        # RFC 2543 matching also compares the To tag, which is not in the key (§17.2.3).
        if isinstance(key, _LegacyKey) and request.to_tag != machine.request.to_tag:
            return None
        return machine

    def _receive_ack(self, ack: SipRequest, source: Address, now: float) -> list[Effect]:
        key = _server_key(ack, _INVITE)
        tid = self._server_index.get(key)
        machine = self._transactions.get(tid) if tid is not None else None
        if isinstance(machine, InviteServerTransaction) and _ack_matches(key, ack, machine):
            return self._track(machine, machine.receive_request(ack, now))
        # An ACK for a 2xx (a new branch, §17.1.1.3) or for nothing we know: the TU's.
        return [RequestReceived(None, ack, source)]

    def _receive_cancel(self, cancel: SipRequest, source: Address, key: Hashable, *,
                        reliable: bool, now: float) -> list[Effect]:
        tid = self._new_id(TransactionKind.NON_INVITE_SERVER)
        machine = NonInviteServerTransaction(tid, cancel, source, reliable=reliable,
                                             timers=self.timers)
        self._register(machine, self._server_index, key)
        invite = self._server_match(_server_key(cancel, _INVITE), cancel)
        if not isinstance(invite, InviteServerTransaction):
            return self._track(machine, machine.send_response(
                cancel.make_response(_NO_TRANSACTION), now))
        # §9.2: the CANCEL is answered 200 whatever the INVITE's state; only an INVITE still
        # without a final response is actually cancelled, by the TU (487).
        effects = self._track(machine, machine.send_response(cancel.make_response(_OK), now))
        if invite.state is InviteServerState.PROCEEDING:
            effects.append(CancelReceived(invite.id, cancel))
        return effects


class _LegacyKey(tuple[str, str, str, int, str, str]):
    """§17.2.3 matching for requests without the magic cookie (RFC 2543 peers):
    (Request-URI, From tag, Call-ID, CSeq number, top Via, method)."""

    __slots__ = ()


def _client_key(message: SipRequest | SipResponse) -> Hashable:
    """§17.1.3: branch of the top Via and the CSeq method."""
    return (message.branch or "", message.cseq.method)


def _server_key(request: SipRequest, method: str) -> Hashable:
    """§17.2.3, with ``method`` INVITE for an ACK or a CANCEL looking for its INVITE."""
    via = request.top_via
    if via.has_rfc3261_branch:
        host, port = via.sent_by
        return (via.branch, host.lower(), port, method)
    return _LegacyKey((str(request.uri), request.from_tag or "", request.call_id,
                       request.cseq.number, str(via), method))


def _ack_matches(key: Hashable, ack: SipRequest, invite: InviteServerTransaction) -> bool:
    if not isinstance(key, _LegacyKey):
        return True
    # RFC 2543: the ACK's To tag must be the one of the response we sent.
    sent = invite.last_response
    return sent is not None and ack.to_tag == sent.to_tag
