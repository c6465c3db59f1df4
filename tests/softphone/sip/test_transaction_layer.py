"""Transaction layers talking to each other over a fake link (real bytes, an injected clock).

``Net`` is h11's ``ConnectionPair`` / aiortc's ``DummyConnection`` for SIP: a UAC-side and a
UAS-side ``TransactionLayer`` whose ``Send`` effects are serialised to bytes, optionally
dropped, parsed again and fed to the other side. Time only moves when a test moves it, and
then only to the layers' own deadlines, so retransmission schedules can be read off exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softphone.sip.errors import LocalProtocolError
from softphone.sip.message import SipRequest, SipResponse
from softphone.sip.parser import parse_message, validate_request, validate_response
from softphone.sip.timers import Timer
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
from softphone.sip.transaction_client import InviteClientState
from softphone.sip.transaction_layer import TransactionLayer
from softphone.sip.transaction_server import InviteServerState

UAC = ("udp", "192.0.2.10", 5060)
UAS = ("udp", "192.0.2.20", 5060)


def request_bytes(method: str = "INVITE", *, branch: str = "z9hG4bKuac1", cseq: int = 1,
                  to_tag: str | None = None, call_id: str = "call-1@192.0.2.10",
                  uri: str = "sip:202@192.0.2.20") -> bytes:
    to = "<sip:202@pbx.test>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        "From: \"Alice\" <sip:201@pbx.test>;tag=a1\r\n"
        f"To: {to}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        "Contact: <sip:201@192.0.2.10:5060>\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def request(method: str = "INVITE", **kwargs: object) -> SipRequest:
    message = parse_message(request_bytes(method, **kwargs))  # type: ignore[arg-type]
    assert isinstance(message, SipRequest)
    return validate_request(message)


@dataclass
class Packet:
    time: float
    sender: str  # "uac" or "uas"
    message: SipRequest | SipResponse

    @property
    def label(self) -> str:
        m = self.message
        return m.method if isinstance(m, SipRequest) else str(m.status_code)


@dataclass
class Net:
    """Two transaction layers and a lossy, zero-latency link between them."""

    reliable: bool = False
    drop: Callable[[Packet], bool] = lambda packet: False
    now: float = 0.0
    uac: TransactionLayer = field(default_factory=TransactionLayer)
    uas: TransactionLayer = field(default_factory=TransactionLayer)
    wire: list[Packet] = field(default_factory=list)
    dropped: list[Packet] = field(default_factory=list)
    uac_events: list[Effect] = field(default_factory=list)
    uas_events: list[Effect] = field(default_factory=list)
    # What the UAS TU does with each new request: None = nothing (a test answers by hand).
    uas_tu: Callable[[Net, RequestReceived], None] | None = None

    def deliver(self, side: str, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self._transmit(side, effect.message)
            elif side == "uac":
                self.uac_events.append(effect)
            else:
                self.uas_events.append(effect)
                if isinstance(effect, RequestReceived) and self.uas_tu is not None:
                    self.uas_tu(self, effect)

    def _transmit(self, sender: str, message: SipRequest | SipResponse) -> None:
        packet = Packet(self.now, sender, message)
        self.wire.append(packet)
        if self.drop(packet):
            self.dropped.append(packet)
            return
        parsed = parse_message(bytes(message))  # the real bytes, both ways
        receiver = self.uas if sender == "uac" else self.uac
        source = UAC if sender == "uac" else UAS
        other = "uas" if sender == "uac" else "uac"
        if isinstance(parsed, SipRequest):
            effects = receiver.receive_request(validate_request(parsed), source,
                                               reliable=self.reliable, now=self.now)
        else:
            effects = receiver.receive_response(validate_response(parsed), now=self.now)
        self.deliver(other, effects)

    # -- driving -------------------------------------------------------------------------------
    def send(self, message: SipRequest) -> TransactionId:
        tid, effects = self.uac.send_request(message, UAS, reliable=self.reliable, now=self.now)
        self.deliver("uac", effects)
        return tid

    def respond(self, tid: TransactionId, response: SipResponse) -> None:
        self.deliver("uas", self.uas.send_response(tid, response, now=self.now))

    def run_until(self, end: float) -> None:
        """Advance the clock deadline by deadline (never sleeping) up to ``end``."""
        while True:
            deadlines = [d for d in (self.uac.next_deadline(), self.uas.next_deadline())
                         if d is not None]
            if not deadlines or min(deadlines) > end:
                break
            self.now = max(self.now, min(deadlines))
            self.deliver("uac", self.uac.handle_timeout(self.now))
            self.deliver("uas", self.uas.handle_timeout(self.now))
        self.now = max(self.now, end)

    def times(self, label: str, sender: str | None = None) -> list[float]:
        return [p.time for p in self.wire
                if p.label == label and (sender is None or p.sender == sender)]

    def events(self, side: str, kind: type) -> list[Effect]:
        source = self.uac_events if side == "uac" else self.uas_events
        return [e for e in source if isinstance(e, kind)]


def server_tid(net: Net, method: str = "INVITE") -> TransactionId:
    (event,) = [e for e in net.events("uas", RequestReceived)
                if isinstance(e, RequestReceived) and e.request.method == method]
    assert isinstance(event, RequestReceived) and event.transaction is not None
    return event.transaction


def answer(status: int, to_tag: str = "b2") -> Callable[[Net, RequestReceived], None]:
    def tu(net: Net, event: RequestReceived) -> None:
        if event.transaction is not None and event.request.method != "CANCEL":
            net.respond(event.transaction, event.request.make_response(status, to_tag=to_tag))
    return tu


def drop_all(label: str) -> Callable[[Packet], bool]:
    return lambda packet: packet.label == label


def drop_first(label: str, count: int) -> Callable[[Packet], bool]:
    seen: list[Packet] = []

    def drop(packet: Packet) -> bool:
        if packet.label != label:
            return False
        seen.append(packet)
        return len(seen) <= count
    return drop


# -- client retransmissions -------------------------------------------------------------------
def test_invite_timer_a_doubles_without_cap_until_timer_b_times_out() -> None:
    net = Net(drop=lambda packet: True)  # nobody answers
    tid = net.send(request())
    net.run_until(40)
    # §17.1.1.2: 0.5, 1, 2, 4, 8, 16 s apart; Timer B (64*T1 = 32 s) ends it: 7 transmissions.
    assert net.times("INVITE") == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    timeout, terminated = net.uac_events
    assert timeout == Timeout(tid, Timer.B) and terminated == Terminated(tid)
    assert net.now == 40 and len(net.uac) == 0


def test_non_invite_timer_e_doubles_up_to_t2_until_timer_f() -> None:
    net = Net(drop=lambda packet: True)
    tid = net.send(request("OPTIONS"))
    net.run_until(40)
    # §17.1.2.2: 0.5, 1, 2, 4, then every T2 = 4 s; Timer F at 32 s.
    assert net.times("OPTIONS") == [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert net.uac_events == [Timeout(tid, Timer.F), Terminated(tid)]


def test_non_invite_in_proceeding_retransmits_every_t2() -> None:
    net = Net(drop=lambda p: p.sender == "uac" and p.time > 0)  # only the first copy arrives
    net.send(request("SUBSCRIBE"))
    net.respond(server_tid(net, "SUBSCRIBE"),
                request("SUBSCRIBE").make_response(183, to_tag="x"))
    net.run_until(20)
    # §17.1.2.2: the Timer E armed in Trying still fires; from then on it is reset to T2.
    assert net.times("SUBSCRIBE", "uac") == [0, 0.5, 4.5, 8.5, 12.5, 16.5]


def test_reliable_transport_sends_once_and_still_times_out() -> None:
    net = Net(reliable=True, drop=lambda packet: True)
    tid = net.send(request())
    net.run_until(40)
    assert net.times("INVITE") == [0]
    assert net.uac_events == [Timeout(tid, Timer.B), Terminated(tid)]


def test_lost_invites_are_retransmitted_and_100_trying_stops_retransmission() -> None:
    net = Net(drop=drop_first("INVITE", 2))
    net.send(request())
    net.run_until(10)
    assert net.times("INVITE") == [0, 0.5, 1.5]
    assert net.times("100") == [1.5]  # §17.2.1: at once
    (received,) = net.events("uas", RequestReceived)
    assert isinstance(received, RequestReceived) and received.source == UAC
    (trying,) = net.events("uac", ResponseReceived)
    assert isinstance(trying, ResponseReceived) and trying.response.status_code == 100
    (ict,) = [net.uac.get(t) for t in list(net.uac._transactions)]
    assert ict is not None and ict.state is InviteClientState.PROCEEDING
    assert net.uac.next_deadline() is None  # Proceeding waits for the TU, no Timer B


def test_invite_retransmission_gets_the_last_provisional_again() -> None:
    net = Net(drop=drop_first("100", 1))
    net.send(request())
    tid = server_tid(net)
    net.respond(tid, request().make_response(180, to_tag="b2"))
    net.run_until(0.5)
    # The INVITE came again at 0.5 (the 100 was lost, the 180 arrived at 0): the server
    # answers with its last provisional, the 180, and the UAC TU sees it only once.
    assert net.times("INVITE") == [0]  # the 180 at t=0 already stopped Timer A
    net2 = Net(drop=drop_first("100", 1))
    net2.send(request())
    net2.run_until(0.5)
    assert net2.times("INVITE") == [0, 0.5] and net2.times("100") == [0, 0.5]
    assert len(net2.events("uas", RequestReceived)) == 1


# -- INVITE with a non-2xx final response ------------------------------------------------------
def test_busy_is_acked_with_the_same_branch_and_both_sides_clean_up() -> None:
    net = Net(uas_tu=answer(486))
    client = net.send(request())
    (ack,) = [p.message for p in net.wire if p.label == "ACK"]
    assert isinstance(ack, SipRequest)
    assert ack.branch == "z9hG4bKuac1" and len(ack.via) == 1
    assert ack.cseq.number == 1 and ack.cseq.method == "ACK"
    assert ack.to_tag == "b2" and ack.from_tag == "a1" and str(ack.uri) == "sip:202@192.0.2.20"
    assert net.events("uas", RequestReceived)[0] is not None
    assert len(net.events("uas", RequestReceived)) == 1  # the ACK was absorbed (§17.2.1)
    finals = [e for e in net.events("uac", ResponseReceived)
              if isinstance(e, ResponseReceived) and e.response.status_code == 486]
    assert len(finals) == 1
    net.run_until(4.9)
    assert len(net.uas) == 1  # Confirmed, absorbing ACKs for Timer I (T4)
    net.run_until(5)
    assert len(net.uas) == 0
    net.run_until(31.9)
    assert client in net.uac  # Completed for Timer D (32 s)
    net.run_until(32)
    assert len(net.uac) == 0
    assert net.uac_events[-1] == Terminated(client)


def test_lost_final_response_is_retransmitted_on_timer_g_and_reacked() -> None:
    net = Net(uas_tu=answer(486), drop=drop_first("486", 2))
    net.send(request())
    net.run_until(10)
    # §17.2.1: Timer G 0.5, then 1.0 s later; the third copy gets through and is ACKed.
    assert net.times("486") == [0, 0.5, 1.5]
    assert net.times("ACK") == [1.5]


def test_lost_ack_makes_the_server_retransmit_and_the_client_ack_again() -> None:
    net = Net(uas_tu=answer(486), drop=drop_first("ACK", 2))
    net.send(request())
    net.run_until(10)
    assert net.times("486") == [0, 0.5, 1.5]
    assert net.times("ACK") == [0, 0.5, 1.5]  # §17.1.1.2: the same ACK each time
    final = [e for e in net.events("uac", ResponseReceived)
             if isinstance(e, ResponseReceived) and e.response.status_code == 486]
    assert len(final) == 1  # retransmissions never reach the TU


def test_timer_g_caps_at_t2_and_timer_h_times_out_without_ack() -> None:
    net = Net(uas_tu=answer(603), drop=drop_all("ACK"))
    net.send(request())
    net.run_until(40)
    assert net.times("603") == [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    tid = server_tid(net)
    assert net.uas_events[-2:] == [Timeout(tid, Timer.H), Terminated(tid)]


def test_reliable_transport_ends_completed_and_confirmed_states_at_once() -> None:
    net = Net(reliable=True, uas_tu=answer(486))
    net.send(request())
    assert len(net.uac) == 0 and len(net.uas) == 0  # Timers D and I are zero (§17.1.1.2)
    assert net.times("486") == [0] and net.times("ACK") == [0]


# -- INVITE with a 2xx: RFC 6026 Accepted ------------------------------------------------------
def test_2xx_puts_both_sides_in_accepted_and_the_tu_handles_the_ack() -> None:
    net = Net(uas_tu=answer(200))
    client = net.send(request())
    server = server_tid(net)
    server_tx, client_tx = net.uas.get(server), net.uac.get(client)
    assert server_tx is not None and server_tx.state is InviteServerState.ACCEPTED
    assert client_tx is not None and client_tx.state is InviteClientState.ACCEPTED
    # The TU's retransmitted 2xx reaches the UAC's TU again (RFC 6026 §8.4: it must re-ACK).
    net.respond(server, request().make_response(200, to_tag="b2"))
    oks = [e for e in net.events("uac", ResponseReceived)
           if isinstance(e, ResponseReceived) and e.response.status_code == 200]
    assert len(oks) == 2
    # A retransmitted INVITE is absorbed, not a new call (the RFC 3261 bug RFC 6026 fixes).
    net.deliver("uac", [Send(client, request(), UAS)])
    assert len(net.events("uas", RequestReceived)) == 1
    # The ACK to a 2xx has its own branch: no transaction, straight to the TU.
    ack = request("ACK", branch="z9hG4bKack2", to_tag="b2")
    net.deliver("uac", [Send(None, ack, UAS)])
    ack_event = net.events("uas", RequestReceived)[-1]
    assert isinstance(ack_event, RequestReceived)
    assert ack_event.transaction is None and ack_event.request.method == "ACK"
    net.run_until(32)  # Timers L and M
    assert len(net.uac) == 0 and len(net.uas) == 0


def test_ack_to_2xx_reusing_the_invite_branch_is_passed_to_the_tu() -> None:
    net = Net(uas_tu=answer(200))
    net.send(request())
    net.deliver("uac", [Send(None, request("ACK", to_tag="b2"), UAS)])
    ack_event = net.events("uas", RequestReceived)[-1]
    assert isinstance(ack_event, RequestReceived) and ack_event.request.method == "ACK"


def test_a_2xx_after_the_transaction_ended_is_dropped() -> None:
    net = Net(uas_tu=answer(200))
    client = net.send(request())
    net.run_until(33)
    late = net.uac.receive_response(request().make_response(200, to_tag="b2"), now=net.now)
    assert late == []  # RFC 6026 §8.9: stray responses are discarded
    assert client not in net.uac


# -- CANCEL (§9) -------------------------------------------------------------------------------
def test_cancel_after_ringing_gets_200_and_the_invite_487() -> None:
    net = Net()
    invite = net.send(request())
    server = server_tid(net)
    net.respond(server, request().make_response(180, to_tag="b2"))
    cancel_tid, effects = net.uac.send_cancel(invite, now=net.now)
    assert cancel_tid is not None
    net.deliver("uac", effects)
    (sent_cancel,) = [p.message for p in net.wire if p.label == "CANCEL"]
    assert isinstance(sent_cancel, SipRequest)
    assert sent_cancel.branch == "z9hG4bKuac1" and sent_cancel.cseq.number == 1
    assert sent_cancel.to_tag is None  # §9.1: the INVITE's To, not the 180's
    (cancelled,) = net.events("uas", CancelReceived)
    assert isinstance(cancelled, CancelReceived) and cancelled.transaction == server
    # The TU answers the INVITE 487 (§9.2); the CANCEL's 200 was sent by the layer.
    net.respond(server, request().make_response(487, to_tag="b2"))
    statuses = [(e.transaction, e.response.status_code) for e in net.uac_events
                if isinstance(e, ResponseReceived)]
    assert statuses == [(invite, 100), (invite, 180), (cancel_tid, 200), (invite, 487)]
    assert net.times("ACK") == [0]
    assert [e for e in net.uas_events if isinstance(e, RequestReceived)
            and e.request.method == "CANCEL"] == []  # the TU never handles CANCEL itself


def test_cancel_before_any_provisional_waits_for_one() -> None:
    net = Net(drop=drop_first("100", 1))  # the first 100 is lost: the UAC is in Calling
    invite = net.send(request())
    cancel_tid, effects = net.uac.send_cancel(invite, now=net.now)
    assert cancel_tid is None and effects == []
    assert net.times("CANCEL") == []
    net.run_until(0.5)  # INVITE retransmitted, the 100 comes back, then the CANCEL goes
    assert net.times("CANCEL") == [0.5]
    assert len(net.events("uas", CancelReceived)) == 1


def test_cancel_after_the_final_response_is_not_sent() -> None:
    net = Net(uas_tu=answer(486))
    invite = net.send(request())
    cancel_tid, effects = net.uac.send_cancel(invite, now=net.now)
    assert cancel_tid is None and effects == []


def test_cancel_matching_nothing_gets_481() -> None:
    net = Net()
    cancel = request("CANCEL", branch="z9hG4bKnothing")
    net.uac.send_request(cancel, UAS, reliable=False, now=0)
    net.deliver("uac", [Send(None, cancel, UAS)])
    assert net.times("481") == [0]
    assert net.events("uas", CancelReceived) == []


def test_cancel_after_the_invite_was_answered_gets_200_but_no_cancel_event() -> None:
    net = Net(uas_tu=answer(200))
    net.send(request())
    net.deliver("uac", [Send(None, request("CANCEL"), UAS)])
    assert net.times("200", "uas") == [0, 0]  # the INVITE's 200 and the CANCEL's 200
    assert net.events("uas", CancelReceived) == []


def test_cancelled_invite_without_final_response_is_destroyed_after_64_t1() -> None:
    net = Net()
    invite = net.send(request())
    net.uac.send_cancel(invite, now=0)  # the UAS never answers the INVITE finally
    net.run_until(31.9)
    assert invite in net.uac
    net.run_until(32)
    assert invite not in net.uac
    assert Timeout(invite, Timer.B) in net.uac_events


# -- non-INVITE server -------------------------------------------------------------------------
def test_non_invite_retransmission_is_absorbed_then_answered_from_the_cache() -> None:
    net = Net()
    net.send(request("OPTIONS"))
    net.run_until(0.5)  # the retransmission reaches a server whose TU is still thinking
    assert len(net.events("uas", RequestReceived)) == 1
    assert net.times("OPTIONS") == [0, 0.5]
    net.respond(server_tid(net, "OPTIONS"), request("OPTIONS").make_response(200, to_tag="o"))
    assert len(net.uac) == 1  # Completed for Timer K
    # a late retransmission is answered with the cached 200, without the TU
    net.deliver("uac", [Send(None, request("OPTIONS"), UAS)])
    assert net.times("200") == [0.5, 0.5]
    net.run_until(5.5)
    assert len(net.uac) == 0  # Timer K = T4
    net.run_until(32.5)
    assert len(net.uas) == 0  # Timer J = 64*T1


def test_tu_cannot_answer_twice() -> None:
    net = Net(uas_tu=answer(200))
    net.send(request("OPTIONS"))
    tid = server_tid(net, "OPTIONS")
    with pytest.raises(LocalProtocolError):
        net.uas.send_response(tid, request("OPTIONS").make_response(500), now=net.now)


def test_tu_cannot_send_ack_through_a_transaction_or_reuse_a_branch() -> None:
    layer = TransactionLayer()
    with pytest.raises(LocalProtocolError):
        layer.send_request(request("ACK"), UAS, reliable=False, now=0)
    layer.send_request(request(), UAS, reliable=False, now=0)
    with pytest.raises(LocalProtocolError):
        layer.send_request(request(), UAS, reliable=False, now=0)


def test_transport_error_ends_the_transaction_and_tells_the_tu() -> None:
    layer = TransactionLayer()
    tid, _ = layer.send_request(request("OPTIONS"), UAS, reliable=True, now=0)
    assert layer.transport_error(tid, now=1) == [TransportError(tid), Terminated(tid)]
    assert layer.transport_error(tid, now=2) == []  # gone: nothing to tell


# -- matching ----------------------------------------------------------------------------------
def test_responses_match_by_branch_and_cseq_method() -> None:
    layer = TransactionLayer()
    layer.send_request(request(), UAS, reliable=False, now=0)
    other_branch = parse_message(bytes(request(branch="z9hG4bKother").make_response(180)))
    assert isinstance(other_branch, SipResponse)
    assert layer.receive_response(other_branch, now=0) == []
    wrong_method = request("CANCEL").make_response(200)
    assert layer.receive_response(wrong_method, now=0) == []
    assert len(layer.receive_response(request().make_response(180), now=0)) == 1


def test_rfc2543_peer_without_magic_cookie_is_matched_by_dialog_fields() -> None:
    layer = TransactionLayer()
    old = request(branch="1234")  # an RFC 2543 branch
    (_trying, received) = layer.receive_request(old, UAC, reliable=False, now=0)
    assert isinstance(received, RequestReceived) and received.transaction is not None
    tid = received.transaction
    # a retransmission (identical) is absorbed: the 100 again, nothing for the TU
    effects = layer.receive_request(request(branch="1234"), UAC, reliable=False, now=0.5)
    assert [type(e) for e in effects] == [Send]
    # a different CSeq is a new transaction
    effects = layer.receive_request(request(branch="1234", cseq=2), UAC, reliable=False, now=1)
    assert any(isinstance(e, RequestReceived) for e in effects)
    layer.send_response(tid, old.make_response(486, to_tag="b2"), now=1)
    # the ACK matches only with the To tag of our response (§17.2.3)
    wrong = layer.receive_request(request("ACK", branch="1234", to_tag="zz"), UAC,
                                  reliable=False, now=1)
    assert [type(e) for e in wrong] == [RequestReceived]
    right = layer.receive_request(request("ACK", branch="1234", to_tag="b2"), UAC,
                                  reliable=False, now=1)
    assert right == []
    machine = layer.get(tid)
    assert machine is not None and machine.state is InviteServerState.CONFIRMED


def test_bare_magic_cookie_falls_back_to_rfc2543_matching() -> None:
    layer = TransactionLayer()
    layer.receive_request(request(branch="z9hG4bK"), UAC, reliable=False, now=0)
    effects = layer.receive_request(request(branch="z9hG4bK"), UAC, reliable=False, now=0)
    assert [type(e) for e in effects] == [Send]  # a retransmission, not a new call


def test_same_branch_from_another_sent_by_is_another_transaction() -> None:
    layer = TransactionLayer()
    layer.receive_request(request(), UAC, reliable=False, now=0)
    other = parse_message(request_bytes().replace(b"192.0.2.10:5060;branch",
                                                  b"192.0.2.99:5060;branch"))
    assert isinstance(other, SipRequest)
    effects = layer.receive_request(other, UAC, reliable=False, now=0)
    assert any(isinstance(e, RequestReceived) for e in effects)


def test_branches_carry_the_magic_cookie_and_differ() -> None:
    layer = TransactionLayer()
    branches = {layer.new_branch() for _ in range(100)}
    assert len(branches) == 100 and all(b.startswith("z9hG4bK") for b in branches)


def test_next_deadline_is_the_earliest_over_all_transactions() -> None:
    layer = TransactionLayer()
    assert layer.next_deadline() is None
    layer.send_request(request("OPTIONS", branch="z9hG4bKa"), UAS, reliable=False, now=10)
    layer.send_request(request("OPTIONS", branch="z9hG4bKb"), UAS, reliable=False, now=3)
    assert layer.next_deadline() == 3.5
    layer.handle_timeout(3.5)
    assert layer.next_deadline() == 4.5  # b's next E (1 s), before a's first (10.5)
    # A late wake-up fires everything due, once per timer.
    effects = layer.handle_timeout(100)
    assert [e for e in effects if isinstance(e, Timeout)] and len(layer) == 0


# -- random loss ---------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(losses=st.lists(st.booleans(), max_size=40), status=st.sampled_from([200, 486, 404]),
       method=st.sampled_from(["INVITE", "OPTIONS"]))
def test_any_loss_pattern_ends_cleanly_with_one_outcome_per_side(
        losses: list[bool], status: int, method: str) -> None:
    if method == "INVITE" and status == 200:
        # A lost 2xx is the TU's to retransmit (§13.3.1.4): covered in test_dialog.py.
        status = 480
    pattern = iter(losses)
    net = Net(uas_tu=answer(status), drop=lambda packet: next(pattern, False))
    client = net.send(request(method))
    net.run_until(200)
    assert len(net.uas) == 0  # every server transaction ended (Timer H/J at the latest)
    finals = [e for e in net.uac_events if isinstance(e, ResponseReceived)
              and e.response.status_code >= 200]
    timeouts = [e for e in net.uac_events if isinstance(e, Timeout)]
    machine = net.uac.get(client)
    if machine is not None:
        # An INVITE client transaction that heard a 1xx and then lost every copy of the final
        # response waits in Proceeding: §17.1.1.2 gives it no timer there; the TU ends it
        # (CANCEL on its no-answer timer; Timer C is a proxy's, §16.6 step 11).
        assert method == "INVITE" and machine.state is InviteClientState.PROCEEDING
        assert finals == [] and timeouts == []
        return
    # The UAC TU hears exactly one outcome.
    assert len(finals) + len(timeouts) == 1
    assert net.uac_events[-1] == Terminated(client)
    requests = [e for e in net.uas_events if isinstance(e, RequestReceived)
                and e.request.method == method]
    assert len(requests) <= 1  # never a duplicate request to the UAS TU
