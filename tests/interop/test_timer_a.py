"""The engine's INVITE client transaction against a late SIPp UAS: Timer A retransmissions.

The engine runs in this process (MemoryStore) so that its sends can be timed; SIPp
(scenarios/late_uas.xml) answers 100/180/486 only after 2.2 s. RFC 3261 §17.1.1.2: the INVITE
goes out at 0, T1 and 3·T1 (Timer A doubles: 0.5 s, then 1 s with T1 = 0.5 s) until the 100
moves the transaction to Proceeding; the 486 is ACKed by the transaction (§17.1.1.3) and is
what the caller's future resolves with.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from softphone.pbx.bans import BanPolicy
from softphone.pbx.config import EngineConfig
from softphone.pbx.engine import Engine
from softphone.pbx.storage import MemoryStore
from softphone.sip.message import SipRequest
from softphone.sip.parser import parse_message
from softphone.sip.timers import DEFAULT_TIMERS
from softphone.sip.transport import Peer, TransportKind
from tests.interop.sipp import SCENARIOS, free_port

pytestmark = pytest.mark.interop

T1 = DEFAULT_TIMERS.t1
TOLERANCE = 0.15
CONFIG = EngineConfig(host="127.0.0.1", udp_port=0, tcp_port=None, tls_port=None,
                      realm="pbxweb", nonce_secret=b"interop-timer-a-secret-0123456789",
                      bans=BanPolicy(max_failures=1000, window=60, ban_seconds=1))


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = Engine(CONFIG, MemoryStore())
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


def udp_port_bound(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port/udp (read-only: no bind race with SIPp)."""
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/udp") as table:
        return any(line.split()[1] == wanted for line in table.readlines()[1:])


async def start_late_uas(workdir: Path) -> tuple[subprocess.Popen[str], int, Path]:
    sipp = shutil.which("sipp")
    if sipp is None:
        raise RuntimeError("sipp is missing: apt-get install sip-tester")
    port = free_port()
    trace = workdir / "late_uas_messages.log"
    process = subprocess.Popen(
        [sipp, "-sf", str(SCENARIOS / "late_uas.xml"), "-i", "127.0.0.1", "-p", str(port),
         "-cp", str(free_port()), "-t", "u1", "-m", "1", "-nostdin", "-timeout", "15s",
         "-timeout_error", "-trace_msg", "-message_file", str(trace)],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for _ in range(100):
        if udp_port_bound(port):
            return process, port, trace
        if process.poll() is not None:
            break
        await asyncio.sleep(0.05)
    process.kill()
    raise RuntimeError(f"SIPp UAS did not start: {process.communicate(timeout=5)[0]}")


def invite(engine: Engine, port: int) -> SipRequest:
    host, own = engine.addresses[TransportKind.UDP]
    text = (f"INVITE sip:sipp@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: {engine.via_for(TransportKind.UDP)}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:201@127.0.0.1>;tag={secrets.token_hex(4)}\r\n"
            f"To: <sip:sipp@127.0.0.1:{port}>\r\n"
            f"Call-ID: timer-a-{secrets.token_hex(6)}\r\n"
            "CSeq: 1 INVITE\r\n"
            f"Contact: <sip:201@{host}:{own}>\r\n"
            "Content-Length: 0\r\n\r\n")
    request = parse_message(text.encode())
    assert isinstance(request, SipRequest)
    return request


async def test_invite_client_transaction_retransmits_to_a_late_peer(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    sent: list[tuple[float, bytes]] = []
    send = engine.transports.send

    def recording_send(data: bytes, peer: Peer) -> bool:
        sent.append((loop.time(), data))
        return send(data, peer)

    monkeypatch.setattr(engine.transports, "send", recording_send)
    sipp, port, trace = await start_late_uas(tmp_path)
    try:
        request = invite(engine, port)
        response = await asyncio.wait_for(
            engine.send_request(request, Peer(TransportKind.UDP, "127.0.0.1", port)).final, 10)
        output, _ = await asyncio.to_thread(sipp.communicate, timeout=10)
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait(timeout=5)

    # The future resolves with SIPp's final response.
    assert response is not None, trace.read_text()[-3000:] if trace.exists() else output
    assert (response.status_code, response.call_id) == (486, request.call_id)
    # SIPp got its ACK (else it would time out and exit 1).
    assert sipp.returncode == 0, output[-3000:]

    invites = [at for at, data in sent if data.startswith(b"INVITE ")]
    acks = [at for at, data in sent if data.startswith(b"ACK ")]
    assert len(invites) == 3, [data.split(b"\r\n")[0] for _, data in sent]
    intervals = [later - earlier for earlier, later in itertools.pairwise(invites)]
    assert intervals[0] == pytest.approx(T1, abs=TOLERANCE), intervals
    assert intervals[1] == pytest.approx(2 * T1, abs=TOLERANCE), intervals
    # Every retransmission is the same message (same branch), byte for byte.
    assert len({data for _, data in sent if data.startswith(b"INVITE ")}) == 1
    assert len(acks) >= 1 and acks[0] > invites[-1]

    # SIPp's side: it received the original and both retransmissions of one transaction.
    received = [block for block in trace.read_text().split("-" * 20)
                if "message received" in block]
    received_invites = [block for block in received if "INVITE sip:" in block]
    assert len(received_invites) == 3, trace.read_text()[-3000:]
    branches = {re.search(r"branch=([^;\s]+)", block)[1]  # type: ignore[index]
                for block in received_invites}
    assert len(branches) == 1
    assert any("ACK sip:" in block for block in received)
