"""Blind transfer (REFER, RFC 3515) from a phone, including the call that comes back when the
target does not answer (SPEC.md C3: "a blind transfer never loses the call")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from softphone.pbx.config import EngineConfig
from softphone.pbx.engine import Engine
from softphone.pbx.storage import ExtensionInfo, MemoryStore
from tests.softphone.pbx.conftest import config_with, credentials
from tests.softphone.pbx.phone import Dialog, Phone, phones, record_of

pytestmark = pytest.mark.asyncio


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(
        [credentials(n) for n in ("201", "202", "203")],
        [ExtensionInfo("201", "Onthaal"), ExtensionInfo("202", "Bib"),
         ExtensionInfo("203", "Bevolking-Loket 1", ring_seconds=2)])


@pytest.fixture
def engine_config() -> EngineConfig:
    return config_with(rtp_port_first=21200, rtp_port_last=21399)


@pytest.fixture
async def three(engine: Engine) -> AsyncIterator[tuple[Phone, Phone, Phone]]:
    a, b, c = await phones(engine, "201", "202", "203")
    try:
        yield a, b, c
    finally:
        for phone in (a, b, c):
            await phone.__aexit__()


async def connected(a: Phone, b: Phone) -> tuple[Dialog, Dialog]:
    dialog_a = await a.call("202")
    invite, dialog_b = await b.ring()
    b.answer(invite, dialog_b)
    a.confirmed(dialog_a, await a.expect_response("INVITE"))
    await b.expect_request("ACK")
    return dialog_a, dialog_b


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
    ("<sip:203@127.0.0.1?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2>", 501),
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
