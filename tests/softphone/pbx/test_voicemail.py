"""Taking a voicemail message through the engine: unanswered, busy or device-less calls reach
the callee's mailbox; the caller hears the greeting and the beep, and what they say is
recorded until they hang up, press # or reach the maximum length."""

from __future__ import annotations

import asyncio
import itertools
import math
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from softphone.media.g711 import Codec
from softphone.pbx.cdr import Disposition
from softphone.pbx.config import EngineConfig
from softphone.pbx.engine import Engine
from softphone.pbx.storage import ExtensionInfo, MailboxInfo, MemoryStore
from tests.softphone.pbx.conftest import config_with, credentials
from tests.softphone.pbx.phone import Dialog, Phone, phones, record_of


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return MemoryStore(
        [credentials(n) for n in ("201", "202", "203")],
        [ExtensionInfo("201", "Onthaal"), ExtensionInfo("202", "Bib", ring_seconds=1)],
        mailboxes=[MailboxInfo("202", "Bib", language="en", max_seconds=3.0, min_seconds=0.5,
                               silence_seconds=1.5),
                   MailboxInfo("203", "Bevolking-Loket 1", full=True)],
        spool=str(tmp_path))


@pytest.fixture
def engine_config(tmp_path: Path) -> EngineConfig:
    return config_with(rtp_port_first=21600, rtp_port_last=21799,
                       prompts_dir=tmp_path / "prompts")


@pytest.fixture
async def office(engine: Engine) -> AsyncIterator[tuple[Phone, Phone]]:
    a, b = await phones(engine, "201", "202")
    try:
        yield a, b
    finally:
        for phone in (a, b):
            await phone.__aexit__()


def tone_payload(frequency: float, frame: int) -> bytes:
    """20 ms of a sine as µ-law (the caller's "voice")."""
    samples = [round(8000 * math.sin(2 * math.pi * frequency * (frame * 160 + n) / 8000))
               for n in range(160)]
    return Codec.PCMU.encode(struct.pack("<160h", *samples))


def speak(phone: Phone, destination: tuple[str, int], frames: int) -> None:
    assert phone.rtp.transport is not None
    for frame in range(frames):
        header = struct.pack("!BBHII", 0x80, 0, frame + 1, (frame + 1) * 160, 0xABC)
        phone.rtp.transport.sendto(header + tone_payload(440.0, frame), destination)


async def talk(phone: Phone, destination: tuple[str, int], seconds: float) -> None:
    """Speak in real time (one frame every 20 ms), as a caller who keeps talking."""
    assert phone.rtp.transport is not None
    for frame in range(int(seconds * 50)):
        header = struct.pack("!BBHII", 0x80, 0, frame + 1, (frame + 1) * 160, 0xABD)
        phone.rtp.transport.sendto(header + tone_payload(440.0, frame), destination)
        await asyncio.sleep(0.02)


async def unanswered(a: Phone, b: Phone, number: str = "202") -> Dialog:
    dialog = await a.call(number)
    invite, ringing = await b.ring()
    cancel = await b.expect_request("CANCEL", timeout=3)  # 202 rings 1 s
    b.reply(cancel, 200)
    b.reply(invite, 487, to_tag=ringing.local_tag)
    ok = await a.expect_response("INVITE", timeout=5)
    assert ok.status_code == 200, ok  # the engine answers: the mailbox takes the call
    a.confirmed(dialog, ok)
    return dialog


async def wait_for_beep(phone: Phone, timeout: float = 20.0) -> None:
    """The greeting (or nothing, without espeak-ng) then the 1 kHz beep."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        recent = [data[12:] for data, _ in phone.rtp.received[-12:]]
        if len(recent) >= 10 and all(_is_beep(p) for p in recent[-10:]):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no beep heard; {len(phone.rtp.received)} packets")


def _is_beep(payload: bytes) -> bool:
    pcm = struct.unpack("<160h", Codec.PCMU.decode(payload))
    crossings = sum(1 for x, y in itertools.pairwise(pcm) if (x < 0) != (y < 0))
    return 35 <= crossings <= 45  # 1 kHz: 40 zero crossings per 20 ms


async def test_an_unanswered_call_leaves_a_message_until_the_caller_hangs_up(
        engine: Engine, store: MemoryStore, office: tuple[Phone, Phone]) -> None:
    a, b = office
    dialog = await unanswered(a, b)
    await wait_for_beep(a)
    await asyncio.sleep(0.5)  # the beep ends
    assert dialog.remote_media is not None
    speak(a, dialog.remote_media, 75)  # 1.5 s
    await asyncio.sleep(0.3)
    assert (await a.bye(dialog)).status_code == 200
    record = await record_of(store)
    assert record.disposition is Disposition.MISSED and record.answered_by == "voicemail"
    assert record.ended_by == "voicemail"
    (message,) = store.voicemails.values()
    assert message["state"] == "new"
    assert 1.2 <= float(message["duration"]) <= 2.0  # type: ignore[arg-type]
    with wave.open(str(message["path"])) as audio:
        assert (audio.getframerate(), audio.getsampwidth()) == (8000, 2)
        assert audio.getnframes() >= 8000 * 1.2


async def test_hash_ends_the_message_and_the_engine_releases_the_caller(
        engine: Engine, store: MemoryStore, office: tuple[Phone, Phone]) -> None:
    a, b = office
    dialog = await unanswered(a, b)
    await wait_for_beep(a)
    await asyncio.sleep(0.5)
    assert dialog.remote_media is not None
    speak(a, dialog.remote_media, 50)
    await asyncio.sleep(0.2)
    a.send(a.in_dialog(dialog, "INFO", body=b"Signal=#\r\nDuration=160\r\n",
                       content_type="application/dtmf-relay"))
    assert (await a.expect_response("INFO")).status_code == 200
    bye = await a.expect_request("BYE", timeout=3)  # committed, then released
    a.reply(bye, 200)
    (message,) = store.voicemails.values()
    assert message["state"] == "new"


async def test_the_maximum_length_cuts_the_message_and_releases_the_caller(
        engine: Engine, store: MemoryStore, office: tuple[Phone, Phone]) -> None:
    a, b = office
    dialog = await unanswered(a, b)
    await wait_for_beep(a)
    await asyncio.sleep(0.5)
    assert dialog.remote_media is not None
    loop = asyncio.get_running_loop()
    started = loop.time()
    talking = asyncio.ensure_future(talk(a, dialog.remote_media, seconds=5.0))
    try:
        a.reply(await a.expect_request("BYE", timeout=6), 200)  # the 3 s maximum
    finally:
        talking.cancel()
    assert 2.5 <= loop.time() - started <= 4.0
    (message,) = store.voicemails.values()
    assert message["state"] == "new"


async def test_a_hang_up_right_after_the_beep_keeps_no_message(
        engine: Engine, store: MemoryStore, office: tuple[Phone, Phone]) -> None:
    a, b = office
    dialog = await unanswered(a, b)
    await wait_for_beep(a)
    await asyncio.sleep(0.5)
    assert (await a.bye(dialog)).status_code == 200
    record = await record_of(store)
    assert record.ended_by == "caller"  # a hang-up, not a message
    assert [m["state"] for m in store.voicemails.values()] == ["dropped"]


async def test_a_full_mailbox_says_so_and_hangs_up(
        engine: Engine, store: MemoryStore, office: tuple[Phone, Phone]) -> None:
    a, _ = office
    dialog = await a.call("203")  # no device, a full box
    ok = await a.expect_response("INVITE", timeout=5)
    assert ok.status_code == 200
    a.confirmed(dialog, ok)
    a.reply(await a.expect_request("BYE", timeout=20), 200)
    assert store.voicemails == {}


async def test_a_caller_who_hangs_up_during_the_greeting_leaves_nothing_and_a_record(
        engine: Engine, store: MemoryStore, office: tuple[Phone, Phone]) -> None:
    a, b = office
    dialog = await unanswered(a, b)
    await asyncio.sleep(0.3)  # the greeting is playing
    assert (await a.bye(dialog)).status_code == 200
    record = await record_of(store)
    assert record.ended_by == "caller" and record.answered_by == "voicemail"
    assert store.voicemails == {}  # no row was even opened
    assert not engine.calls.calls and not engine.relay.legs


async def test_silence_ends_the_message_and_releases_the_caller(
        engine: Engine, store: MemoryStore, office: tuple[Phone, Phone]) -> None:
    a, b = office
    dialog = await unanswered(a, b)
    await wait_for_beep(a)
    await asyncio.sleep(0.3)
    assert dialog.remote_media is not None
    loop = asyncio.get_running_loop()
    speak(a, dialog.remote_media, 25)  # 0.5 s of voice, then nothing
    spoke_at = loop.time()
    a.reply(await a.expect_request("BYE", timeout=6), 200)
    # 1.5 s of silence (the box's setting) after the voice, well before the 3 s maximum.
    assert 1.2 <= loop.time() - spoke_at <= 2.6
    (message,) = store.voicemails.values()
    assert message["state"] == "new"


async def test_star_9_reaches_the_mailbox_without_ringing_the_phone(
        engine: Engine, store: MemoryStore, office: tuple[Phone, Phone]) -> None:
    a, b = office
    dialog = await a.call("*9202")
    ok = await a.expect_response("INVITE", timeout=5)
    assert ok.status_code == 200  # the mailbox answers at once
    a.confirmed(dialog, ok)
    assert await b.quiet(0.3) == []  # 202's phone never rang
    await wait_for_beep(a)
    await asyncio.sleep(0.5)
    assert dialog.remote_media is not None
    speak(a, dialog.remote_media, 60)
    await asyncio.sleep(0.2)
    assert (await a.bye(dialog)).status_code == 200
    (message,) = store.voicemails.values()
    assert message["state"] == "new"
    unknown = await a.call("*9299")
    response = await a.expect_response("INVITE")
    assert response.status_code == 404
    a.ack_failure(unknown, response)
