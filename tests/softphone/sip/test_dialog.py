"""Dialogs (RFC 3261 §12) built from real bytes, and the UAS core's 2xx retransmission."""

from __future__ import annotations

import pytest

from softphone.sip.dialog import (
    DIALOG_TRANSITIONS,
    AckTimeout,
    Dialog,
    DialogId,
    DialogInput,
    DialogRole,
    DialogState,
    SuccessRetransmission,
    new_tag,
)
from softphone.sip.errors import LocalProtocolError, RemoteProtocolError
from softphone.sip.headers import Via
from softphone.sip.message import SipRequest, SipResponse
from softphone.sip.parser import parse_message, validate_request, validate_response
from softphone.sip.timers import DEFAULT_TIMERS
from softphone.sip.transaction import RequestReceived, ResponseReceived, Send
from softphone.sip.transaction_layer import TransactionLayer
from softphone.sip.uri import NameAddr, parse_name_addr

INVITE = (
    b"INVITE sip:202@pbx.test SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKinv1;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: \"Alice\" <sip:201@pbx.test>;tag=alice1\r\n"
    b"To: <sip:202@pbx.test>\r\n"
    b"Call-ID: dlg-1@192.0.2.10\r\n"
    b"CSeq: 10 INVITE\r\n"
    b"Contact: <sip:201@192.0.2.10:5060>\r\n"
    b"Authorization: Digest username=\"201\", realm=\"pbx\", nonce=\"n\", uri=\"sip:202@pbx.test\","
    b" response=\"0123456789abcdef0123456789abcdef\"\r\n"
    b"Content-Length: 0\r\n\r\n"
)
UAS_CONTACT = "<sip:202@192.0.2.20:5070>"
RECORD_ROUTES = ("Record-Route: <sip:p2.test;lr>, <sip:p1.test;lr>\r\n")


def parse_request(data: bytes) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return validate_request(message)


def roundtrip(message: SipRequest | SipResponse) -> SipRequest | SipResponse:
    parsed = parse_message(bytes(message))
    if isinstance(parsed, SipRequest):
        return validate_request(parsed)
    return validate_response(parsed)


def invite(record_route: bool = True) -> SipRequest:
    data = INVITE
    if record_route:
        data = data.replace(b"Max-Forwards", RECORD_ROUTES.encode() + b"Max-Forwards")
    return parse_request(data)


def response(request: SipRequest, status: int, *, contact: str = UAS_CONTACT,
             tag: str = "bob1") -> SipResponse:
    headers = [("Contact", contact)] if contact else []
    built = request.make_response(status, to_tag=tag, headers=headers)
    # A proxy copies Record-Route into responses (§16.6 / §12.1.1); make_response doesn't.
    for value in request.headers.get_all("Record-Route"):
        built = built.with_added_header("Record-Route", value)
    parsed = roundtrip(built)
    assert isinstance(parsed, SipResponse)
    return parsed


def our_via(branch: str = "z9hG4bKnew") -> Via:
    return Via("UDP", "192.0.2.10", 5060, (("branch", branch),))


def test_dialog_table_is_complete_and_terminated_is_final() -> None:
    for state in DialogState:
        for event in DialogInput:
            assert (state, event) in DIALOG_TRANSITIONS
    assert all(DIALOG_TRANSITIONS[(DialogState.TERMINATED, e)] is DialogState.TERMINATED
               for e in DialogInput)


# -- UAC ------------------------------------------------------------------------------------------
def test_uac_early_dialog_from_180_then_confirmed_by_200() -> None:
    request = invite()
    ringing = response(request, 180, contact="<sip:202@192.0.2.20:5080>")
    dialog = Dialog.as_uac(request, ringing)
    assert dialog.role is DialogRole.UAC and dialog.state is DialogState.EARLY
    assert dialog.id == DialogId("dlg-1@192.0.2.10", "alice1", "bob1")
    # §12.1.2: Record-Route reversed for the UAC.
    assert [str(r.uri) for r in dialog.route_set] == ["sip:p1.test;lr", "sip:p2.test;lr"]
    assert str(dialog.remote_target) == "sip:202@192.0.2.20:5080"
    assert dialog.local_seq == 10 and dialog.remote_seq is None
    dialog.receive_response(request, response(request, 200))
    assert dialog.state is DialogState.CONFIRMED
    assert str(dialog.remote_target) == "sip:202@192.0.2.20:5070"  # refreshed by the 2xx


def test_uac_ack_for_2xx_reuses_the_invite_cseq_and_credentials() -> None:
    request = invite()
    dialog = Dialog.as_uac(request, response(request, 200))
    ack = roundtrip(dialog.ack_for_2xx(request, our_via("z9hG4bKack")))
    assert isinstance(ack, SipRequest)
    assert ack.method == "ACK" and ack.cseq.number == 10 and ack.cseq.method == "ACK"
    assert ack.branch == "z9hG4bKack"  # its own transaction-less branch (§17.1.1.3)
    assert str(ack.uri) == "sip:202@192.0.2.20:5070"
    routes: tuple[NameAddr, ...] = ack.name_addrs("Route")
    assert [str(r.uri) for r in routes] == ["sip:p1.test;lr", "sip:p2.test;lr"]
    assert ack.from_tag == "alice1" and ack.to_tag == "bob1"
    assert ack.headers.get("Authorization") == request.headers.get("Authorization")
    assert dialog.last_ack is not None and bytes(dialog.last_ack) == bytes(ack)
    assert dialog.local_seq == 10  # the ACK takes no new CSeq


def test_uac_bye_takes_the_next_cseq_and_ends_the_dialog() -> None:
    request = invite()
    dialog = Dialog.as_uac(request, response(request, 200))
    bye = roundtrip(dialog.create_request("BYE", our_via()))
    assert isinstance(bye, SipRequest)
    assert bye.cseq.number == 11 and bye.cseq.method == "BYE"
    assert bye.to_tag == "bob1" and bye.from_tag == "alice1" and bye.call_id == dialog.id.call_id
    assert bye.headers.get("Contact") is None  # not a target refresh
    assert dialog.terminated
    with pytest.raises(LocalProtocolError):
        dialog.create_request("INFO", our_via())


def test_uac_non_2xx_final_ends_an_early_dialog() -> None:
    request = invite()
    dialog = Dialog.as_uac(request, response(request, 183))
    dialog.receive_response(request, response(request, 486))
    assert dialog.state is DialogState.TERMINATED  # §12.3


def test_uac_2xx_recomputes_the_route_set_of_an_early_dialog() -> None:
    request = invite()
    early = response(request, 180).without_header("Record-Route")
    dialog = Dialog.as_uac(request, early)
    assert [str(r.uri) for r in dialog.route_set] == []
    dialog.receive_response(request, response(request, 200))
    assert [str(r.uri) for r in dialog.route_set] == ["sip:p1.test;lr", "sip:p2.test;lr"]


def test_no_dialog_without_a_to_tag_or_from_a_non_creating_method() -> None:
    request = invite()
    untagged = roundtrip(request.make_response(180))
    assert isinstance(untagged, SipResponse)
    with pytest.raises(RemoteProtocolError):
        Dialog.as_uac(request, untagged)
    options = parse_request(INVITE.replace(b"INVITE", b"OPTIONS"))
    with pytest.raises(LocalProtocolError):
        Dialog.as_uac(options, response(options, 200))


def test_reinvite_failure_keeps_the_dialog_but_481_ends_it() -> None:
    request = invite()
    dialog = Dialog.as_uac(request, response(request, 200))
    reinvite = roundtrip(dialog.create_request("INVITE", our_via("z9hG4bKre1")))
    assert isinstance(reinvite, SipRequest) and reinvite.cseq.number == 11
    dialog.receive_response(reinvite, response(reinvite, 488))
    assert dialog.state is DialogState.CONFIRMED  # §14.1
    info = roundtrip(dialog.create_request("INFO", our_via("z9hG4bKi1")))
    assert isinstance(info, SipRequest)
    dialog.receive_response(info, response(info, 481))
    assert dialog.state is DialogState.TERMINATED  # §12.2.1.2


def test_reinvite_2xx_with_a_new_contact_refreshes_the_target() -> None:
    request = invite()
    local = parse_name_addr("<sip:201@192.0.2.10:5060>")
    dialog = Dialog.as_uac(request, response(request, 200), local_contact=local)
    reinvite = roundtrip(dialog.create_request("INVITE", our_via("z9hG4bKre2"),
                                               body=b"v=0\r\n", content_type="application/sdp"))
    assert isinstance(reinvite, SipRequest)
    assert reinvite.contacts == (local,) and reinvite.body == b"v=0\r\n"
    dialog.receive_response(reinvite, response(reinvite, 200, contact="<sip:202@198.51.100.7>"))
    assert str(dialog.remote_target) == "sip:202@198.51.100.7"


def test_strict_router_gets_the_request_uri_and_the_target_goes_last() -> None:
    request = parse_request(INVITE.replace(
        b"Max-Forwards", b"Record-Route: <sip:strict.test>\r\nMax-Forwards"))
    dialog = Dialog.as_uac(request, response(request, 200))
    bye = dialog.create_request("BYE", our_via())
    assert str(bye.uri) == "sip:strict.test"
    assert [str(r.uri) for r in bye.name_addrs("Route")] == ["sip:202@192.0.2.20:5070"]


# -- UAS ------------------------------------------------------------------------------------------
def test_uas_dialog_keeps_record_route_in_order_and_confirms_on_2xx_sent() -> None:
    request = invite()
    contact = NameAddr(parse_name_addr(UAS_CONTACT).uri)
    dialog = Dialog.as_uas(request, local_tag="bob1", local_contact=contact)
    assert dialog.state is DialogState.EARLY
    assert dialog.id == DialogId("dlg-1@192.0.2.10", "bob1", "alice1")
    assert [str(r.uri) for r in dialog.route_set] == ["sip:p2.test;lr", "sip:p1.test;lr"]
    assert str(dialog.remote_target) == "sip:201@192.0.2.10:5060"
    assert dialog.remote_seq == 10 and dialog.local_seq is None
    dialog.response_sent(request, response(request, 180))
    assert dialog.state is DialogState.EARLY
    dialog.response_sent(request, response(request, 200))
    assert dialog.state is DialogState.CONFIRMED
    # Our first request picks an initial CSeq (§12.2.1.1) and goes to the caller's Contact.
    bye = dialog.create_request("BYE", Via("UDP", "192.0.2.20", 5070, (("branch", "z9hG4bKb"),)))
    assert bye.from_tag == "bob1" and bye.to_tag == "alice1"
    assert str(bye.uri) == "sip:201@192.0.2.10:5060"
    assert bye.cseq.number >= 1 and dialog.terminated


def test_uas_rejecting_the_invite_ends_the_dialog() -> None:
    request = invite()
    dialog = Dialog.as_uas(request, local_tag=new_tag())
    dialog.response_sent(request, response(request, 603))
    assert dialog.terminated


def _in_dialog(method: str, cseq: int, *, contact: str | None = None) -> SipRequest:
    data = (INVITE.replace(b"INVITE sip:202@pbx.test", f"{method} sip:202@pbx.test".encode())
            .replace(b"To: <sip:202@pbx.test>", b"To: <sip:202@pbx.test>;tag=bob1")
            .replace(b"CSeq: 10 INVITE", f"CSeq: {cseq} {method}".encode()))
    if contact is not None:
        data = data.replace(b"Contact: <sip:201@192.0.2.10:5060>", f"Contact: {contact}".encode())
    return parse_request(data)


def test_uas_rejects_a_lower_cseq_with_500_and_accepts_higher() -> None:
    dialog = Dialog.as_uas(invite(), local_tag="bob1")
    dialog.response_sent(invite(), response(invite(), 200))
    info = _in_dialog("INFO", 12)
    assert dialog.matches(info)
    dialog.receive_request(info)
    assert dialog.remote_seq == 12
    with pytest.raises(RemoteProtocolError) as error:
        dialog.receive_request(_in_dialog("INFO", 11))
    assert error.value.status_hint == 500
    assert dialog.remote_seq == 12
    # The ACK to the 2xx carries the INVITE's (lower) CSeq and is fine (§12.2.1.1).
    dialog.receive_request(_in_dialog("ACK", 10))
    assert dialog.state is DialogState.CONFIRMED


def test_uas_target_refresh_and_bye_received() -> None:
    dialog = Dialog.as_uas(invite(), local_tag="bob1")
    dialog.response_sent(invite(), response(invite(), 200))
    dialog.receive_request(_in_dialog("INVITE", 11, contact="<sip:201@203.0.113.5:5062>"))
    assert str(dialog.remote_target) == "sip:201@203.0.113.5:5062"
    dialog.receive_request(_in_dialog("BYE", 12))
    assert dialog.terminated


def test_matches_uses_the_tags_from_our_side() -> None:
    dialog = Dialog.as_uas(invite(), local_tag="bob1")
    assert dialog.matches(_in_dialog("BYE", 11))
    assert not dialog.matches(invite())  # no To tag: not (yet) in the dialog


def test_subscribe_creates_dialogs_and_notify_is_a_target_refresh() -> None:
    subscribe = parse_request(
        INVITE.replace(b"INVITE sip:202@pbx.test", b"SUBSCRIBE sip:202@pbx.test")
        .replace(b"CSeq: 10 INVITE", b"CSeq: 10 SUBSCRIBE"))
    dialog = Dialog.as_uac(subscribe, response(subscribe, 202))
    assert dialog.state is DialogState.CONFIRMED
    notify = _in_dialog("NOTIFY", 1, contact="<sip:202@192.0.2.20:6000>")
    dialog.receive_request(notify)
    assert str(dialog.remote_target) == "sip:202@192.0.2.20:6000"
    refer = dialog.create_request("REFER", our_via(), headers=[("Refer-To", "<sip:203@pbx.test>")])
    assert refer.headers.get("Refer-To") == "<sip:203@pbx.test>" and refer.cseq.number == 11


# -- 2xx retransmission (§13.3.1.4) ---------------------------------------------------------------
def test_2xx_is_retransmitted_doubling_to_t2_until_64_t1_then_ack_timeout() -> None:
    ok = response(invite(), 200)
    retransmission = SuccessRetransmission(ok, "caller", timers=DEFAULT_TIMERS, now=0)
    sent: list[float] = []
    outcome: list[AckTimeout] = []
    while (deadline := retransmission.next_deadline()) is not None:
        for effect in retransmission.handle_timeout(deadline):
            if isinstance(effect, Send):
                assert effect.message is ok and effect.destination == "caller"
                sent.append(deadline)
            else:
                outcome.append(effect)
    assert sent == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert outcome == [AckTimeout(ok)]


def test_ack_stops_the_2xx_retransmission() -> None:
    ok = response(invite(), 200)
    retransmission = SuccessRetransmission(ok, "caller", timers=DEFAULT_TIMERS, now=0)
    retransmission.handle_timeout(0.5)
    assert not retransmission.ack_received(_in_dialog("ACK", 9))  # another INVITE's ACK
    assert retransmission.ack_received(_in_dialog("ACK", 10))
    assert retransmission.next_deadline() is None
    assert retransmission.handle_timeout(100) == []


def test_lost_2xx_reaches_the_caller_on_retransmission_and_is_acked() -> None:
    """End to end over two transaction layers: the first two 200s are lost."""
    uac, uas = TransactionLayer(), TransactionLayer()
    request = invite(record_route=False)
    _, effects = uac.send_request(request, "uas", reliable=False, now=0)
    (sent,) = effects
    assert isinstance(sent, Send) and isinstance(sent.message, SipRequest)
    server_effects = uas.receive_request(sent.message, "uac", reliable=False, now=0)
    (received,) = [e for e in server_effects if isinstance(e, RequestReceived)]
    assert received.transaction is not None
    uas_dialog = Dialog.as_uas(received.request, local_tag="bob1")
    ok = received.request.make_response(200, to_tag="bob1", headers=[("Contact", UAS_CONTACT)])
    uas.send_response(received.transaction, ok, now=0)  # lost on the way
    uas_dialog.response_sent(received.request, ok)
    retransmission = SuccessRetransmission(ok, "uac", timers=DEFAULT_TIMERS, now=0)

    lost = 2
    acks: list[SipRequest] = []
    uac_dialog: Dialog | None = None
    now = 0.0
    while (deadline := retransmission.next_deadline()) is not None and not acks:
        now = deadline
        for effect in retransmission.handle_timeout(now):
            assert isinstance(effect, Send) and isinstance(effect.message, SipResponse)
            if lost:
                lost -= 1
                continue
            arrived = roundtrip(effect.message)
            assert isinstance(arrived, SipResponse)
            for event in uac.receive_response(arrived, now=now):
                assert isinstance(event, ResponseReceived)
                uac_dialog = Dialog.as_uac(request, event.response)
                acks.append(uac_dialog.ack_for_2xx(request, our_via("z9hG4bKack9")))
    assert now == 3.5  # 0.5 and 1.5 were lost
    assert uac_dialog is not None and uac_dialog.state is DialogState.CONFIRMED
    (ack,) = acks
    ack_effects = uas.receive_request(ack, "uac", reliable=False, now=now)
    assert [type(e) for e in ack_effects] == [RequestReceived]  # to the TU: no transaction
    assert retransmission.ack_received(ack)
    uas_dialog.receive_request(ack)
    assert uas_dialog.state is DialogState.CONFIRMED
    assert retransmission.next_deadline() is None
