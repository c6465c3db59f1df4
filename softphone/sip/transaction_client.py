"""Client transactions: INVITE (RFC 3261 §17.1.1, RFC 6026 §8.4) and non-INVITE (§17.1.2).

A client transaction sends one request, retransmits it over unreliable transports until the
peer shows signs of life, hands each new response to the TU, and times out when nobody answers.
It is created by ``TransactionLayer.send_request``; responses reach it through the layer's
matching (§17.1.3). See ``transaction.py`` for the shared contract.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import ClassVar

from softphone.sip.headers import CSeq
from softphone.sip.message import Headers, SipRequest, SipResponse
from softphone.sip.timers import Timer, TimerConfig
from softphone.sip.transaction import (
    Address,
    Effect,
    ResponseReceived,
    Send,
    Timeout,
    TransactionId,
    TransactionMachine,
    TransportError,
)

__all__ = [
    "INVITE_CLIENT_TRANSITIONS",
    "NON_INVITE_CLIENT_TRANSITIONS",
    "ClientInput",
    "InviteClientState",
    "InviteClientTransaction",
    "NonInviteClientState",
    "NonInviteClientTransaction",
    "ack_for_non_2xx",
    "cancel_for",
]

_PROVISIONAL_MAX = 199
_SUCCESS_MAX = 299


class ClientInput(enum.StrEnum):
    PROVISIONAL = "1xx"
    SUCCESS = "2xx"
    FAILURE = "300-699"  # for non-INVITE, FAILURE and SUCCESS are both just "final"
    TIMER_A = "timer A"
    TIMER_B = "timer B"
    TIMER_D = "timer D"
    TIMER_E = "timer E"
    TIMER_F = "timer F"
    TIMER_K = "timer K"
    TIMER_M = "timer M"
    CANCEL = "CANCEL sent"  # INVITE only: the TU sent a CANCEL for this INVITE (§9.1)
    TRANSPORT_ERROR = "transport error"


def classify_response(response: SipResponse) -> ClientInput:
    status = response.status_code
    if status <= _PROVISIONAL_MAX:
        return ClientInput.PROVISIONAL
    if status <= _SUCCESS_MAX:
        return ClientInput.SUCCESS
    return ClientInput.FAILURE


# -- INVITE client, §17.1.1 Figure 5 with RFC 6026 Figure 3 ----------------------------------
class InviteClientState(enum.StrEnum):
    CALLING = "Calling"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    ACCEPTED = "Accepted"  # RFC 6026 §8.4
    TERMINATED = "Terminated"


_C = InviteClientState
_I = ClientInput
_RESPONSES = (_I.PROVISIONAL, _I.SUCCESS, _I.FAILURE)

INVITE_CLIENT_TRANSITIONS: dict[tuple[InviteClientState, ClientInput], InviteClientState] = {
    # §17.1.1.2: retransmit at Timer A (doubling) until Timer B gives up.
    (_C.CALLING, _I.TIMER_A): _C.CALLING,
    (_C.CALLING, _I.TIMER_B): _C.TERMINATED,
    (_C.CALLING, _I.PROVISIONAL): _C.PROCEEDING,
    (_C.CALLING, _I.SUCCESS): _C.ACCEPTED,  # RFC 6026 §8.4 (RFC 3261: Terminated)
    (_C.CALLING, _I.FAILURE): _C.COMPLETED,
    (_C.CALLING, _I.TRANSPORT_ERROR): _C.TERMINATED,
    # §9.1: a CANCEL waits for a provisional response; Timer B keeps running meanwhile.
    (_C.CALLING, _I.CANCEL): _C.CALLING,
    (_C.PROCEEDING, _I.PROVISIONAL): _C.PROCEEDING,
    (_C.PROCEEDING, _I.SUCCESS): _C.ACCEPTED,
    (_C.PROCEEDING, _I.FAILURE): _C.COMPLETED,
    # A stream that breaks while ringing will never carry the final response.
    (_C.PROCEEDING, _I.TRANSPORT_ERROR): _C.TERMINATED,
    # §9.1: after a CANCEL, give the INVITE 64*T1 to end before destroying it (Timer B again).
    (_C.PROCEEDING, _I.CANCEL): _C.PROCEEDING,
    (_C.PROCEEDING, _I.TIMER_B): _C.TERMINATED,
    # §17.1.1.2: each retransmitted final response gets the same ACK again; Timer D ends it.
    (_C.COMPLETED, _I.FAILURE): _C.COMPLETED,
    (_C.COMPLETED, _I.PROVISIONAL): _C.COMPLETED,  # late, absorbed
    (_C.COMPLETED, _I.SUCCESS): _C.COMPLETED,  # contradicts the final response: absorbed
    (_C.COMPLETED, _I.TIMER_D): _C.TERMINATED,
    (_C.COMPLETED, _I.TRANSPORT_ERROR): _C.TERMINATED,
    (_C.COMPLETED, _I.CANCEL): _C.COMPLETED,  # too late: nothing to do
    # RFC 6026 §8.4: every 2xx (retransmissions, forks) goes to the TU, which ACKs each one.
    (_C.ACCEPTED, _I.SUCCESS): _C.ACCEPTED,
    (_C.ACCEPTED, _I.PROVISIONAL): _C.ACCEPTED,
    (_C.ACCEPTED, _I.FAILURE): _C.ACCEPTED,
    (_C.ACCEPTED, _I.TIMER_M): _C.TERMINATED,
    # The ACK to a 2xx is the TU's, sent outside this transaction: nothing here can fail.
    (_C.ACCEPTED, _I.TRANSPORT_ERROR): _C.ACCEPTED,
    (_C.ACCEPTED, _I.CANCEL): _C.ACCEPTED,
    **{(_C.TERMINATED, event): _C.TERMINATED for event in (*_RESPONSES, _I.TRANSPORT_ERROR,
                                                            _I.CANCEL)},
}


class InviteClientTransaction(TransactionMachine[InviteClientState, ClientInput]):
    TRANSITIONS: ClassVar = INVITE_CLIENT_TRANSITIONS
    TERMINATED: ClassVar = InviteClientState.TERMINATED
    TIMER_INPUTS: ClassVar = {Timer.A: _I.TIMER_A, Timer.B: _I.TIMER_B, Timer.D: _I.TIMER_D,
                              Timer.M: _I.TIMER_M}
    PEER_INPUTS: ClassVar = (*_RESPONSES, _I.TRANSPORT_ERROR)

    def __init__(self, transaction_id: TransactionId, request: SipRequest,
                 destination: Address, *, reliable: bool, timers: TimerConfig) -> None:
        super().__init__(transaction_id, InviteClientState.CALLING, reliable)
        self.request = request
        self.destination = destination
        self.timers = timers
        self.ack: SipRequest | None = None  # the ACK to our non-2xx final response

    def start(self, now: float) -> list[Effect]:
        """Send the INVITE and arm Timers A and B (§17.1.1.2)."""
        interval = self.timers.timer_a(self.reliable)
        if interval is not None:
            self._arm_retransmit(Timer.A, interval, now)
        self._arm(Timer.B, self.timers.timer_b, now)
        return [Send(self.id, self.request, self.destination)]

    def receive_response(self, response: SipResponse, now: float) -> list[Effect]:
        out: list[Effect] = []
        event = classify_response(response)
        old = self._step(event, out)
        if old is _C.CALLING or old is _C.PROCEEDING:
            # Any response stops the retransmissions (§17.1.1.2 "SHOULD NOT retransmit").
            self._disarm(Timer.A)
            if event is not _I.PROVISIONAL:
                self._disarm(Timer.B)
            out.append(ResponseReceived(self.id, response))
            if event is _I.FAILURE:
                # §17.1.1.3: our ACK, same branch, then wait out retransmissions (Timer D).
                self.ack = ack_for_non_2xx(self.request, response)
                out.append(Send(self.id, self.ack, self.destination))
                self._arm(Timer.D, self.timers.timer_d(self.reliable), now)
            elif event is _I.SUCCESS:
                self._arm(Timer.M, self.timers.timer_m, now)
            elif old is _C.CALLING:
                self._disarm(Timer.B)  # Proceeding waits for the TU (Timer C, CANCEL)
        elif old is _C.COMPLETED and event is _I.FAILURE and self.ack is not None:
            out.append(Send(self.id, self.ack, self.destination))
        elif old is _C.ACCEPTED and event is _I.SUCCESS:
            out.append(ResponseReceived(self.id, response))
        self._fire_due(now, out)
        return out

    def cancel_sent(self, now: float) -> list[Effect]:
        """The TU sent (or queued) a CANCEL for this INVITE (§9.1)."""
        out: list[Effect] = []
        old = self._step(_I.CANCEL, out)
        if old is _C.PROCEEDING and Timer.B not in self._deadlines:
            self._arm(Timer.B, self.timers.timer_b, now)
        return out

    def transport_error(self, now: float) -> list[Effect]:
        out: list[Effect] = []
        old = self._step(_I.TRANSPORT_ERROR, out)
        if self.terminated and old is not _C.TERMINATED:
            out.insert(0, TransportError(self.id))
        return out

    def _on_timer(self, timer: Timer, now: float, out: list[Effect]) -> None:
        self._step(self.TIMER_INPUTS[timer], out)
        if timer is Timer.A:
            out.append(Send(self.id, self.request, self.destination))
            # §17.1.1.2: INVITE retransmissions double without a T2 cap.
            interval = self.timers.next_interval(self._intervals[Timer.A], capped=False)
            self._arm_retransmit(Timer.A, interval, now)
        elif timer is Timer.B:
            out.insert(-1, Timeout(self.id, timer))  # before Terminated


# -- non-INVITE client, §17.1.2 Figure 6 ------------------------------------------------------
class NonInviteClientState(enum.StrEnum):
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


_N = NonInviteClientState

NON_INVITE_CLIENT_TRANSITIONS: dict[tuple[NonInviteClientState, ClientInput],
                                    NonInviteClientState] = {
    # §17.1.2.2: retransmit at Timer E (doubling to T2) until Timer F gives up.
    (_N.TRYING, _I.TIMER_E): _N.TRYING,
    (_N.TRYING, _I.TIMER_F): _N.TERMINATED,
    (_N.TRYING, _I.TRANSPORT_ERROR): _N.TERMINATED,
    (_N.TRYING, _I.PROVISIONAL): _N.PROCEEDING,
    (_N.TRYING, _I.SUCCESS): _N.COMPLETED,
    (_N.TRYING, _I.FAILURE): _N.COMPLETED,
    # Proceeding: keep retransmitting, but every T2 (§17.1.2.2).
    (_N.PROCEEDING, _I.TIMER_E): _N.PROCEEDING,
    (_N.PROCEEDING, _I.TIMER_F): _N.TERMINATED,
    (_N.PROCEEDING, _I.TRANSPORT_ERROR): _N.TERMINATED,
    (_N.PROCEEDING, _I.PROVISIONAL): _N.PROCEEDING,
    (_N.PROCEEDING, _I.SUCCESS): _N.COMPLETED,
    (_N.PROCEEDING, _I.FAILURE): _N.COMPLETED,
    # Completed: absorb retransmitted responses until Timer K.
    (_N.COMPLETED, _I.PROVISIONAL): _N.COMPLETED,
    (_N.COMPLETED, _I.SUCCESS): _N.COMPLETED,
    (_N.COMPLETED, _I.FAILURE): _N.COMPLETED,
    (_N.COMPLETED, _I.TIMER_K): _N.TERMINATED,
    (_N.COMPLETED, _I.TRANSPORT_ERROR): _N.COMPLETED,  # nothing left to send
    **{(_N.TERMINATED, event): _N.TERMINATED for event in (*_RESPONSES, _I.TRANSPORT_ERROR)},
}


class NonInviteClientTransaction(TransactionMachine[NonInviteClientState, ClientInput]):
    TRANSITIONS: ClassVar = NON_INVITE_CLIENT_TRANSITIONS
    TERMINATED: ClassVar = NonInviteClientState.TERMINATED
    TIMER_INPUTS: ClassVar = {Timer.E: _I.TIMER_E, Timer.F: _I.TIMER_F, Timer.K: _I.TIMER_K}
    PEER_INPUTS: ClassVar = (*_RESPONSES, _I.TRANSPORT_ERROR)

    def __init__(self, transaction_id: TransactionId, request: SipRequest,
                 destination: Address, *, reliable: bool, timers: TimerConfig) -> None:
        super().__init__(transaction_id, NonInviteClientState.TRYING, reliable)
        self.request = request
        self.destination = destination
        self.timers = timers

    def start(self, now: float) -> list[Effect]:
        """Send the request and arm Timers E and F (§17.1.2.2)."""
        interval = self.timers.timer_e(self.reliable)
        if interval is not None:
            self._arm_retransmit(Timer.E, interval, now)
        self._arm(Timer.F, self.timers.timer_f, now)
        return [Send(self.id, self.request, self.destination)]

    def receive_response(self, response: SipResponse, now: float) -> list[Effect]:
        out: list[Effect] = []
        event = classify_response(response)
        old = self._step(event, out)
        if old is _N.TRYING or old is _N.PROCEEDING:
            out.append(ResponseReceived(self.id, response))
            if event is not _I.PROVISIONAL:
                self._disarm(Timer.E, Timer.F)
                self._arm(Timer.K, self.timers.timer_k(self.reliable), now)
        self._fire_due(now, out)
        return out

    def transport_error(self, now: float) -> list[Effect]:
        out: list[Effect] = []
        old = self._step(_I.TRANSPORT_ERROR, out)
        if self.terminated and old is not _N.TERMINATED:
            out.insert(0, TransportError(self.id))
        return out

    def _on_timer(self, timer: Timer, now: float, out: list[Effect]) -> None:
        self._step(self.TIMER_INPUTS[timer], out)
        if timer is Timer.E:
            out.append(Send(self.id, self.request, self.destination))
            # §17.1.2.2: doubling up to T2 in Trying; in Proceeding, always T2.
            if self.state is _N.PROCEEDING:
                interval = self.timers.t2
            else:
                interval = self.timers.next_interval(self._intervals[Timer.E], capped=True)
            self._arm_retransmit(Timer.E, interval, now)
        elif timer is Timer.F:
            out.insert(-1, Timeout(self.id, timer))  # before Terminated


# -- requests the client side builds itself ---------------------------------------------------
# §8.1.1.6: every request we originate carries Max-Forwards 70.
MAX_FORWARDS = 70


def ack_for_non_2xx(invite: SipRequest, response: SipResponse) -> SipRequest:
    """§17.1.1.3: the ACK to a 300-699 response, part of the INVITE transaction.

    Same Request-URI, Call-ID, From and CSeq number as the INVITE; the To of the response
    (with its tag); one Via, the INVITE's top one (so the same branch); the INVITE's Route.
    """
    fields = [
        ("Via", str(invite.top_via)),
        *(("Route", value) for value in invite.headers.get_all("Route")),
        ("Max-Forwards", str(MAX_FORWARDS)),
        ("From", invite.headers.get("From") or str(invite.from_)),
        ("To", response.headers.get("To") or str(response.to)),
        ("Call-ID", invite.call_id),
        ("CSeq", str(CSeq(invite.cseq.number, "ACK"))),
    ]
    return SipRequest("ACK", invite.uri, Headers(fields))


def cancel_for(request: SipRequest, headers: Iterable[tuple[str, str]] = ()) -> SipRequest:
    """§9.1: a CANCEL for ``request``: same Request-URI, Call-ID, To, From, CSeq number and
    top Via (so the same branch), same Route; method CANCEL. ``headers``: e.g. a Reason
    (RFC 3326) telling the other phones the call was answered elsewhere."""
    fields = [
        ("Via", str(request.top_via)),
        *(("Route", value) for value in request.headers.get_all("Route")),
        ("Max-Forwards", str(MAX_FORWARDS)),
        ("From", request.headers.get("From") or str(request.from_)),
        ("To", request.headers.get("To") or str(request.to)),
        ("Call-ID", request.call_id),
        ("CSeq", str(CSeq(request.cseq.number, "CANCEL"))),
        *headers,
    ]
    return SipRequest("CANCEL", request.uri, Headers(fields))
