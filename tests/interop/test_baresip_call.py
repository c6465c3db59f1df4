"""Two baresip phones call each other through the engine; tones cross the media relay.

Phone 201 sends a 1 kHz tone, phone 202 a 1.5 kHz tone. Each phone records what it heard
(baresip's sndfile module); each recording must carry the *other* phone's tone at a sane level
and not its own — through the engine, which anchors both legs' RTP (the SDP the phones see
names the engine's relay ports, checked in the engine's log of the call).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.baresip import Baresip
from tests.interop.conftest import EngineFactory, LiveEngine, password
from tests.interop.sipp import free_port, register_contact, start_sipp
from tests.interop.tones import tone_blocks, write_tone

pytestmark = pytest.mark.interop

TALK_SECONDS = 3.0


@pytest.fixture
def phones() -> Iterator[list[Baresip]]:
    started: list[Baresip] = []
    yield started
    for phone in started:
        phone.stop()


def _phone(tmp_path: Path, engine: LiveEngine, extension: str, tone: float,
           answermode: str = "manual") -> Baresip:
    source = write_tone(tmp_path / f"tone-{extension}.wav", tone)
    return Baresip(tmp_path, extension, password(extension), engine.address,
                   audio_source=f"aufile,{source}", record=True, answermode=answermode)


def _talk(engine_factory: EngineFactory, phones: list[Baresip], tmp_path: Path,
          hang_up_from_callee: bool) -> tuple[Baresip, Baresip, LiveEngine]:
    engine = engine_factory(SIP_DIGEST_ALGORITHMS="MD5", RTP_PORT_FIRST="23000",
                            RTP_PORT_LAST="23099")
    caller = _phone(tmp_path, engine, "201", 1000.0)
    callee = _phone(tmp_path, engine, "202", 1500.0, answermode="auto")
    phones.extend([caller, callee])
    for phone in (caller, callee):
        phone.start()
        assert phone.registered(timeout=10), phone.output()[-3000:]
    host, port = engine.address
    caller.command("dial", f"sip:202@{host}:{port}")
    callee.wait_event("CALL_ESTABLISHED", timeout=10)
    caller.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(TALK_SECONDS)
    (callee if hang_up_from_callee else caller).command("hangup")
    caller.wait_event("CALL_CLOSED", timeout=10)
    callee.wait_event("CALL_CLOSED", timeout=10)
    return caller, callee, engine


def _assert_heard(phone: Baresip, expected: float, own: float) -> None:
    hits, total, loudest = tone_blocks(phone.heard(), expected)
    own_hits, _, _ = tone_blocks(phone.heard(), own)
    # At least 2 s of the 3 s call carry the other phone's tone, at about the -10 dBFS sent
    # (G.711 keeps the level within a dB or two); the phone's own tone is never heard back.
    assert hits >= 20, (phone.extension, hits, total, loudest)
    assert -16 <= loudest <= -6, loudest
    assert own_hits == 0, (phone.extension, own_hits)


@pytest.mark.parametrize("hang_up_from_callee", [False, True], ids=["caller-hangs-up",
                                                                     "callee-hangs-up"])
def test_two_baresip_phones_hear_each_others_tone_through_the_relay(
        engine_factory: EngineFactory, phones: list[Baresip], tmp_path: Path,
        hang_up_from_callee: bool) -> None:
    caller, callee, engine = _talk(engine_factory, phones, tmp_path, hang_up_from_callee)
    _assert_heard(callee, 1000.0, 1500.0)
    _assert_heard(caller, 1500.0, 1000.0)
    log = engine.log()
    assert "answered by baresip" in log, log[-3000:]
    ended_by = "callee" if hang_up_from_callee else "caller"
    assert "-> 200" in log
    rows = engine.call_records()
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["caller_extension"], row["callee_extension"]) == ("201", "202")
    assert row["disposition"] == "answered" and row["ended_by"] == ended_by
    assert row["duration_seconds"] >= TALK_SECONDS - 0.5


def _registered(phone: Baresip) -> Baresip:
    phone.start()
    assert phone.registered(timeout=10), phone.output()[-3000:]
    return phone


def _tone_phone(tmp_path: Path, engine: LiveEngine, extension: str, tone: float,
                answermode: str = "manual") -> Baresip:
    source = write_tone(tmp_path / f"tone-{extension}-{tone:.0f}.wav", tone)
    return Baresip(tmp_path, extension, password(extension), engine.address,
                   audio_source=f"aufile,{source}", answermode=answermode)


def test_both_devices_ring_one_answers_the_other_stops_answered_elsewhere(
        engine_factory: EngineFactory, phones: list[Baresip], tmp_path: Path) -> None:
    # 202 has a baresip desk phone and a second device played by SIPp, which checks the
    # CANCEL's Reason header (baresip 1.0 reports a CANCEL only as "connection reset").
    engine = engine_factory(SIP_DIGEST_ALGORITHMS="MD5", RTP_PORT_FIRST="23100",
                            RTP_PORT_LAST="23199")
    caller = _registered(_tone_phone(tmp_path, engine, "201", 1000.0))
    desk = _registered(_tone_phone(tmp_path, engine, "202", 1500.0))
    phones.extend([caller, desk])
    device_port = free_port()
    device = start_sipp("device_cancelled", engine.address, rows=["x"], workdir=tmp_path,
                        local_port=device_port, timeout=20, extra=["-trace_logs"])
    try:
        register_contact(engine.address, "202", password("202"), device_port)
        host, port = engine.address
        caller.command("dial", f"sip:202@{host}:{port}")
        desk.wait_event("CALL_INCOMING", timeout=10)
        time.sleep(0.3)  # both ring
        desk.command("accept")
        desk.wait_event("CALL_ESTABLISHED", timeout=10)
        caller.wait_event("CALL_ESTABLISHED", timeout=10)
        result = device.wait()
    finally:
        device.stop()
    assert result.successful == 1 and result.failed == 0, result.output[-2000:]
    caller.command("hangup")
    desk.wait_event("CALL_CLOSED", timeout=10)
    rows = engine.call_records()
    assert rows[-1]["disposition"] == "answered", rows
    assert rows[-1]["answered_device"].startswith("baresip"), rows


def test_busy_cancelled_and_unanswered_calls_each_get_their_record(
        engine_factory: EngineFactory, phones: list[Baresip], tmp_path: Path) -> None:
    engine = engine_factory(
        setup="from pbxweb.accounts.models import Extension\n"
              "Extension.objects.filter(number='202').update(ring_seconds=5)\n",
        SIP_DIGEST_ALGORITHMS="MD5", RTP_PORT_FIRST="23100", RTP_PORT_LAST="23199",
        VOICEMAIL_ENABLED="0")  # the answers without a mailbox; voicemail has its own tests
    caller = _registered(_tone_phone(tmp_path, engine, "201", 1000.0))
    callee = _registered(_tone_phone(tmp_path, engine, "202", 1500.0))
    phones.extend([caller, callee])
    host, port = engine.address
    # 1. Busy: the callee rejects the ringing call (baresip answers 486).
    caller.command("dial", f"sip:202@{host}:{port}")
    callee.wait_event("CALL_INCOMING", timeout=10)
    callee.command("hangup")
    caller.wait_event("CALL_CLOSED", timeout=10)
    # 2. Cancelled: the caller gives up while it rings.
    caller.command("dial", f"sip:202@{host}:{port}")
    callee.wait_event("CALL_INCOMING", timeout=10)
    time.sleep(0.5)
    caller.command("hangup")
    callee.wait_event("CALL_CLOSED", timeout=10)
    caller.wait_event("CALL_CLOSED", timeout=10)
    # 3. No answer within 202's ring time (5 s): the caller gets 480, the phone stops.
    caller.command("dial", f"sip:202@{host}:{port}")
    callee.wait_event("CALL_INCOMING", timeout=10)
    callee.wait_event("CALL_CLOSED", timeout=10)
    caller.wait_event("CALL_CLOSED", timeout=10)
    rows = engine.call_records(count=3)
    assert [(r["disposition"], r["status_code"]) for r in rows] == [
        ("busy", 486), ("cancelled", 487), ("missed", 480)], rows
    assert rows[1]["ended_by"] == "caller" and rows[2]["ended_by"] == "timeout"
