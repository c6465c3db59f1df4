"""Server transactions: INVITE (RFC 3261 §17.2.1, RFC 6026 §8.5-8.7) and non-INVITE (§17.2.2).

A server transaction receives one request (the layer creates it and gives the request to the
TU), sends the TU's responses, answers retransmissions of the request with the last response
instead of bothering the TU, and for INVITE retransmits a non-2xx final response until the ACK
arrives. See ``transaction.py`` for the shared contract.

100 Trying (§17.2.1): sent at once when the INVITE server transaction starts, not after 200 ms.
The engine's TU usually needs more than 200 ms (a database look-up, forking to phones) and an
immediate 100 stops the caller's Timer A retransmissions a round trip sooner, costs one
datagram, and needs no timer. (RFC 3261 allows both; Kamailio and Asterisk also answer at once.)
"""

from __future__ import annotations

import enum
from typing import ClassVar

from softphone.sip.message import SipRequest, SipResponse
from softphone.sip.timers import Timer, TimerConfig
from softphone.sip.transaction import (
    Address,
    Effect,
    RequestReceived,
    Send,
    Timeout,
    TransactionId,
    TransactionMachine,
    TransportError,
)

__all__ = [
    "INVITE_SERVER_TRANSITIONS",
    "NON_INVITE_SERVER_TRANSITIONS",
    "InviteServerState",
    "InviteServerTransaction",
    "NonInviteServerState",
    "NonInviteServerTransaction",
    "ServerInput",
]

_PROVISIONAL_MAX = 199
_SUCCESS_MAX = 299
_TRYING = 100


class ServerInput(enum.StrEnum):
    REQUEST = "request retransmission"
    ACK = "ACK"  # INVITE only
    PROVISIONAL = "1xx from TU"
    SUCCESS = "2xx from TU"
    FAILURE = "300-699 from TU"
    TIMER_G = "timer G"
    TIMER_H = "timer H"
    TIMER_I = "timer I"
    TIMER_J = "timer J"
    TIMER_L = "timer L"
    TRANSPORT_ERROR = "transport error"


def classify_tu_response(response: SipResponse) -> ServerInput:
    status = response.status_code
    if status <= _PROVISIONAL_MAX:
        return ServerInput.PROVISIONAL
    if status <= _SUCCESS_MAX:
        return ServerInput.SUCCESS
    return ServerInput.FAILURE


_I = ServerInput
_TU_RESPONSES = (_I.PROVISIONAL, _I.SUCCESS, _I.FAILURE)


# -- INVITE server, §17.2.1 Figure 7 with RFC 6026 Figure 5 ----------------------------------
class InviteServerState(enum.StrEnum):
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"  # RFC 6026 §8.5
    TERMINATED = "Terminated"


_S = InviteServerState

INVITE_SERVER_TRANSITIONS: dict[tuple[InviteServerState, ServerInput], InviteServerState] = {
    # §17.2.1: a retransmitted INVITE gets the last provisional response again.
    (_S.PROCEEDING, _I.REQUEST): _S.PROCEEDING,
    (_S.PROCEEDING, _I.ACK): _S.PROCEEDING,  # no final response yet: nothing it can ACK
    (_S.PROCEEDING, _I.PROVISIONAL): _S.PROCEEDING,
    (_S.PROCEEDING, _I.SUCCESS): _S.ACCEPTED,  # RFC 6026 §8.5 (RFC 3261: Terminated)
    (_S.PROCEEDING, _I.FAILURE): _S.COMPLETED,
    (_S.PROCEEDING, _I.TRANSPORT_ERROR): _S.TERMINATED,
    # Completed: retransmit the final response on Timer G and on each INVITE, until the ACK;
    # Timer H gives up.
    (_S.COMPLETED, _I.REQUEST): _S.COMPLETED,
    (_S.COMPLETED, _I.TIMER_G): _S.COMPLETED,
    (_S.COMPLETED, _I.ACK): _S.CONFIRMED,
    (_S.COMPLETED, _I.TIMER_H): _S.TERMINATED,
    (_S.COMPLETED, _I.TRANSPORT_ERROR): _S.TERMINATED,
    # Confirmed: absorb ACK (and INVITE) retransmissions until Timer I.
    (_S.CONFIRMED, _I.REQUEST): _S.CONFIRMED,
    (_S.CONFIRMED, _I.ACK): _S.CONFIRMED,
    (_S.CONFIRMED, _I.TIMER_I): _S.TERMINATED,
    (_S.CONFIRMED, _I.TRANSPORT_ERROR): _S.CONFIRMED,  # nothing left to send
    # RFC 6026 §8.7: absorb INVITE retransmissions, send the TU's 2xx retransmissions, hand
    # any ACK that matches to the TU; Timer L ends it.
    (_S.ACCEPTED, _I.REQUEST): _S.ACCEPTED,
    (_S.ACCEPTED, _I.SUCCESS): _S.ACCEPTED,
    (_S.ACCEPTED, _I.ACK): _S.ACCEPTED,
    (_S.ACCEPTED, _I.TIMER_L): _S.TERMINATED,
    # The 2xx could not be sent; the TU hears of it and keeps retransmitting or hangs up.
    (_S.ACCEPTED, _I.TRANSPORT_ERROR): _S.ACCEPTED,
    (_S.TERMINATED, _I.REQUEST): _S.TERMINATED,
    (_S.TERMINATED, _I.ACK): _S.TERMINATED,
    (_S.TERMINATED, _I.TRANSPORT_ERROR): _S.TERMINATED,
}


class _ServerTransaction(TransactionMachine[enum.StrEnum, ServerInput]):
    """What both server machines share: the request, its source, the last response."""

    def __init__(self, transaction_id: TransactionId, request: SipRequest, source: Address,
                 state: enum.StrEnum, *, reliable: bool, timers: TimerConfig) -> None:
        super().__init__(transaction_id, state, reliable)
        self.request = request
        # §18.2.2: responses go back where the request came from (the transport applies
        # the Via received/rport rules when it made ``source``).
        self.destination = source
        self.timers = timers
        self.last_response: SipResponse | None = None

    def _send(self, response: SipResponse, out: list[Effect]) -> None:
        self.last_response = response
        out.append(Send(self.id, response, self.destination))

    def _resend_last(self, out: list[Effect]) -> None:
        if self.last_response is not None:
            out.append(Send(self.id, self.last_response, self.destination))

    def transport_error(self, now: float) -> list[Effect]:
        out: list[Effect] = [TransportError(self.id)]
        self._step(_I.TRANSPORT_ERROR, out)
        return out


class InviteServerTransaction(_ServerTransaction):
    TRANSITIONS: ClassVar = INVITE_SERVER_TRANSITIONS
    TERMINATED: ClassVar = InviteServerState.TERMINATED
    TIMER_INPUTS: ClassVar = {Timer.G: _I.TIMER_G, Timer.H: _I.TIMER_H, Timer.I: _I.TIMER_I,
                              Timer.L: _I.TIMER_L}
    PEER_INPUTS: ClassVar = (_I.REQUEST, _I.ACK, _I.TRANSPORT_ERROR)

    def __init__(self, transaction_id: TransactionId, request: SipRequest, source: Address, *,
                 reliable: bool, timers: TimerConfig) -> None:
        super().__init__(transaction_id, request, source, InviteServerState.PROCEEDING,
                         reliable=reliable, timers=timers)

    def start(self, now: float) -> list[Effect]:
        """Answer 100 Trying at once (see the module docstring) and give the INVITE to the TU."""
        out: list[Effect] = []
        self._send(trying_for(self.request), out)
        out.append(RequestReceived(self.id, self.request, self.destination))
        return out

    def send_response(self, response: SipResponse, now: float) -> list[Effect]:
        """A response from the TU (§17.2.1). Raises LocalProtocolError after a final one,
        except that 2xx retransmissions are welcome in Accepted (RFC 6026 §8.7)."""
        out: list[Effect] = []
        event = classify_tu_response(response)
        old = self._step(event, out)
        self._send(response, out)
        if old is _S.PROCEEDING and event is _I.FAILURE:
            interval = self.timers.timer_g(self.reliable)
            if interval is not None:
                self._arm_retransmit(Timer.G, interval, now)
            self._arm(Timer.H, self.timers.timer_h, now)
        elif old is _S.PROCEEDING and event is _I.SUCCESS:
            self._arm(Timer.L, self.timers.timer_l, now)
        self._fire_due(now, out)
        return out

    def receive_request(self, request: SipRequest, now: float) -> list[Effect]:
        """A retransmitted INVITE, or an ACK the layer matched to this transaction."""
        out: list[Effect] = []
        event = _I.ACK if request.method == "ACK" else _I.REQUEST
        old = self._step(event, out)
        if event is _I.REQUEST and old in (_S.PROCEEDING, _S.COMPLETED):
            self._resend_last(out)
        elif event is _I.ACK and old is _S.COMPLETED:
            # §17.2.1: stop retransmitting; absorb ACK retransmissions for Timer I.
            self._disarm(Timer.G, Timer.H)
            self._arm(Timer.I, self.timers.timer_i(self.reliable), now)
        elif event is _I.ACK and old is _S.ACCEPTED:
            out.append(RequestReceived(None, request, self.destination))
        self._fire_due(now, out)
        return out

    def _on_timer(self, timer: Timer, now: float, out: list[Effect]) -> None:
        self._step(self.TIMER_INPUTS[timer], out)
        if timer is Timer.G:
            self._resend_last(out)
            interval = self.timers.next_interval(self._intervals[Timer.G], capped=True)
            self._arm_retransmit(Timer.G, interval, now)
        elif timer is Timer.H:
            out.insert(-1, Timeout(self.id, timer))  # no ACK ever came: before Terminated


# -- non-INVITE server, §17.2.2 Figure 8 ------------------------------------------------------
class NonInviteServerState(enum.StrEnum):
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


_N = NonInviteServerState

NON_INVITE_SERVER_TRANSITIONS: dict[tuple[NonInviteServerState, ServerInput],
                                    NonInviteServerState] = {
    # §17.2.2: a retransmission before any response is absorbed: the TU is working on it.
    (_N.TRYING, _I.REQUEST): _N.TRYING,
    (_N.TRYING, _I.PROVISIONAL): _N.PROCEEDING,
    (_N.TRYING, _I.SUCCESS): _N.COMPLETED,
    (_N.TRYING, _I.FAILURE): _N.COMPLETED,
    (_N.TRYING, _I.TRANSPORT_ERROR): _N.TERMINATED,
    (_N.PROCEEDING, _I.REQUEST): _N.PROCEEDING,  # resend the last provisional
    (_N.PROCEEDING, _I.PROVISIONAL): _N.PROCEEDING,
    (_N.PROCEEDING, _I.SUCCESS): _N.COMPLETED,
    (_N.PROCEEDING, _I.FAILURE): _N.COMPLETED,
    (_N.PROCEEDING, _I.TRANSPORT_ERROR): _N.TERMINATED,
    # Completed: resend the final response to each retransmission until Timer J.
    (_N.COMPLETED, _I.REQUEST): _N.COMPLETED,
    (_N.COMPLETED, _I.TIMER_J): _N.TERMINATED,
    (_N.COMPLETED, _I.TRANSPORT_ERROR): _N.TERMINATED,
    (_N.TERMINATED, _I.REQUEST): _N.TERMINATED,
    (_N.TERMINATED, _I.TRANSPORT_ERROR): _N.TERMINATED,
}


class NonInviteServerTransaction(_ServerTransaction):
    TRANSITIONS: ClassVar = NON_INVITE_SERVER_TRANSITIONS
    TERMINATED: ClassVar = NonInviteServerState.TERMINATED
    TIMER_INPUTS: ClassVar = {Timer.J: _I.TIMER_J}
    PEER_INPUTS: ClassVar = (_I.REQUEST, _I.TRANSPORT_ERROR)

    def __init__(self, transaction_id: TransactionId, request: SipRequest, source: Address, *,
                 reliable: bool, timers: TimerConfig) -> None:
        super().__init__(transaction_id, request, source, NonInviteServerState.TRYING,
                         reliable=reliable, timers=timers)

    def start(self, now: float) -> list[Effect]:
        return [RequestReceived(self.id, self.request, self.destination)]

    def send_response(self, response: SipResponse, now: float) -> list[Effect]:
        """A response from the TU (§17.2.2). Raises LocalProtocolError after a final one."""
        out: list[Effect] = []
        event = classify_tu_response(response)
        old = self._step(event, out)
        self._send(response, out)
        if old is not _N.COMPLETED and event is not _I.PROVISIONAL:
            self._arm(Timer.J, self.timers.timer_j(self.reliable), now)
            # From now on the request only matches retransmissions (its key is kept by
            # the layer): its parsed views can go.
            self.request.forget_parsed()
        self._fire_due(now, out)
        return out

    def receive_request(self, request: SipRequest, now: float) -> list[Effect]:
        out: list[Effect] = []
        old = self._step(_I.REQUEST, out)
        if old in (_N.PROCEEDING, _N.COMPLETED):
            self._resend_last(out)
        return out

    def _on_timer(self, timer: Timer, now: float, out: list[Effect]) -> None:
        self._step(self.TIMER_INPUTS[timer], out)


def trying_for(request: SipRequest) -> SipResponse:
    """100 Trying for ``request`` (§8.2.6.1: no To tag, Timestamp copied: ``make_response``)."""
    return request.make_response(_TRYING)
