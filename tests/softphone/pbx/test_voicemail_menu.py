"""999: the caller's own mailbox read out and handled by keys (SIP INFO here; RFC 4733 in the
media works the same way, see test_calls.py): PIN, wrong PINs, listen, delete, save."""

from __future__ import annotations

import asyncio
import io
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from softphone.pbx.config import EngineConfig
from softphone.pbx.engine import Engine
from softphone.pbx.storage import ExtensionInfo, MailboxInfo, MemoryStore, VoicemailStart
from tests.softphone.pbx.conftest import config_with, credentials
from tests.softphone.pbx.phone import Dialog, Phone, phones
from tests.softphone.pbx.test_voicemail import speak, wait_for_beep


def message_file(path: Path) -> str:
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(struct.pack("<h", 1000) * 8000)
    return str(path)


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    store = MemoryStore(
        [credentials(n) for n in ("201", "202")],
        [ExtensionInfo("201", "Onthaal"), ExtensionInfo("202", "Bib")],
        mailboxes=[MailboxInfo("202", "Bib", language="en")], spool=str(tmp_path))
    store.pins = {"202": "4826"}
    for number, state in ((1, "new"), (2, "saved")):
        store.voicemails[number] = {
            "start": VoicemailStart("202", f"c{number}", "201", "Onthaal",
                                    1_790_000_000.0 + number),
            "path": message_file(tmp_path / f"m{number}.wav"), "state": state,
            "duration": 1.0}
    return store


@pytest.fixture
def engine_config(tmp_path: Path) -> EngineConfig:
    return config_with(rtp_port_first=21900, rtp_port_last=21999,
                       prompts_dir=tmp_path / "prompts")


@pytest.fixture
async def owner(engine: Engine) -> AsyncIterator[Phone]:
    (phone,) = await phones(engine, "202")
    try:
        yield phone
    finally:
        await phone.__aexit__()


async def dial_999(phone: Phone) -> Dialog:
    dialog = await phone.call("999")
    ok = await phone.expect_response("INVITE", timeout=5)
    assert ok.status_code == 200, ok
    phone.confirmed(dialog, ok)
    return dialog


async def keys(phone: Phone, dialog: Dialog, text: str) -> None:
    for digit in text:
        phone.send(phone.in_dialog(dialog, "INFO", body=f"Signal={digit}\r\n".encode(),
                                   content_type="application/dtmf-relay"))
        assert (await phone.expect_response("INFO")).status_code == 200


async def test_a_wrong_then_the_right_pin_then_delete_the_new_message_and_keep_the_saved_one(
        engine: Engine, store: MemoryStore, owner: Phone) -> None:
    dialog = await dial_999(owner)
    # Keys pressed ahead cut the prompts short, as on a phone: wrong PIN, right PIN, then 7
    # (delete) on the first message (the new one), then 9 (keep) on the saved one.
    await keys(owner, dialog, "1111#4826#79")
    owner.reply(await owner.expect_request("BYE", timeout=30), 200)  # "no more messages"
    assert store.voicemails[1]["state"] == "deleted"
    assert store.voicemails[2]["state"] == "saved"
    assert store.pin_failures.get("202") is None  # the right PIN clears the count


async def test_listening_marks_a_new_message_saved(
        engine: Engine, store: MemoryStore, owner: Phone) -> None:
    dialog = await dial_999(owner)
    await keys(owner, dialog, "4826#22")
    owner.reply(await owner.expect_request("BYE", timeout=30), 200)
    assert store.voicemails[1]["state"] == "saved"


async def test_three_wrong_pins_end_the_call_and_count_towards_the_lockout(
        engine: Engine, store: MemoryStore, owner: Phone) -> None:
    dialog = await dial_999(owner)
    await keys(owner, dialog, "1#2#3#")
    owner.reply(await owner.expect_request("BYE", timeout=30), 200)
    assert store.pin_failures["202"] == 3
    assert store.voicemails[1]["state"] == "new"  # nothing was touched
    # Three more: the mailbox locks, even with the right PIN.
    dialog = await dial_999(owner)
    await keys(owner, dialog, "1#2#3#")
    owner.reply(await owner.expect_request("BYE", timeout=30), 200)
    dialog = await dial_999(owner)
    await keys(owner, dialog, "4826#")
    owner.reply(await owner.expect_request("BYE", timeout=30), 200)
    assert store.voicemails[1]["state"] == "new"


async def test_a_pin_with_letters_is_just_wrong(
        engine: Engine, store: MemoryStore, owner: Phone) -> None:
    dialog = await dial_999(owner)
    await keys(owner, dialog, "A1B2#")
    assert store.pin_failures.get("202", 0) <= 1
    await owner.bye(dialog)


async def test_5_at_the_end_records_a_new_personal_greeting(
        engine: Engine, store: MemoryStore, owner: Phone) -> None:
    dialog = await dial_999(owner)
    await keys(owner, dialog, "4826#225")  # both messages heard, then 5
    await wait_for_beep(owner, timeout=30)
    await asyncio.sleep(0.5)
    assert dialog.remote_media is not None
    speak(owner, dialog.remote_media, 75)  # 1.5 s of greeting
    await asyncio.sleep(0.3)
    await keys(owner, dialog, "#")
    owner.reply(await owner.expect_request("BYE", timeout=30), 200)
    greeting = store.greetings["202"]
    with wave.open(io.BytesIO(greeting)) as audio:
        assert audio.getframerate() == 8000 and audio.getnframes() >= 8000 * 1.2
