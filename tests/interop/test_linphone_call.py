"""Hold and transfers from a real phone: Linphone (linphonec 5.1) pauses, transfers blind and
attended; baresip phones are the other parties and record what they hear.

Everything runs in one loopback-only network namespace (Linphone probes a public address to
learn its own, see linphone.py); the test's own sockets (baresip's control port) join it with
``inside_netns``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.baresip import Baresip
from tests.interop.conftest import EngineFactory, LiveEngine, inside_netns, password
from tests.interop.linphone import Linphone
from tests.interop.tones import tone_blocks, tone_presence, write_tone

pytestmark = pytest.mark.interop


@pytest.fixture
def netns(loopback_netns: list[str]) -> Iterator[list[str]]:
    with inside_netns(loopback_netns):
        yield loopback_netns


@pytest.fixture
def peers() -> Iterator[list[Baresip | Linphone]]:
    started: list[Baresip | Linphone] = []
    yield started
    for peer in started:
        peer.stop()


def _engine(engine_factory: EngineFactory, netns: list[str]) -> LiveEngine:
    return engine_factory(prefix=netns, SIP_DIGEST_ALGORITHMS="MD5", RTP_PORT_FIRST="23200",
                          RTP_PORT_LAST="23299", SIP_TRANSFER_RING_SECONDS="3")


def _baresip(tmp_path: Path, engine: LiveEngine, netns: list[str], extension: str,
             tone: float, answermode: str = "auto") -> Baresip:
    source = write_tone(tmp_path / f"tone-{extension}.wav", tone)
    phone = Baresip(tmp_path, extension, password(extension), engine.address,
                    audio_source=f"aufile,{source}", record=True, answermode=answermode,
                    prefix=netns)
    phone.start()
    assert phone.registered(timeout=10), phone.output()[-3000:]
    return phone


def _linphone(tmp_path: Path, engine: LiveEngine, netns: list[str]) -> Linphone:
    phone = Linphone(tmp_path, "201", password("201"), engine.address, prefix=netns)
    phone.start()
    assert phone.registered(timeout=10), phone.output()[-4000:]
    phone.send("soundcard use files")
    return phone


def _wait_for(predicate: object, timeout: float, what: str, log: object) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}; log:\n{log()[-4000:]}")  # type: ignore[operator]


def test_hold_from_linphone_plays_music_on_hold_to_the_other_party_then_resumes(
        engine_factory: EngineFactory, netns: list[str], peers: list[Baresip | Linphone],
        tmp_path: Path) -> None:
    engine = _engine(engine_factory, netns)
    other = _baresip(tmp_path, engine, netns, "202", 1000.0)
    holder = _linphone(tmp_path, engine, netns)
    peers.extend([other, holder])
    holder.send(f"call sip:202@{engine.address[0]}")
    other.wait_event("CALL_ESTABLISHED", timeout=10)
    holder.send(f"play {write_tone(tmp_path / 'tone-201.wav', 700.0)}")
    time.sleep(1.5)
    holder.send("pause")
    _wait_for(lambda: " holds" in engine.log(), 5, "no hold re-INVITE", engine.log)
    time.sleep(2.5)
    holder.send("resume")
    _wait_for(lambda: " resumes" in engine.log(), 5, "no resume re-INVITE", engine.log)
    time.sleep(2.0)
    other.command("hangup")
    other.wait_event("CALL_CLOSED", timeout=10)
    # What baresip heard, block by block: Linphone's 700 Hz tone, then (held) loud audio
    # without that tone — the engine's music on hold — then the tone again (resumed).
    blocks = tone_presence(other.heard(), 700.0)
    runs: list[tuple[str, int]] = []
    for tone, level in blocks:
        kind = "tone" if tone else "music" if level > -35 else "quiet"
        if runs and runs[-1][0] == kind:
            runs[-1] = (kind, runs[-1][1] + 1)
        else:
            runs.append((kind, 1))
    long_runs = [(kind, count) for kind, count in runs if count >= 5]
    assert [kind for kind, _ in long_runs] == ["tone", "music", "tone"], runs
    assert 20 <= long_runs[1][1] <= 32, runs  # about the 2.5 s on hold


def test_blind_transfer_from_linphone_to_a_phone_that_answers(
        engine_factory: EngineFactory, netns: list[str], peers: list[Baresip | Linphone],
        tmp_path: Path) -> None:
    engine = _engine(engine_factory, netns)
    caller = _baresip(tmp_path, engine, netns, "202", 1000.0)
    target = _baresip(tmp_path, engine, netns, "203", 1500.0)
    transferrer = _linphone(tmp_path, engine, netns)
    peers.extend([caller, target, transferrer])
    transferrer.send(f"call sip:202@{engine.address[0]}")
    caller.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(1)
    transferrer.send(f"transfer sip:203@{engine.address[0]}")
    target.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(2.5)
    caller.command("hangup")
    caller.wait_event("CALL_CLOSED", timeout=10)
    target.wait_event("CALL_CLOSED", timeout=10)
    hits, _, _ = tone_blocks(target.heard(), 1000.0)
    assert hits >= 15, hits
    hits, _, _ = tone_blocks(caller.heard(), 1500.0)
    assert hits >= 15, hits
    rows = engine.call_records()
    assert rows and rows[-1]["transfers"] == ["201 -> 203 (blind): answered"], rows


def test_blind_transfer_to_a_phone_that_never_answers_comes_back_to_linphone(
        engine_factory: EngineFactory, netns: list[str], peers: list[Baresip | Linphone],
        tmp_path: Path) -> None:
    engine = _engine(engine_factory, netns)
    caller = _baresip(tmp_path, engine, netns, "202", 1000.0)
    target = _baresip(tmp_path, engine, netns, "203", 1500.0, answermode="manual")
    transferrer = _linphone(tmp_path, engine, netns)
    peers.extend([caller, target, transferrer])
    transferrer.send(f"call sip:202@{engine.address[0]}")
    caller.wait_event("CALL_ESTABLISHED", timeout=10)
    transferrer.send(f"play {write_tone(tmp_path / 'tone-201.wav', 700.0)}")
    time.sleep(1)
    transferrer.send(f"transfer sip:203@{engine.address[0]}")
    target.wait_event("CALL_INCOMING", timeout=10)
    # 3 s of ringing (SIP_TRANSFER_RING_SECONDS), then the call is Linphone's again:
    # Linphone stays on the line until the NOTIFY says how the transfer went.
    _wait_for(lambda: "back with the transferrer" in engine.log()
              or "now with Linphone" in engine.log(), 15, "the call did not come back",
              engine.log)
    target.wait_event("CALL_CLOSED", timeout=5)  # it stopped ringing
    time.sleep(1.5)
    caller.command("hangup")
    caller.wait_event("CALL_CLOSED", timeout=10)
    # The caller heard Linphone, then music while 203 rang, then Linphone again.
    heard = tone_presence(caller.heard(), 700.0)
    assert sum(tone for tone, _ in heard[:8]) >= 5, heard[:10]
    assert sum(tone for tone, _ in heard[-10:]) >= 8, heard[-12:]
    rows = engine.call_records()
    assert rows, engine.log()[-3000:]
    assert rows[-1]["transfers"] == ["201 -> 203 (blind): 480, back to the transferrer"], rows
    assert rows[-1]["disposition"] == "answered"


def test_attended_transfer_from_linphone_joins_the_two_other_phones(
        engine_factory: EngineFactory, netns: list[str], peers: list[Baresip | Linphone],
        tmp_path: Path) -> None:
    engine = _engine(engine_factory, netns)
    caller = _baresip(tmp_path, engine, netns, "202", 1000.0)
    target = _baresip(tmp_path, engine, netns, "203", 1500.0)
    transferrer = _linphone(tmp_path, engine, netns)
    peers.extend([caller, target, transferrer])
    transferrer.send(f"call sip:202@{engine.address[0]}")
    caller.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(1)
    transferrer.send("pause")
    _wait_for(lambda: " holds" in engine.log(), 5, "no hold", engine.log)
    transferrer.send(f"call sip:203@{engine.address[0]}")
    target.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(1)
    mark = len(transferrer.output())
    transferrer.send("calls")
    time.sleep(0.5)
    ids = re.findall(r"^\s*(\d+)\s*\|\s*sip:(20[23])@", transferrer.output()[mark:], re.M)
    by_number = {number: call_id for call_id, number in ids}
    assert set(by_number) == {"202", "203"}, transferrer.output()[mark:]
    transferrer.send(f"transfer {by_number['202']} --to-call {by_number['203']}")
    _wait_for(lambda: "attended transfer by 201" in engine.log(), 10,
              "no attended transfer", engine.log)
    time.sleep(2.5)
    caller.command("hangup")
    caller.wait_event("CALL_CLOSED", timeout=10)
    target.wait_event("CALL_CLOSED", timeout=10)
    assert tone_blocks(target.heard(), 1000.0)[0] >= 15
    assert tone_blocks(caller.heard(), 1500.0)[0] >= 15
    rows = engine.call_records(count=2)
    assert any(r["transfers"] == ["201 -> 203 (attended): answered"] for r in rows), rows
