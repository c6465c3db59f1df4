"""Blind transfer (REFER, RFC 3515) from a phone, including the call that comes back when the
target does not answer (SPEC.md C3: "a blind transfer never loses the call")."""

from __future__ import annotations

import asyncio

import pytest

from softphone.pbx.config import EngineConfig
from softphone.pbx.engine import Engine
from softphone.pbx.storage import ExtensionInfo, MemoryStore
from tests.softphone.pbx.conftest import config_with, credentials, udp_address
from tests.softphone.pbx.phone import Dialog, Phone, connected, record_of, sdp
from tests.softphone.pbx.sipclient import challenge_for, digest_authorization


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(
        [credentials(n) for n in ("201", "202", "203")],
        [ExtensionInfo("201", "Onthaal"), ExtensionInfo("202", "Bib"),
         ExtensionInfo("203", "Bevolking-Loket 1", ring_seconds=2)])


@pytest.fixture
def engine_config() -> EngineConfig:
    return config_with(rtp_port_first=21200, rtp_port_last=21399)


async def refer(phone: Phone, dialog: Dialog, refer_to: str) -> int:
    phone.send(phone.in_dialog(dialog, "REFER", extra=f"Refer-To: {refer_to}\r\n"
                                                      f"Referred-By: <sip:{phone.user}@x>"))
    return (await phone.expect_response("REFER")).status_code


async def sipfrag(phone: Phone) -> tuple[str, str]:
    """The next NOTIFY of the REFER's subscription: (sipfrag status line, state)."""
    notify = await phone.expect_request("NOTIFY")
    phone.reply(notify, 200)
    assert notify.headers.get("Event") == "refer"
    assert (notify.content_type or "").startswith("message/sipfrag")
    return notify.body.decode().strip(), notify.headers.get("Subscription-State") or ""


async def hears(listener: Phone, talker: Phone, talker_dialog_media: tuple[str, int],
                fill: int) -> bool:
    listener.rtp.received.clear()
    talker.send_rtp(talker_dialog_media, 15, fill=fill, ssrc=fill, first_seq=fill * 100)
    await asyncio.sleep(0.3)
    return any(p == bytes([fill]) * 160 for p in listener.payloads())


async def test_blind_transfer_to_a_phone_that_answers(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, c = three
    dialog_a, dialog_b = await connected(a, b)
    assert await refer(b, dialog_b, "<sip:203@127.0.0.1>") == 202
    assert await sipfrag(b) == ("SIP/2.0 100 Trying", "active;expires=60")
    invite, dialog_c = await c.ring()
    # The target sees who is really calling: the transferee, not the transferrer.
    assert '"Onthaal" <sip:201@' in (invite.headers.get("From") or "")
    assert dialog_a.remote_media is not None
    # While the target rings, the transferee hears music on hold.
    a.rtp.received.clear()
    await asyncio.sleep(0.4)
    assert len(a.payloads()) > 10
    c.answer(invite, dialog_c)
    await c.expect_request("ACK")
    status, state = await sipfrag(b)
    assert status == "SIP/2.0 200 OK" and state.startswith("terminated")
    b.reply(await b.expect_request("BYE"), 200)
    assert dialog_c.remote_media is not None
    assert await hears(c, a, dialog_a.remote_media, 0x41)
    assert await hears(a, c, dialog_c.remote_media, 0x42)
    assert (await a.bye(dialog_a)).status_code == 200
    c.reply(await c.expect_request("BYE"), 200)
    record = await record_of(store)
    assert record.transfers == ["202 -> 203 (blind): answered"]
    assert not engine.calls.calls and not engine.relay.legs


async def test_unanswered_blind_transfer_rings_the_transferrer_again(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, c = three
    dialog_a, dialog_b = await connected(a, b)
    assert await refer(b, dialog_b, "<sip:203@127.0.0.1>") == 202
    await sipfrag(b)
    # The transferrer hangs up at once, as most desk phones do after 202 (RFC 5589 §6.1).
    assert (await b.bye(dialog_b)).status_code == 200
    invite, dialog_c = await c.ring()
    cancel = await c.expect_request("CANCEL", timeout=4)  # 203 rings 2 s
    c.reply(cancel, 200)
    c.reply(invite, 487, to_tag=dialog_c.local_tag)
    # The call comes back: 202 rings again, with the caller's identity.
    back, dialog_back = await b.ring(timeout=4)
    assert '"Onthaal" <sip:201@' in (back.headers.get("From") or "")
    b.answer(back, dialog_back)
    await b.expect_request("ACK")
    assert dialog_back.remote_media is not None and dialog_a.remote_media is not None
    assert await hears(b, a, dialog_a.remote_media, 0x43)
    assert await hears(a, b, dialog_back.remote_media, 0x44)
    assert (await b.bye(dialog_back)).status_code == 200
    a.reply(await a.expect_request("BYE"), 200)
    record = await record_of(store)
    assert record.transfers == [
        "202 -> 203 (blind): 480, ringing the transferrer again: back to the transferrer"]


async def test_busy_target_returns_the_call_to_a_transferrer_still_on_the_line(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, c = three
    dialog_a, dialog_b = await connected(a, b)
    assert await refer(b, dialog_b, "<sip:203@127.0.0.1>") == 202
    await sipfrag(b)
    invite = await c.expect_request("INVITE")
    c.reply(invite, 486, to_tag="busy")
    status, state = await sipfrag(b)
    assert status == "SIP/2.0 486 Busy Here" and state.startswith("terminated")
    assert dialog_b.remote_media is not None and dialog_a.remote_media is not None
    assert await hears(b, a, dialog_a.remote_media, 0x45)
    assert await hears(a, b, dialog_b.remote_media, 0x46)
    await a.bye(dialog_a)
    b.reply(await b.expect_request("BYE"), 200)
    record = await record_of(store)
    assert record.transfers == ["202 -> 203 (blind): 486, back to the transferrer"]


@pytest.mark.parametrize(("refer_to", "status"), [
    ("<mailto:someone@example.org>", 400),
    ("<sip:@127.0.0.1>", 400),
    ("<sip:nonsense@127.0.0.1>", 400),
    ("<sip:299@127.0.0.1>", 404),
    ("<sip:203@127.0.0.1?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2>", 404),  # no such dialog
    ("<sip:203@127.0.0.1?Replaces=abc>", 400),  # no tags
    ("not a uri at all <<<", 400),
])
async def test_a_bad_refer_is_refused_and_the_call_goes_on(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone],
        refer_to: str, status: int) -> None:
    a, b, _ = three
    dialog_a, dialog_b = await connected(a, b)
    assert await refer(b, dialog_b, refer_to) == status
    assert dialog_b.remote_media is not None and dialog_a.remote_media is not None
    assert await hears(a, b, dialog_b.remote_media, 0x47)
    assert await hears(b, a, dialog_a.remote_media, 0x48)
    await a.bye(dialog_a)
    b.reply(await b.expect_request("BYE"), 200)
    assert (await record_of(store)).transfers == []


async def test_a_refer_outside_any_call_gets_481(
        engine: Engine, three: tuple[Phone, Phone, Phone]) -> None:
    a, _, _ = three
    stray = Dialog(call_id="nothing@here", local_tag="x1", remote_tag="y2",
                   local_uri="<sip:201@127.0.0.1>", remote_uri="<sip:202@127.0.0.1>",
                   target="sip:202@127.0.0.1")
    assert await refer(a, stray, "<sip:203@127.0.0.1>") == 481


def replaces_of(dialog: Dialog) -> str:
    """The Replaces value naming ``dialog`` as the engine sees it (RFC 3891 §3: to-tag is
    the recipient's — the engine's — tag)."""
    return f"{dialog.call_id};to-tag={dialog.remote_tag};from-tag={dialog.local_tag}"


def escaped(value: str) -> str:
    return value.replace("@", "%40").replace(";", "%3B").replace("=", "%3D")


async def test_attended_transfer_joins_the_held_caller_and_the_consulted_target(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, c = three
    dialog_a, dialog_b = await connected(a, b)
    # 202 holds the caller (who hears music), then consults 203 on a second call.
    assert (await b.reinvite(dialog_b, "sendonly")).status_code == 200
    consult = await b.call("203")
    invite, dialog_c = await c.ring()
    c.answer(invite, dialog_c)
    b.confirmed(consult, await b.expect_response("INVITE"))
    await c.expect_request("ACK")
    # REFER with Replaces on the held call: join 201 and 203.
    status = await refer(b, dialog_b, f"<sip:203@127.0.0.1?Replaces="
                                      f"{escaped(replaces_of(consult))}>")
    assert status == 202
    frag, state = await sipfrag(b)
    assert frag == "SIP/2.0 200 OK" and state.startswith("terminated")
    byes = [await b.expect_request("BYE"), await b.expect_request("BYE")]
    assert {bye.call_id for bye in byes} == {dialog_b.call_id, consult.call_id}
    for bye in byes:
        b.reply(bye, 200)
    assert dialog_a.remote_media is not None and dialog_c.remote_media is not None
    assert await c.quiet(0.2) == []  # the target's phone is not disturbed: media re-pointed
    assert await hears(c, a, dialog_a.remote_media, 0x51)
    assert await hears(a, c, dialog_c.remote_media, 0x52)
    assert (await c.bye(dialog_c)).status_code == 200
    a.reply(await a.expect_request("BYE"), 200)
    await asyncio.sleep(0.1)
    records = {f"{r.caller_extension}>{r.callee_extension}": r
               for r in store.call_records}
    assert records["201>202"].transfers == ["202 -> 203 (attended): answered"]
    assert records["201>202"].ended_by == "callee"
    assert records["202>203"].ended_by == "transfer"
    assert not engine.calls.calls and not engine.relay.legs


async def test_refer_with_replaces_for_an_unknown_dialog_is_refused_and_the_call_goes_on(
        engine: Engine, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, _ = three
    dialog_a, dialog_b = await connected(a, b)
    status = await refer(b, dialog_b, "<sip:203@127.0.0.1?Replaces=nope%3Bto-tag%3D1"
                                      "%3Bfrom-tag%3D2>")
    assert status == 404
    assert dialog_b.remote_media is not None
    assert await hears(a, b, dialog_b.remote_media, 0x53)
    await a.bye(dialog_a)
    b.reply(await b.expect_request("BYE"), 200)


async def test_refer_with_replaces_naming_someone_elses_call_is_forbidden(
        engine: Engine, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, _ = three
    dialog_a, dialog_b = await connected(a, b)  # 201 -> 202
    # 201 names 202's leg of their call (the dialog ids are easy to learn): not its own.
    status = await refer(a, dialog_a, f"<sip:202@127.0.0.1?Replaces="
                                      f"{escaped(replaces_of(dialog_b))}>")
    assert status == 403
    assert dialog_a.remote_media is not None
    assert await hears(b, a, dialog_a.remote_media, 0x54)
    await a.bye(dialog_a)
    b.reply(await b.expect_request("BYE"), 200)


async def test_an_invite_with_replaces_takes_over_an_answered_dialog(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, _ = three
    dialog_a, dialog_b = await connected(a, b)
    # 202's second device (a DECT handset) takes the call over from the desk phone.
    async with Phone("202", udp_address(engine)) as dect:
        await dect.register()
        dialog = Dialog(call_id="takeover@dect", local_tag="d1",
                        local_uri="<sip:202@127.0.0.1>", remote_uri="<sip:201@127.0.0.1>",
                        target="sip:201@127.0.0.1")
        body = sdp(dect.rtp_port)
        replaces = f"Replaces: {dialog_b.call_id};to-tag={dialog_b.remote_tag};" \
                   f"from-tag={dialog_b.local_tag}"
        first = dect._invite(dialog, body).replace(b"Content-Type", replaces.encode()
                                                   + b"\r\nContent-Type", 1)
        dect.send(first)
        challenge = await dect.expect_response("INVITE")
        assert challenge.status_code == 407
        dect.ack_failure(dialog, challenge)
        dialog.cseq += 1
        authorization = digest_authorization(
            challenge_for(challenge, header="Proxy-Authenticate"), method="INVITE",
            uri=dialog.target, username="202", password="pw-202")
        dect.send(dect._invite(dialog, body, authorization).replace(
            b"Content-Type", replaces.encode() + b"\r\nContent-Type", 1))
        ok = await dect.expect_response("INVITE")
        assert ok.status_code == 200
        dect.confirmed(dialog, ok)
        b.reply(await b.expect_request("BYE"), 200)  # the desk phone's part is over
        assert dialog.remote_media is not None and dialog_a.remote_media is not None
        assert await hears(a, dect, dialog.remote_media, 0x55)
        assert await hears(dect, a, dialog_a.remote_media, 0x56)
        assert (await a.bye(dialog_a)).status_code == 200
        dect.reply(await dect.expect_request("BYE"), 200)
    assert (await record_of(store)).transfers == ["202 replaced by 202"]


async def test_an_invite_with_replaces_for_no_dialog_gets_481(
        engine: Engine, three: tuple[Phone, Phone, Phone]) -> None:
    a, _, _ = three
    dialog = Dialog(call_id="x@y", local_tag="t1", local_uri="<sip:201@127.0.0.1>",
                    remote_uri="<sip:202@127.0.0.1>", target="sip:202@127.0.0.1")
    body = sdp(a.rtp_port)
    header = b"Replaces: gone@nowhere;to-tag=1;from-tag=2\r\nContent-Type"
    a.send(a._invite(dialog, body).replace(b"Content-Type", header, 1))
    challenge = await a.expect_response("INVITE")
    a.ack_failure(dialog, challenge)
    dialog.cseq += 1
    authorization = digest_authorization(
        challenge_for(challenge, header="Proxy-Authenticate"), method="INVITE",
        uri=dialog.target, username="201", password="pw-201")
    a.send(a._invite(dialog, body, authorization).replace(b"Content-Type", header, 1))
    response = await a.expect_response("INVITE")
    assert response.status_code == 481
    a.ack_failure(dialog, response)


async def test_the_held_caller_is_retrieved_after_an_unanswered_consultation(
        engine: Engine, store: MemoryStore, three: tuple[Phone, Phone, Phone]) -> None:
    a, b, c = three
    dialog_a, dialog_b = await connected(a, b)
    assert (await b.reinvite(dialog_b, "sendonly")).status_code == 200  # 201 hears music
    consult = await b.call("203")
    invite = await c.expect_request("INVITE")
    c.reply(invite, 486, to_tag="busy")  # the consulted colleague is busy
    response = await b.expect_response("INVITE")
    assert response.status_code == 486
    b.ack_failure(consult, response)
    # Back to the held caller: resume, and they talk again.
    assert (await b.reinvite(dialog_b, "sendrecv")).status_code == 200
    assert dialog_a.remote_media is not None and dialog_b.remote_media is not None
    assert await hears(a, b, dialog_b.remote_media, 0x57)
    assert await hears(b, a, dialog_a.remote_media, 0x58)
    await a.bye(dialog_a)
    b.reply(await b.expect_request("BYE"), 200)
