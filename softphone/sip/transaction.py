"""What every RFC 3261 §17 transaction machine shares: identities, effects, timers, tables.

Strategy (h11's, with timers): a transaction is a plain object that takes inputs — a message
from the peer, a response from the TU, a timer firing, a transport error — each with the
caller's monotonic ``now``, and returns its effects as values: messages to send (with where to)
and events for the transaction user. It never reads a clock, never sleeps and never touches a
socket; it says when it next needs to be woken with ``next_deadline()``, and the caller calls
``handle_timeout(now)`` at or after that time.

Each machine has ONE transition table, ``{(State, Input): State}``, next to its class
(``transaction_client.py``, ``transaction_server.py``). Inputs the peer can cause have a row in
every state (a late retransmission is absorbed, never an error); a missing row can only be the
TU misusing the API and raises ``LocalProtocolError``. The tables are what the RFC's figures
say, with RFC 6026's "Accepted" state for INVITE 2xx.

The machines know nothing about matching or about other transactions:
``transaction_layer.TransactionLayer`` owns them, routes messages to them (§17.1.3, §17.2.3)
and keeps the deadlines of all of them.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar

from softphone.sip.errors import LocalProtocolError
from softphone.sip.message import SipRequest, SipResponse
from softphone.sip.timers import Timer

__all__ = [
    "MAGIC_COOKIE",
    "Address",
    "CancelReceived",
    "Effect",
    "RequestReceived",
    "ResponseReceived",
    "Send",
    "Terminated",
    "Timeout",
    "TransactionId",
    "TransactionKind",
    "TransportError",
    "new_branch",
    "state_diagram",
]

# §8.1.1.7: a branch starting with this was made by an RFC 3261 element, so it is unique and
# the branch alone (with sent-by and method) identifies the transaction (§17.2.3).
MAGIC_COOKIE = "z9hG4bK"
# Random bits in a branch we make: enough that two never collide (§8.1.1.7 "unique").
_BRANCH_RANDOM_BYTES = 12

# Where a message goes or came from. Opaque here: the transport's ``Peer`` (kind, host, port,
# connection), chosen by the TU for requests (RFC 3263) and by the transport for responses.
Address: TypeAlias = Hashable


def new_branch(token_hex: Callable[[int], str] = secrets.token_hex) -> str:
    """A fresh Via branch (§8.1.1.7): the magic cookie and 96 random bits."""
    return MAGIC_COOKIE + token_hex(_BRANCH_RANDOM_BYTES)


class TransactionKind(enum.StrEnum):
    INVITE_CLIENT = "ict"  # §17.1.1
    NON_INVITE_CLIENT = "nict"  # §17.1.2
    INVITE_SERVER = "ist"  # §17.2.1
    NON_INVITE_SERVER = "nist"  # §17.2.2


@dataclass(frozen=True, slots=True)
class TransactionId:
    """How the TU names a transaction (a number is enough; the kind helps logs)."""

    kind: TransactionKind
    number: int

    def __str__(self) -> str:
        return f"{self.kind}-{self.number}"


# -- effects: what a machine asks its caller to do -------------------------------------------
@dataclass(frozen=True, slots=True)
class Send:
    """Hand ``message`` to the transport for ``destination`` (bytes are ``bytes(message)``)."""

    transaction: TransactionId | None
    message: SipRequest | SipResponse
    destination: Address


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request for the TU. ``transaction`` is None for an ACK to a 2xx (§17: it is not
    part of the INVITE transaction) and for ACKs that match no transaction."""

    transaction: TransactionId | None
    request: SipRequest
    source: Address


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response for the TU (never a retransmission the transaction absorbed)."""

    transaction: TransactionId
    response: SipResponse


@dataclass(frozen=True, slots=True)
class CancelReceived:
    """§9.2: a CANCEL matched the INVITE ``transaction``, still without a final response.

    The CANCEL has been answered 200 already; the TU should answer the INVITE with 487."""

    transaction: TransactionId
    cancel: SipRequest


@dataclass(frozen=True, slots=True)
class Timeout:
    """Timer B/F (no final response) or Timer H (no ACK): the TU treats it as 408."""

    transaction: TransactionId
    timer: Timer


@dataclass(frozen=True, slots=True)
class TransportError:
    transaction: TransactionId


@dataclass(frozen=True, slots=True)
class Terminated:
    """The transaction is gone; its id will not appear again (§17.1.1.2 "destroyed")."""

    transaction: TransactionId


Effect: TypeAlias = (Send | RequestReceived | ResponseReceived | CancelReceived | Timeout
                     | TransportError | Terminated)


def state_diagram(table: Mapping[tuple[Any, Any], enum.StrEnum]) -> str:
    """A Mermaid ``stateDiagram-v2`` drawn from a transition table, so documentation is
    generated from the code that runs (h11's ``make-state-diagrams.py``). Self-loops that
    only absorb are drawn too: they are part of the contract."""
    lines = ["stateDiagram-v2"]
    for (source, event), target in table.items():
        lines.append(f"    {source.name} --> {target.name}: {event}")
    return "\n".join(lines) + "\n"


# -- the machinery shared by the four machines ------------------------------------------------
S = TypeVar("S", bound=enum.StrEnum)
I = TypeVar("I", bound=enum.StrEnum)  # noqa: E741 - "Input", as in the tables


class TransactionMachine(Generic[S, I]):
    """A state, one transition table, and the armed timers, for one transaction."""

    # ClassVars cannot use the class's type variables; each subclass binds them to its enums.
    TRANSITIONS: ClassVar[Mapping[tuple[Any, Any], Any]]
    TERMINATED: ClassVar[Any]
    # Which table input each timer is (Timer.A -> Input.TIMER_A, ...).
    TIMER_INPUTS: ClassVar[Mapping[Timer, Any]]
    # Inputs the peer or the network causes: every state has a row for each (a late
    # retransmission is absorbed, never an error). Tests hold the tables to this.
    PEER_INPUTS: ClassVar[tuple[Any, ...]]

    def __init__(self, transaction_id: TransactionId, state: S, reliable: bool) -> None:
        self.id = transaction_id
        self.state: S = state
        self.reliable = reliable
        self._deadlines: dict[Timer, float] = {}
        self._intervals: dict[Timer, float] = {}

    @property
    def terminated(self) -> bool:
        return self.state == self.TERMINATED

    # -- timers -----------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        """When ``handle_timeout`` must next be called, or None if no timer is armed."""
        return min(self._deadlines.values(), default=None)

    def handle_timeout(self, now: float) -> list[Effect]:
        """Fire every timer due at ``now``, earliest first."""
        out: list[Effect] = []
        self._fire_due(now, out)
        return out

    def _arm(self, timer: Timer, delay: float, now: float) -> None:
        self._deadlines[timer] = now + delay

    def _arm_retransmit(self, timer: Timer, interval: float, now: float) -> None:
        self._intervals[timer] = interval
        self._arm(timer, interval, now)

    def _disarm(self, *timers: Timer) -> None:
        for timer in timers:
            self._deadlines.pop(timer, None)
            self._intervals.pop(timer, None)

    def _fire_due(self, now: float, out: list[Effect]) -> None:
        # Zero-length timers (D, I, J, K on reliable transports) are armed at ``now`` and fire
        # here, at the end of the input that armed them.
        while not self.terminated:
            due = [(deadline, timer) for timer, deadline in self._deadlines.items()
                   if deadline <= now]
            if not due:
                return
            _, timer = min(due)
            del self._deadlines[timer]
            self._on_timer(timer, now, out)

    def _on_timer(self, timer: Timer, now: float, out: list[Effect]) -> None:
        raise NotImplementedError

    # -- transitions ------------------------------------------------------------------------
    def _step(self, event: I, out: list[Effect]) -> S:
        """Apply ``event`` to the table and return the state it was in. A missing row is the
        TU misusing the API (peer inputs have rows everywhere). Entering TERMINATED disarms
        every timer and tells the TU (§17.1.1.2: "destroyed the instant it enters")."""
        old = self.state
        try:
            new = self.TRANSITIONS[(old, event)]
        except KeyError:
            raise LocalProtocolError(
                f"{self.id}: {event} is not allowed in state {old}", 500) from None
        self.state = new
        if new == self.TERMINATED and old != self.TERMINATED:
            self._deadlines.clear()
            self._intervals.clear()
            out.append(Terminated(self.id))
        return old
