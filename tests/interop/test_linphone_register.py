"""Linphone (linphonec 5.1) registers with the engine process, in a loopback-only network
namespace shared by both (see tests/interop/linphone.py for the quirks)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.conftest import EngineFactory, password
from tests.interop.linphone import Linphone

pytestmark = pytest.mark.interop


@pytest.fixture
def phones() -> Iterator[list[Linphone]]:
    started: list[Linphone] = []
    yield started
    for phone in started:
        phone.stop()  # quits, or kills after a timeout


def test_linphone_registers_with_sha256_digest(
        engine_factory: EngineFactory, loopback_netns: list[str], phones: list[Linphone],
        tmp_path: Path) -> None:
    # SHA-256 offered before MD5 (RFC 8760 order, not the default): Linphone copes and picks
    # SHA-256, so installations of Linphone-only clients may offer it.
    engine = engine_factory(prefix=loopback_netns, SIP_DIGEST_ALGORITHMS="SHA-256,MD5")
    phone = Linphone(tmp_path, "205", password("205"), engine.address, prefix=loopback_netns)
    phones.append(phone)
    phone.start()
    assert phone.registered(timeout=10), phone.output()[-4000:]

    rows = engine.wait_for_registrations(lambda rows: len(rows) == 1)
    assert len(rows) == 1, (rows, engine.log())
    row = rows[0]
    assert row["aor"] == "205"
    assert row["contact"] == f"sip:205@127.0.0.1:{phone.sip_port};transport=udp"
    assert row["user_agent"].startswith("Linphonec/")
    assert re.search(r"REGISTER .* -> 200 \(205: 1 binding", engine.log())
    authorization = re.search(r"^Authorization:.*$", phone.output(), re.MULTILINE)
    assert authorization is not None, phone.output()[-4000:]
    assert "algorithm=SHA-256" in authorization[0]

    # linphonec 5.1 sends nothing on "quit" (measured: no REGISTER after it), so the binding
    # is removed with its "unregister" command (REGISTER Expires 0).
    phone.send("unregister")
    assert engine.wait_for_registrations(lambda rows: rows == [], timeout=3) == [], \
        engine.log()[-3000:]
    assert re.search(r"REGISTER .* -> 200 \(205: 0 binding", engine.log())
    assert re.search(r"^Expires: 0", phone.output(), re.MULTILINE) or \
        re.search(r";expires=0", phone.output()), phone.output()[-3000:]
    phone.stop()
    assert phone.process is not None and phone.process.returncode == 0


def test_linphone_is_refused_with_a_wrong_password(
        engine_factory: EngineFactory, loopback_netns: list[str], phones: list[Linphone],
        tmp_path: Path) -> None:
    engine = engine_factory(prefix=loopback_netns)
    phone = Linphone(tmp_path, "205", "wrong", engine.address, prefix=loopback_netns)
    phones.append(phone)
    phone.start()
    assert not phone.registered(timeout=3)
    assert re.search(r"REGISTER .* -> 403", engine.log()), engine.log()[-3000:]
    assert "-> 200 (205" not in engine.log()
    assert engine.registrations() == []
