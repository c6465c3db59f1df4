"""The four transition tables hold together, and a machine used alone behaves like the RFC."""

from __future__ import annotations

import enum
from collections.abc import Mapping

import pytest

from softphone.sip.errors import LocalProtocolError
from softphone.sip.message import SipRequest
from softphone.sip.parser import parse_message, validate_request
from softphone.sip.timers import DEFAULT_TIMERS, Timer
from softphone.sip.transaction import (
    RequestReceived,
    ResponseReceived,
    Send,
    Terminated,
    TransactionId,
    TransactionKind,
    TransactionMachine,
    TransportError,
    state_diagram,
)
from softphone.sip.transaction_client import (
    ClientInput,
    InviteClientState,
    InviteClientTransaction,
    NonInviteClientState,
    NonInviteClientTransaction,
)
from softphone.sip.transaction_server import (
    InviteServerState,
    InviteServerTransaction,
    NonInviteServerState,
    NonInviteServerTransaction,
    ServerInput,
)

MACHINES: list[tuple[type[TransactionMachine], type[enum.StrEnum], enum.StrEnum]] = [
    (InviteClientTransaction, InviteClientState, InviteClientState.CALLING),
    (NonInviteClientTransaction, NonInviteClientState, NonInviteClientState.TRYING),
    (InviteServerTransaction, InviteServerState, InviteServerState.PROCEEDING),
    (NonInviteServerTransaction, NonInviteServerState, NonInviteServerState.TRYING),
]
IDS = [m[0].__name__ for m in MACHINES]


def _reachable(table: Mapping[tuple[enum.StrEnum, enum.StrEnum], enum.StrEnum],
               start: enum.StrEnum) -> set[enum.StrEnum]:
    seen = {start}
    frontier = [start]
    while frontier:
        state = frontier.pop()
        for (source, _), target in table.items():
            if source == state and target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


@pytest.mark.parametrize(("machine", "states", "initial"), MACHINES, ids=IDS)
def test_every_peer_input_has_a_row_in_every_state(
        machine: type[TransactionMachine], states: type[enum.StrEnum],
        initial: enum.StrEnum) -> None:
    missing = [(state, event) for state in states for event in machine.PEER_INPUTS
               if (state, event) not in machine.TRANSITIONS]
    assert missing == []


@pytest.mark.parametrize(("machine", "states", "initial"), MACHINES, ids=IDS)
def test_tables_only_name_their_own_states_and_every_state_is_reachable(
        machine: type[TransactionMachine], states: type[enum.StrEnum],
        initial: enum.StrEnum) -> None:
    table = machine.TRANSITIONS
    assert all(isinstance(s, states) and isinstance(t, states) for (s, _), t in table.items())
    assert _reachable(table, initial) == set(states)


@pytest.mark.parametrize(("machine", "states", "initial"), MACHINES, ids=IDS)
def test_terminated_is_final_and_every_timer_has_a_row(
        machine: type[TransactionMachine], states: type[enum.StrEnum],
        initial: enum.StrEnum) -> None:
    table = machine.TRANSITIONS
    assert all(t == machine.TERMINATED for (s, _), t in table.items()
               if s == machine.TERMINATED)
    used = {event for (_, event) in table}
    assert set(machine.TIMER_INPUTS.values()) <= used
    # Every timer ends somewhere or loops (retransmission timers): none is dead code.
    for timer_input in machine.TIMER_INPUTS.values():
        assert any(event == timer_input for (_, event) in table)


def test_the_rfc_figures_key_edges() -> None:
    ict, nict = InviteClientTransaction.TRANSITIONS, NonInviteClientTransaction.TRANSITIONS
    ist = InviteServerTransaction.TRANSITIONS
    C, N, S = InviteClientState, NonInviteClientState, InviteServerState
    assert ict[(C.CALLING, ClientInput.SUCCESS)] is C.ACCEPTED  # RFC 6026 Figure 3
    assert ict[(C.PROCEEDING, ClientInput.FAILURE)] is C.COMPLETED
    assert ict[(C.COMPLETED, ClientInput.TIMER_D)] is C.TERMINATED
    assert nict[(N.TRYING, ClientInput.TIMER_F)] is N.TERMINATED
    assert ist[(S.PROCEEDING, ServerInput.SUCCESS)] is S.ACCEPTED  # RFC 6026 Figure 5
    assert ist[(S.COMPLETED, ServerInput.ACK)] is S.CONFIRMED
    assert ist[(S.CONFIRMED, ServerInput.TIMER_I)] is S.TERMINATED


def test_state_diagrams_are_drawn_from_the_tables() -> None:
    diagram = state_diagram(InviteServerTransaction.TRANSITIONS)
    assert diagram.startswith("stateDiagram-v2\n")
    assert "    COMPLETED --> CONFIRMED: ACK\n" in diagram
    assert diagram.count("-->") == len(InviteServerTransaction.TRANSITIONS)


# -- machines alone --------------------------------------------------------------------------
RAW = (b"INVITE sip:202@192.0.2.20 SIP/2.0\r\n"
       b"Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKm1\r\n"
       b"Max-Forwards: 70\r\nFrom: <sip:201@pbx.test>;tag=a1\r\nTo: <sip:202@pbx.test>\r\n"
       b"Call-ID: m1\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n")


def invite() -> SipRequest:
    message = parse_message(RAW)
    assert isinstance(message, SipRequest)
    return validate_request(message)


def _tid(kind: TransactionKind) -> TransactionId:
    return TransactionId(kind, 1)


def test_invite_server_sends_100_at_once_and_refuses_a_response_after_the_final() -> None:
    tid = _tid(TransactionKind.INVITE_SERVER)
    ist = InviteServerTransaction(tid, invite(), "peer", reliable=True, timers=DEFAULT_TIMERS)
    trying, received = ist.start(now=0)
    assert isinstance(trying, Send) and trying.destination == "peer"
    assert trying.message.status_code == 100  # type: ignore[union-attr]
    assert trying.message.to_tag is None  # §8.2.6.2: no tag on 100
    assert received == RequestReceived(tid, ist.request, "peer")
    ist.send_response(invite().make_response(404, to_tag="t"), now=1)
    with pytest.raises(LocalProtocolError, match="not allowed in state"):
        ist.send_response(invite().make_response(180, to_tag="t"), now=1)
    assert ist.state is InviteServerState.COMPLETED  # the refusal changed nothing


def test_invite_server_accepted_takes_2xx_retransmissions_but_no_other_response() -> None:
    ist = InviteServerTransaction(_tid(TransactionKind.INVITE_SERVER), invite(), "peer",
                                  reliable=False, timers=DEFAULT_TIMERS)
    ist.start(now=0)
    ok = invite().make_response(200, to_tag="t")
    ist.send_response(ok, now=1)
    assert [type(e) for e in ist.send_response(ok, now=2)] == [Send]
    with pytest.raises(LocalProtocolError):
        ist.send_response(invite().make_response(500, to_tag="t"), now=3)
    assert ist.next_deadline() == 1 + DEFAULT_TIMERS.timer_l


def test_invite_client_on_reliable_transport_ends_at_once_after_a_failure() -> None:
    tid = _tid(TransactionKind.INVITE_CLIENT)
    ict = InviteClientTransaction(tid, invite(), "peer", reliable=True, timers=DEFAULT_TIMERS)
    (_sent,) = ict.start(now=0)
    assert ict.next_deadline() == DEFAULT_TIMERS.timer_b  # no Timer A on TCP
    busy = invite().make_response(486, to_tag="t")
    effects = ict.receive_response(busy, now=1)
    assert [type(e) for e in effects] == [ResponseReceived, Send, Terminated]
    ack = effects[1]
    assert isinstance(ack, Send) and isinstance(ack.message, SipRequest)
    assert ack.message.method == "ACK" and ack.message.cseq.number == 7
    assert ict.state is InviteClientState.TERMINATED


def test_transport_error_in_a_server_transaction_is_reported() -> None:
    tid = _tid(TransactionKind.NON_INVITE_SERVER)
    options = validate_request(parse_message(RAW.replace(b"INVITE", b"OPTIONS")))  # type: ignore[arg-type]
    nist = NonInviteServerTransaction(tid, options, "peer", reliable=True,
                                      timers=DEFAULT_TIMERS)
    nist.start(now=0)
    assert nist.transport_error(now=1) == [TransportError(tid), Terminated(tid)]


def test_timers_fire_in_deadline_order_on_a_late_wake_up() -> None:
    tid = _tid(TransactionKind.INVITE_CLIENT)
    ict = InviteClientTransaction(tid, invite(), "peer", reliable=False, timers=DEFAULT_TIMERS)
    ict.start(now=0)
    effects = ict.handle_timeout(now=1000)  # the loop overslept: A fires once, then B
    assert [type(e).__name__ for e in effects] == ["Send", "Timeout", "Terminated"]
    assert effects[1].timer is Timer.B  # type: ignore[union-attr]
