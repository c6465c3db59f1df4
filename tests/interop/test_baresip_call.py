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
