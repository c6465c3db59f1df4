"""baresip 1.0.0 registers with the engine process, refreshes and unregisters on quit."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.baresip import Baresip
from tests.interop.conftest import EngineFactory, password

pytestmark = pytest.mark.interop

EXPIRES = 5  # the engine's SIP_MIN_EXPIRES lowered to this, and baresip's regint
# baresip 1.0.0 (libre) gives up on a 401 that carries any challenge with an algorithm other
# than MD5 ("Register: Function not implemented", ENOSYS), wherever it stands among the
# WWW-Authenticate headers, instead of answering the MD5 one (RFC 8760 §2.4). Measured: the
# default SHA-256,MD5 and also MD5,SHA-256 both fail; only an MD5-only engine registers it
# (test_baresip_gives_up_on_a_challenge_list_with_sha256 keeps that fact checked).
MD5_ONLY = "MD5"


@pytest.fixture
def phones() -> Iterator[list[Baresip]]:
    started: list[Baresip] = []
    yield started
    for phone in started:
        phone.stop()  # quits, or kills after a timeout


def test_baresip_registers_refreshes_and_unregisters(
        engine_factory: EngineFactory, phones: list[Baresip], tmp_path: Path) -> None:
    engine = engine_factory(SIP_MIN_EXPIRES=str(EXPIRES), SIP_DEFAULT_EXPIRES="60",
                            SIP_DIGEST_ALGORITHMS=MD5_ONLY)
    phone = Baresip(tmp_path, "204", password("204"), engine.address, regint=EXPIRES)
    phones.append(phone)
    phone.start()
    assert phone.registered(timeout=10), phone.output()[-3000:]
    rows = engine.wait_for_registrations(lambda rows: len(rows) == 1)
    assert [row["aor"] for row in rows] == ["204"], rows
    first = rows[0]
    assert first["user_agent"].startswith("baresip")
    assert f"@127.0.0.1:{phone.sip_port}" in first["contact"]
    assert first["contact"].startswith("sip:204")
    assert first["expires_at"] - time.time() <= EXPIRES + 1

    # The refresh: same Call-ID, higher CSeq, a later expiry, before the binding lapses.
    refreshed = engine.wait_for_registrations(
        lambda rows: bool(rows) and rows[0]["cseq"] > first["cseq"], timeout=EXPIRES + 3)
    assert len(refreshed) == 1, refreshed
    assert refreshed[0]["call_id"] == first["call_id"]
    assert refreshed[0]["cseq"] > first["cseq"], (first, engine.log()[-3000:])
    assert refreshed[0]["expires_at"] > first["expires_at"]
    assert phone.registered(timeout=1)

    # quit: REGISTER with expires 0, the binding is gone.
    phone.stop()
    assert phone.process is not None and phone.process.returncode == 0, phone.output()[-2000:]
    rows = engine.wait_for_registrations(lambda rows: rows == [], timeout=3)
    assert rows == [], engine.log()[-3000:]
    assert re.search(r"REGISTER .* -> 200 \(204: 0 binding", engine.log()), engine.log()[-3000:]


@pytest.mark.parametrize("algorithms", ["SHA-256,MD5", "MD5,SHA-256"])
def test_baresip_gives_up_on_a_challenge_list_with_sha256(
        engine_factory: EngineFactory, phones: list[Baresip], tmp_path: Path,
        algorithms: str) -> None:
    """Why the test above offers MD5 only (drop that once baresip/libre learn SHA-256)."""
    live_engine = engine_factory(SIP_DIGEST_ALGORITHMS=algorithms)
    phone = Baresip(tmp_path, "205", password("205"), live_engine.address)
    phones.append(phone)
    phone.start()
    deadline = time.monotonic() + 5
    while "Function not implemented" not in phone.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Register: Function not implemented" in phone.output(), phone.output()[-2000:]
    assert "[stateless] -> 401" in live_engine.log()
    assert not phone.registered(timeout=0.5)
    assert live_engine.registrations() == []
