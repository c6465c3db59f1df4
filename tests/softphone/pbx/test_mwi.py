"""Message waiting indication (RFC 3842): subscribed and unsolicited NOTIFYs with the counts,
after a message is left; only one's own mailbox; unknown event packages refused."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from softphone.pbx.config import EngineConfig
from softphone.pbx.engine import Engine
from softphone.pbx.storage import ExtensionInfo, MailboxInfo, MemoryStore, VoicemailStart
from softphone.sip.message import SipRequest, SipResponse
from tests.softphone.pbx.conftest import config_with, credentials
from tests.softphone.pbx.phone import DOMAIN, Phone, phones
from tests.softphone.pbx.sipclient import challenge_for, digest_authorization
from tests.softphone.pbx.test_voicemail import speak, unanswered, wait_for_beep
from tests.softphone.pbx.test_voicemail_menu import dial_999, keys, message_file


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return MemoryStore(
        [credentials(n) for n in ("201", "202")],
        [ExtensionInfo("201", "Onthaal"), ExtensionInfo("202", "Bib", ring_seconds=1)],
        mailboxes=[MailboxInfo("202", "Bib", language="en", max_seconds=2.0,
                               min_seconds=0.5)],
        spool=str(tmp_path))


@pytest.fixture
def engine_config(tmp_path: Path) -> EngineConfig:
    return config_with(rtp_port_first=21800, rtp_port_last=21899,
                       prompts_dir=tmp_path / "prompts")


@pytest.fixture
async def office(engine: Engine) -> AsyncIterator[tuple[Phone, Phone]]:
    a, b = await phones(engine, "201", "202")
    try:
        yield a, b
    finally:
        for phone in (a, b):
            await phone.__aexit__()


def subscribe(phone: Phone, mailbox: str, *, call_id: str, cseq: int,
              event: str = "message-summary", authorization: str = "", expires: int = 600,
              to_tag: str = "") -> bytes:
    lines = [f"SUBSCRIBE sip:{mailbox}@{DOMAIN} SIP/2.0", f"Via: {phone.via()}",
             "Max-Forwards: 70", f"From: <sip:{phone.user}@{DOMAIN}>;tag=sub1",
             f"To: <sip:{mailbox}@{DOMAIN}>" + (f";tag={to_tag}" if to_tag else ""),
             f"Call-ID: {call_id}", f"CSeq: {cseq} SUBSCRIBE", f"Contact: {phone.contact()}",
             f"Event: {event}", f"Expires: {expires}",
             "Accept: application/simple-message-summary"]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode()


async def subscribed(phone: Phone, mailbox: str, **kwargs: object) -> SipResponse:
    call_id = f"{secrets.token_hex(6)}@mwi"
    phone.send(subscribe(phone, mailbox, call_id=call_id, cseq=1, **kwargs))  # type: ignore[arg-type]
    challenge = await phone.expect_response("SUBSCRIBE")
    if challenge.status_code != 401:
        return challenge
    authorization = digest_authorization(
        challenge_for(challenge), method="SUBSCRIBE", uri=f"sip:{mailbox}@{DOMAIN}",
        username=phone.user, password=phone.password)
    phone.send(subscribe(phone, mailbox, call_id=call_id, cseq=2, authorization=authorization,
                         **kwargs))  # type: ignore[arg-type]
    return await phone.expect_response("SUBSCRIBE")


async def summary(phone: Phone, timeout: float = 5.0) -> tuple[SipRequest, str]:
    notify = await phone.expect_request("NOTIFY", timeout=timeout)
    phone.reply(notify, 200)
    assert notify.headers.get("Event") == "message-summary"
    assert notify.content_type == "application/simple-message-summary"
    return notify, notify.body.decode()


async def leave_message(a: Phone, b: Phone) -> None:
    dialog = await unanswered(a, b)
    await wait_for_beep(a)
    await asyncio.sleep(0.5)
    assert dialog.remote_media is not None
    speak(a, dialog.remote_media, 60)
    a.reply(await a.expect_request("BYE", timeout=6), 200)  # the 2 s maximum


async def test_a_subscribed_phone_hears_of_a_new_message(
        engine: Engine, office: tuple[Phone, Phone]) -> None:
    a, b = office
    ok = await subscribed(b, "202")
    assert ok.status_code == 200 and ok.headers.get("Expires") == "600"
    notify, body = await summary(b)
    assert "Voice-Message: 0/0" in body and "Messages-Waiting: no" in body
    assert (notify.headers.get("Subscription-State") or "").startswith("active")
    assert notify.call_id == ok.call_id and notify.from_tag == ok.to_tag  # in the dialog
    await leave_message(a, b)
    _, body = await summary(b)
    assert "Messages-Waiting: yes" in body and "Voice-Message: 1/0" in body


async def test_a_phone_without_subscription_gets_an_unsolicited_notify(
        engine: Engine, office: tuple[Phone, Phone]) -> None:
    a, b = office
    await leave_message(a, b)
    notify, body = await summary(b)
    assert notify.to_tag is None  # out of any dialog
    assert "Voice-Message: 1/0" in body


async def test_one_may_only_watch_ones_own_mailbox_and_only_message_summary(
        engine: Engine, office: tuple[Phone, Phone]) -> None:
    a, _ = office
    assert (await subscribed(a, "202")).status_code == 403
    refused = await subscribed(a, "201", event="presence")
    assert refused.status_code == 489 and refused.headers.get("Allow-Events") == \
        "message-summary"


async def test_deleting_in_the_999_menu_updates_the_lamp(
        engine: Engine, store: MemoryStore, office: tuple[Phone, Phone]) -> None:
    _, b = office
    store.pins = {"202": "4826"}
    store.voicemails[1] = {
        "start": VoicemailStart("202", "c1", "201", "Onthaal", 1.79e9),
        "path": message_file(Path(store.spool or ".") / "m1.wav"), "state": "new",
        "duration": 1.0}
    assert (await subscribed(b, "202")).status_code == 200
    _, body = await summary(b)
    assert "Voice-Message: 1/0" in body
    dialog = await dial_999(b)
    await keys(b, dialog, "4826#7")  # delete the one message
    _, body = await summary(b, timeout=20)
    assert "Voice-Message: 0/0" in body and "Messages-Waiting: no" in body
