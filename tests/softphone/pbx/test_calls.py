"""Call control end to end over loopback: scripted phones (``phone.py``) register to a real
engine and call each other; RTP really flows through the engine's relay."""

from __future__ import annotations

import asyncio

import pytest

from softphone.pbx.calls import peer_of_binding
from softphone.pbx.cdr import CallDirection, Disposition
from softphone.pbx.config import EngineConfig
from softphone.pbx.engine import Engine
from softphone.pbx.location import Binding
from softphone.pbx.storage import ExtensionInfo, MemoryStore
from tests.softphone.pbx.conftest import config_with, credentials, udp_address
from tests.softphone.pbx.phone import Phone, connected, record_of, sdp
from tests.softphone.pbx.phone import sdp_port as sdp_port_of


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(
        [credentials(n) for n in ("201", "202", "203", "204")],
        [ExtensionInfo("201", "Onthaal"), ExtensionInfo("202", "Bib", ring_seconds=2),
         ExtensionInfo("203", "Bevolking-Loket 1")])


@pytest.fixture
def engine_config() -> EngineConfig:
    return config_with(rtp_port_first=21000, rtp_port_last=21199)


async def test_a_call_rings_is_answered_carries_audio_both_ways_and_hangs_up(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, _ = three
    dialog_a = await a.call("202")
    invite, dialog_b = await b.ring()
    # The callee sees the caller's name from the directory, and the engine's media address.
    assert '"Onthaal"' in (invite.headers.get("From") or "")
    assert "<sip:201@" in (invite.headers.get("From") or "")
    ringing = await a.expect_response("INVITE", final=False)
    assert ringing.status_code in (100, 180)
    b.answer(invite, dialog_b)
    ok = await a.expect_response("INVITE")
    assert ok.status_code == 200
    a.confirmed(dialog_a, ok)
    ack = await b.expect_request("ACK")
    assert ack.call_id == invite.call_id
    # Anchored media: each phone talks to an engine port, never to the other phone.
    assert dialog_a.remote_media is not None and dialog_b.remote_media is not None
    assert dialog_a.remote_media[1] != b.rtp_port and dialog_b.remote_media[1] != a.rtp_port
    a.send_rtp(dialog_a.remote_media, 20, fill=0x11)
    b.send_rtp(dialog_b.remote_media, 20, fill=0x22, ssrc=0x999)
    await asyncio.sleep(0.3)
    assert any(p == bytes([0x11]) * 160 for p in b.payloads())
    assert any(p == bytes([0x22]) * 160 for p in a.payloads())
    # The caller hangs up: the callee gets the BYE.
    assert (await a.bye(dialog_a)).status_code == 200
    bye = await b.expect_request("BYE")
    b.reply(bye, 200)
    record = await record_of(store)
    assert record.disposition is Disposition.ANSWERED
    assert record.direction is CallDirection.INTERNAL
    assert (record.caller_extension, record.callee_extension) == ("201", "202")
    assert record.caller_name == "Onthaal" and record.callee_name == "Bib"
    assert record.answered_by == "202" and record.answered_device == "test-phone-202"
    assert record.ended_by == "caller" and record.answered_at is not None
    assert not engine.calls.calls and not engine.relay.legs


async def test_the_callee_hangs_up(engine: Engine, store: MemoryStore,
                                   three: tuple[Phone, Phone, Phone]) -> None:
    a, b, _ = three
    dialog_a = await a.call("202")
    invite, dialog_b = await b.ring()
    b.answer(invite, dialog_b)
    a.confirmed(dialog_a, await a.expect_response("INVITE"))
    await b.expect_request("ACK")
    assert (await b.bye(dialog_b)).status_code == 200
    bye = await a.expect_request("BYE")
    a.reply(bye, 200)
    assert (await record_of(store)).ended_by == "callee"


async def test_two_devices_ring_the_first_answer_wins_the_other_is_cancelled_with_reason(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, _ = three
    async with Phone("202", udp_address(engine)) as b2:
        b2.user_agent = "test-dect-202"
        await b2.register()
        dialog_a = await a.call("202")
        invite1, dialog1 = await b.ring()
        invite2, dialog2 = await b2.ring()
        b2.answer(invite2, dialog2)
        cancel = await b.expect_request("CANCEL")
        assert cancel.headers.get("Reason") == \
            'SIP;cause=200;text="Call completed elsewhere"'
        b.reply(cancel, 200)
        b.reply(invite1, 487, to_tag=dialog1.local_tag)
        a.confirmed(dialog_a, await a.expect_response("INVITE"))
        await b2.expect_request("ACK")
        await b.expect_request("ACK")  # the ACK to the 487 (hop by hop)
        await a.bye(dialog_a)
        b2.reply(await b2.expect_request("BYE"), 200)
    record = await record_of(store)
    assert record.answered_device == "test-dect-202"


async def test_busy_everywhere_gives_486_and_a_busy_record(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, _ = three
    dialog_a = await a.call("202")
    invite = await b.expect_request("INVITE")
    b.reply(invite, 486, to_tag="busytag")
    response = await a.expect_response("INVITE")
    assert response.status_code == 486
    a.ack_failure(dialog_a, response)
    record = await record_of(store)
    assert record.disposition is Disposition.BUSY and record.status_code == 486


async def test_no_answer_within_the_ring_time_gives_480_and_stops_the_ringing(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, _ = three  # 202 rings 2 s (fixture)
    dialog_a = await a.call("202")
    invite, dialog_b = await b.ring()
    cancel = await b.expect_request("CANCEL", timeout=4)
    assert "Reason" not in cancel.headers
    b.reply(cancel, 200)
    b.reply(invite, 487, to_tag=dialog_b.local_tag)
    response = await a.expect_response("INVITE", timeout=4)
    assert response.status_code == 480
    a.ack_failure(dialog_a, response)
    record = await record_of(store)
    assert record.disposition is Disposition.MISSED and record.ended_by == "timeout"


async def test_the_caller_cancels_and_every_device_stops_ringing(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, _ = three
    dialog_a = await a.call("202")
    invite, dialog_b = await b.ring()
    await a.expect_response("INVITE", final=False)
    a.send(dialog_a.invite.replace(b"INVITE sip:", b"CANCEL sip:", 1)
           .replace(b"INVITE\r\n", b"CANCEL\r\n"))
    cancel = await b.expect_request("CANCEL")
    b.reply(cancel, 200)
    b.reply(invite, 487, to_tag=dialog_b.local_tag)
    final = await a.expect_response("INVITE")
    assert final.status_code == 487
    record = await record_of(store)
    assert record.disposition is Disposition.CANCELLED and record.ended_by == "caller"


async def test_an_extension_without_devices_gives_480_and_a_missed_record(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, _, _ = three
    dialog = await a.call("204")  # an extension with credentials and no registration
    response = await a.expect_response("INVITE")
    assert response.status_code == 480
    a.ack_failure(dialog, response)
    record = await record_of(store)
    assert record.disposition is Disposition.MISSED and record.callee_extension == "204"
    assert not engine.relay.legs


async def test_hold_plays_music_to_the_other_party_then_resumes(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, _ = three
    dialog_a = await a.call("202")
    invite, dialog_b = await b.ring()
    b.answer(invite, dialog_b)
    a.confirmed(dialog_a, await a.expect_response("INVITE"))
    await b.expect_request("ACK")
    assert dialog_a.remote_media and dialog_b.remote_media
    # The caller holds (RFC 3264 §8.4 sendonly): the engine answers recvonly itself.
    held = await a.reinvite(dialog_a, "sendonly")
    assert held.status_code == 200 and b"a=recvonly" in held.body
    assert await b.quiet(0.2) == []  # the callee's phone is not bothered
    b.send_rtp(dialog_b.remote_media, 3)  # let the relay latch the callee's address
    await asyncio.sleep(0.6)
    music = [p for p in b.payloads() if p != bytes([0x55]) * 160]
    assert len(music) > 10, "the held party hears music on hold"
    a.rtp.received.clear()
    b.send_rtp(dialog_b.remote_media, 10, fill=0x22, first_seq=100)
    await asyncio.sleep(0.2)
    assert not any(p == bytes([0x22]) * 160 for p in a.payloads()), "holder hears nothing"
    # Resume: both hear each other again.
    resumed = await a.reinvite(dialog_a, "sendrecv")
    assert resumed.status_code == 200 and b"a=sendrecv" in resumed.body
    b.send_rtp(dialog_b.remote_media, 10, fill=0x33, first_seq=200)
    await asyncio.sleep(0.2)
    assert any(p == bytes([0x33]) * 160 for p in a.payloads())
    await a.bye(dialog_a)
    b.reply(await b.expect_request("BYE"), 200)


@pytest.mark.parametrize(("body", "status"), [
    (sdp(4000, codecs="18 9"), 488),  # G.729/G.722 only: no common codec
    (sdp(4000).replace(b"c=IN IP4 127.0.0.1", b"c=IN IP4"), 400),  # bad c= line
    (sdp(4000).replace(b"m=audio 4000", b"m=audio 70000"), 400),  # port out of range
    (sdp(4000) + b"".join(b"m=audio %d RTP/AVP 0\r\n" % (5000 + 2 * i) for i in range(1000)),
     400),  # 1,000 m-lines
])
async def test_bad_sdp_is_refused_with_a_clear_status_and_other_calls_go_on(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone],
        body: bytes, status: int) -> None:
    a, b, c = three
    # A call in progress between 202 and 203 ...
    dialog_b = await b.call("203")
    invite, dialog_c = await c.ring()
    c.answer(invite, dialog_c)
    b.confirmed(dialog_b, await b.expect_response("INVITE"))
    # ... is untouched by 201's bad offer.
    dialog_a = await a.call("202", body=body)
    response = await a.expect_response("INVITE")
    assert response.status_code == status
    a.ack_failure(dialog_a, response)
    assert len(engine.calls.calls) == 1
    assert (await b.bye(dialog_b)).status_code == 200
    c.reply(await c.expect_request("BYE"), 200)
    await record_of(store, count=2)  # 201's refused call and the 202 -> 203 call
    failed = [r for r in store.call_records if r.caller_extension == "201"]
    assert failed and failed[0].disposition is Disposition.FAILED


@pytest.mark.parametrize(("contact", "source", "expected"), [
    # No NAT: the Contact, also when the REGISTER left from another port of the same host.
    ("sip:201@192.0.2.10:5062", "udp:192.0.2.10:40000", "udp:192.0.2.10:5062"),
    ("sip:201@192.0.2.10:5062", "udp:192.0.2.10:5062", "udp:192.0.2.10:5062"),
    # Behind NAT: the Contact names a private address; only the source reaches the phone.
    ("sip:201@10.0.0.5:5060", "udp:198.51.100.7:61000", "udp:198.51.100.7:61000"),
    # A stream: back down the connection the REGISTER came on.
    ("sip:201@192.0.2.10:5062;transport=tcp", "tcp:192.0.2.10:41000", "tcp:192.0.2.10:41000"),
    # No (usable) source recorded: the Contact, with its default port.
    ("sip:201@192.0.2.10", "", "udp:192.0.2.10:5060"),
])
def test_where_requests_for_a_registered_device_go(contact: str, source: str,
                                                   expected: str) -> None:
    binding = Binding("201", contact, expires_at=0, call_id="x", cseq=1, source=source)
    assert str(peer_of_binding(binding)) == expected


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n"),
    ("application/dtmf", b"5"),
])
async def test_sip_info_dtmf_reaches_the_other_phone_as_rfc_4733_events(
        engine: Engine, three: tuple[Phone, Phone, Phone], content_type: str,
        body: bytes) -> None:
    a, b, _ = three
    dialog_a, dialog_b = await connected(a, b)
    assert dialog_b.remote_media is not None
    b.send_rtp(dialog_b.remote_media, 2)  # the callee's leg latches (symmetric RTP)
    a.send(a.in_dialog(dialog_a, "INFO", body=body, content_type=content_type))
    assert (await a.expect_response("INFO")).status_code == 200
    await asyncio.sleep(0.4)
    events = [data for data, _ in b.rtp.received if data[1] & 0x7F == 101]
    assert len(events) >= 4, b.rtp.received[:3]
    assert {data[12] for data in events} == {5}  # RFC 4733 §2.3: event 5 is the digit 5
    assert events[-1][13] & 0x80, "the last packets carry the end bit"
    await a.bye(dialog_a)
    b.reply(await b.expect_request("BYE"), 200)


@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("application/dtmf-relay", b"Signal=X\r\n", 400),
    ("text/plain", b"hello", 415),
])
async def test_a_bad_info_is_refused_and_the_call_goes_on(
        engine: Engine, three: tuple[Phone, Phone, Phone], content_type: str, body: bytes,
        status: int) -> None:
    a, b, _ = three
    dialog_a, _ = await connected(a, b)
    a.send(a.in_dialog(dialog_a, "INFO", body=body, content_type=content_type))
    assert (await a.expect_response("INFO")).status_code == status
    assert len(engine.calls.calls) == 1
    await a.bye(dialog_a)
    b.reply(await b.expect_request("BYE"), 200)


@pytest.mark.parametrize("engine_config", [
    config_with(rtp_port_first=21000, rtp_port_last=21199, rtp_timeout=1.0)])
async def test_a_call_whose_phones_send_no_rtp_is_hung_up(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, _ = three
    await connected(a, b)
    # Nobody sends RTP (the phone vanished): within the timeout plus a check interval the
    # engine sends BYE to both and writes the record.
    a.reply(await a.expect_request("BYE", timeout=4), 200)
    b.reply(await b.expect_request("BYE", timeout=4), 200)
    record = await record_of(store)
    assert record.ended_by == "rtp-timeout" and record.disposition is Disposition.ANSWERED


async def test_early_media_from_the_callee_reaches_the_caller_before_the_answer(
        engine: Engine, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, _ = three
    dialog_a = await a.call("202")
    invite = await b.expect_request("INVITE")
    assert invite.body
    # 183 Session Progress with SDP (an announcement or the callee's own ringback, RFC 3960).
    b.reply(invite, 183, to_tag="early1", body=sdp(b.rtp_port))
    progress = await a.expect_response("INVITE", final=False)
    while progress.status_code == 100:
        progress = await a.expect_response("INVITE", final=False)
    assert progress.status_code == 183 and progress.body
    engine_for_b = sdp_port_of(invite.body)
    b.send_rtp(engine_for_b, 10, fill=0x77)
    await asyncio.sleep(0.2)
    assert any(p == bytes([0x77]) * 160 for p in a.payloads()), "caller hears early media"
    # Then the answer: the 200's SDP is the same answer as in the 183 (RFC 3264).
    b.reply(invite, 200, to_tag="early1", body=sdp(b.rtp_port))
    ok = await a.expect_response("INVITE")
    assert ok.status_code == 200 and ok.body == progress.body
    a.confirmed(dialog_a, ok)
    await b.expect_request("ACK")
    await a.bye(dialog_a)
    b.reply(await b.expect_request("BYE"), 200)
