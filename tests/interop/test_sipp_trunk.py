"""The SIP trunk against SIPp playing the carrier, on its own loopback address (127.0.0.2):
the engine registers with digest, an outgoing call answers the carrier's 407 and connects to a
baresip phone, and the carrier's inbound call to a DID rings the right extension."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.baresip import Baresip
from tests.interop.conftest import EngineFactory, LiveEngine, password
from tests.interop.sipp import SippRun, free_port, run_sipp, start_sipp
from tests.interop.tones import write_tone

pytestmark = pytest.mark.interop

CARRIER = "127.0.0.2"


def _trunk(port: int, *, register: bool) -> str:
    return f"""
from pbxweb.accounts.models import Extension
from softphone.models import Trunk, TrunkDid
trunk = Trunk.objects.create(name="carrier", host="{CARRIER}", port={port}, username="trunk1",
                             password="carrier-s3cret", register={register},
                             register_expires=60, outbound_caller_id="+3250111111")
TrunkDid.objects.create(trunk=trunk, number="+3250123456",
                        extension=Extension.objects.get(number="202"))
"""


@pytest.fixture
def background() -> Iterator[list[SippRun | Baresip]]:
    started: list[SippRun | Baresip] = []
    yield started
    for item in started:
        item.stop()


def _engine(engine_factory: EngineFactory, carrier_port: int, register: bool) -> LiveEngine:
    return engine_factory(setup=_trunk(carrier_port, register=register),
                          SIP_DIGEST_ALGORITHMS="MD5", RTP_PORT_FIRST="23400",
                          RTP_PORT_LAST="23499")


def test_the_engine_registers_its_trunk_with_digest(
        engine_factory: EngineFactory, background: list[SippRun | Baresip],
        tmp_path: Path) -> None:
    port = free_port()
    carrier = start_sipp("carrier_registrar", ("127.0.0.1", 5060), rows=["x"], workdir=tmp_path,
                         local_ip=CARRIER, local_port=port, timeout=20)
    background.append(carrier)
    time.sleep(0.3)
    engine = _engine(engine_factory, port, register=True)
    result = carrier.wait()
    assert result.successful == 1 and result.failed == 0, result.output[-2000:]
    deadline = time.monotonic() + 5
    while "trunk carrier: registered for 60 s" not in engine.log():
        assert time.monotonic() < deadline, engine.log()[-3000:]
        time.sleep(0.1)


def test_an_outgoing_call_goes_out_through_the_carrier(
        engine_factory: EngineFactory, background: list[SippRun | Baresip],
        tmp_path: Path) -> None:
    port = free_port()
    carrier = start_sipp("carrier_uas", ("127.0.0.1", 5060), rows=["x"], workdir=tmp_path,
                         local_ip=CARRIER, local_port=port, timeout=30)
    background.append(carrier)
    engine = _engine(engine_factory, port, register=False)
    phone = Baresip(tmp_path, "201", password("201"), engine.address,
                    audio_source=f"aufile,{write_tone(tmp_path / 'tone.wav', 1000.0)}")
    background.append(phone)
    phone.start()
    assert phone.registered(timeout=10), phone.output()[-3000:]
    host, engine_port = engine.address
    phone.command("dial", f"sip:050123499@{host}:{engine_port}")
    phone.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(1)
    phone.command("hangup")
    phone.wait_event("CALL_CLOSED", timeout=10)
    result = carrier.wait()
    assert result.successful == 1 and result.failed == 0, result.output[-2000:]
    rows = engine.call_records()
    assert rows, engine.log()[-3000:]
    row = rows[-1]
    assert (row["direction"], row["callee_number"], row["disposition"]) == (
        "outbound", "+3250123499", "answered"), row


def test_an_inbound_did_call_from_the_carrier_rings_its_extension(
        engine_factory: EngineFactory, background: list[SippRun | Baresip],
        tmp_path: Path) -> None:
    engine = _engine(engine_factory, free_port(), register=False)
    phone = Baresip(tmp_path, "202", password("202"), engine.address, answermode="auto",
                    audio_source=f"aufile,{write_tone(tmp_path / 'tone.wav', 1000.0)}")
    background.append(phone)
    phone.start()
    assert phone.registered(timeout=10), phone.output()[-3000:]
    result = run_sipp("carrier_did", engine.address, rows=["3250123456"], workdir=tmp_path,
                      local_ip=CARRIER, timeout=20)
    assert result.successful == 1 and result.failed == 0, \
        result.output[-2000:] + engine.log()[-3000:]
    phone.wait_event("CALL_CLOSED", timeout=10)
    rows = engine.call_records()
    assert rows and rows[-1]["direction"] == "inbound", rows
    assert rows[-1]["callee_extension"] == "202"
    assert rows[-1]["caller_number"] == "+3250987654"
    assert rows[-1]["caller_name"] == "Caller outside"
