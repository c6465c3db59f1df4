"""SIPp 3.6 registers with the engine process: digest over UDP and TCP, wrong passwords,
and registrations surviving a restart (read back from the database and over SIP)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import EngineFactory, LiveEngine, password
from tests.interop.sipp import auth_row, free_port, response_codes, run_sipp
from tests.softphone.pbx.sipclient import Dialogue, SipTestClient, contact_expiries

pytestmark = pytest.mark.interop

# SIPp 3.6.1 answers only the *first* WWW-Authenticate header and only with MD5 or AKAv1-MD5:
# given SHA-256 first it stops with "createAuthHeader: authentication must use MD5 or
# AKAv1-MD5" and exit status 255 (test_sipp_cannot_answer_a_sha256_first_challenge keeps that
# fact checked). It is one reason the default offers MD5 only; the tests below run SIPp
# against the default, and once with MD5 first and SHA-256 second.
MD5_FIRST = {"SIP_DIGEST_ALGORITHMS": "MD5,SHA-256"}
SHA256_FIRST = {"SIP_DIGEST_ALGORITHMS": "SHA-256,MD5"}
DOMAIN = "127.0.0.1"


def register(engine: LiveEngine, extension: str, workdir: Path, *, transport: str = "u1",
             secret: str | None = None, scenario: str = "register_auth",
             ) -> tuple[int, Any, list[int]]:
    """One SIPp registration; (SIPp's local port, result, status codes SIPp received)."""
    port = free_port()
    trace = workdir / f"{scenario}-{extension}-{transport}.log"
    result = run_sipp(scenario, engine.address,
                      rows=[auth_row(extension, DOMAIN, secret or password(extension))],
                      workdir=workdir, transport=transport, timeout=10, local_port=port,
                      extra=["-trace_msg", "-message_file", str(trace)])
    received = "\n".join(block for block in trace.read_text().split("-" * 20)
                         if "message received" in block) if trace.exists() else ""
    return port, result, response_codes(received)


def test_sipp_cannot_answer_a_sha256_first_challenge(engine_factory: EngineFactory,
                                                     tmp_path: Path) -> None:
    """Why the default offers MD5 only (if SIPp learns SHA-256, reconsider)."""
    live_engine = engine_factory(**SHA256_FIRST)
    _, result, codes = register(live_engine, "201", tmp_path)
    assert codes == [401]
    assert result.returncode == 255, result.output[-2000:]
    assert "must use MD5" in result.output
    assert live_engine.registrations() == []


@pytest.mark.parametrize(("transport", "name"), [("u1", "UDP"), ("t1", "TCP")])
def test_sipp_registers_with_digest(live_engine: LiveEngine, tmp_path: Path,
                                    transport: str, name: str) -> None:
    engine = live_engine  # the default settings: MD5 challenges
    port, result, codes = register(engine, "201", tmp_path, transport=transport)

    assert result.returncode == 0, result.output[-3000:]
    assert (result.successful, result.failed) == (1, 0)
    assert codes == [401, 200]
    rows = engine.wait_for_registrations(lambda rows: len(rows) == 1)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["aor"] == "201"
    assert row["contact"] == f"sip:201@127.0.0.1:{port};transport={name}"
    assert row["user_agent"] == "SIPp register"
    assert row["source"].lower().startswith(f"{name.lower()}:127.0.0.1:")
    assert row["cseq"] == 2
    assert 590 <= row["expires_at"] - time.time() <= 601
    assert re.search(r"REGISTER .* -> 200 \(201: 1 binding", engine.log())


def test_a_wrong_password_never_gets_200(engine_factory: EngineFactory,
                                         tmp_path: Path) -> None:
    engine = engine_factory(**MD5_FIRST)
    _, result, codes = register(engine, "201", tmp_path, secret="not-the-password",
                                scenario="register_wrong_password")
    assert result.returncode == 0, result.output[-3000:]
    assert (result.successful, result.failed) == (1, 0)
    assert codes == [401, 403]

    # A correct registration afterwards shows the write-behind has run: 201 is still absent.
    _, result, codes = register(engine, "202", tmp_path)
    assert codes == [401, 200], result.output[-3000:]
    rows = engine.wait_for_registrations(lambda rows: len(rows) >= 1)
    assert [row["aor"] for row in rows] == ["202"]


async def query_bindings(engine: LiveEngine, extension: str) -> dict[str, int]:
    """A REGISTER without Contact (§10.2.3): the 200 lists the AoR's current bindings."""
    async with SipTestClient("udp", engine.address) as client:
        response = await client.register_with_auth(
            Dialogue(extension), password(extension), algorithm="SHA-256",  # offered second
            contact="", expires=None)
    assert response.status_code == 200, response
    return contact_expiries(response)


def test_registrations_survive_a_restart(engine_factory: EngineFactory,
                                         tmp_path: Path) -> None:
    engine = engine_factory(**MD5_FIRST)
    port, result, codes = register(engine, "203", tmp_path)
    assert codes == [401, 200], result.output[-3000:]
    contact = f"sip:203@127.0.0.1:{port};transport=UDP"
    # Straight to SIGTERM: the write-behind may not have run yet, the stop must write it.
    engine.restart()  # asserts exit status 0

    assert [row["contact"] for row in engine.registrations()] == [contact]
    assert "1 registrations restored" in engine.log().split("--- start #2")[1]
    bindings = asyncio.run(query_bindings(engine, "203"))
    assert list(bindings) == [contact]
    assert 580 <= bindings[contact] <= 600
    # An extension that never registered has none, also after the restart.
    assert asyncio.run(query_bindings(engine, "204")) == {}
