"""Hostile and broken input to a running engine: sizes, huge numbers, missing headers, junk,
stream edge cases, connection floods, memory under a junk burst, and mutated torture messages.

RFC choices asserted here:

* a message over ``max_message_bytes`` is answered 513 Message Too Large (§21.5.9) over UDP
  (the datagram is whole, its Via is there to answer); on TCP a header block over the limit is
  513 and a body over it 413 (§21.4.11), and the stream is closed: it cannot be resynchronised
  without reading the octets we refused (§18.3);
* Content-Length 2^64 or -1: 400; on TCP 400 then close (the length cannot frame anything);
* CSeq 2^64: 400 (CSeq is a 32-bit number, §8.1.1.5); Expires 2^64: a delta-seconds
  overflow is "a very long time" (§20.19), so the registrar caps it at its maximum (3600);
* a request without Via is dropped: there is nowhere to send an answer (§18.2.2); without
  From, To, Call-ID or CSeq it is 400 (§8.1.1);
* binary junk is dropped without an answer; on TCP the connection is closed (RFC 3261 §18.3);
* CRLFCRLF on a stream is a keep-alive ping answered with a CRLF pong (RFC 5626 §3.5.1);
* over the TCP connection cap new connections are closed at once; idle connections that send
  no message are closed after ``tcp_first_message_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import resource
import secrets
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from softphone.pbx.bans import BanPolicy
from softphone.pbx.config import EngineConfig
from softphone.pbx.engine import Engine
from softphone.pbx.storage import MemoryStore
from tests.softphone.pbx.conftest import config_with, credentials, tcp_address, udp_address
from tests.softphone.pbx.sipclient import Dialogue, SipTestClient, contact_expiries

TORTURE = Path(__file__).resolve().parents[3] / ".." / "shared" / "testdata" / "sip-torture"
TORTURE_FILES = sorted(p for p in TORTURE.rglob("*") if p.suffix in (".dat", ".sip"))
SAMPLES = [p.read_bytes() for p in TORTURE_FILES]
NO_BANS = BanPolicy(max_failures=10**9, window=60, ban_seconds=600)


@pytest.fixture
def engine_config() -> EngineConfig:
    """No bans here: mutated REGISTERs with broken credentials from 127.0.0.1 would otherwise
    ban the test's own address (bans are tested in test_bans.py)."""
    return config_with(bans=NO_BANS)


async def start_engine(**changes: object) -> Engine:
    store = MemoryStore([credentials("201"), credentials("202")])
    engine = Engine(config_with(bans=NO_BANS, **changes), store)
    await engine.start()
    return engine


def status_of(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


async def alive(engine: Engine, kind: str = "udp") -> None:
    address = udp_address(engine) if kind == "udp" else tcp_address(engine)
    async with SipTestClient(kind, address) as client:
        response = await client.request(client.simple("OPTIONS", "sip:127.0.0.1"))
        assert response.status_code == 200


async def answer(client: SipTestClient, message: bytes) -> int | None:
    """The status of the answer to ``message``; None when none comes within 0.3 s."""
    client.send(message)
    try:
        return status_of(await client.receive_raw(0.3))
    except TimeoutError:
        return None


def without(message: bytes, header: str) -> bytes:
    return b"\r\n".join(line for line in message.split(b"\r\n")
                        if not line.lower().startswith(header.lower().encode() + b":"))


# --- sizes and numbers ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["udp", "tcp"])
async def test_oversized_messages(kind: str) -> None:
    engine = await start_engine(max_message_bytes=2000)
    try:
        address = udp_address(engine) if kind == "udp" else tcp_address(engine)
        for extra, body, tcp_status in [("X-Pad: " + "a" * 3000, b"", 513),
                                        ("", b"b" * 3000, 413)]:
            async with SipTestClient(kind, address) as client:
                status = await answer(client, client.simple(
                    "OPTIONS", "sip:127.0.0.1", extra=extra, body=body))
                assert status == (513 if kind == "udp" else tcp_status)
                if kind == "tcp":
                    await asyncio.wait_for(client.closed.wait(), 2.0)
        await alive(engine, kind)
    finally:
        await engine.stop()


@pytest.mark.parametrize("kind", ["udp", "tcp"])
@pytest.mark.parametrize("value", ["18446744073709551616", "-1"])
async def test_absurd_content_length(engine: Engine, kind: str, value: str) -> None:
    address = udp_address(engine) if kind == "udp" else tcp_address(engine)
    async with SipTestClient(kind, address) as client:
        message = client.simple("OPTIONS", "sip:127.0.0.1").replace(
            b"Content-Length: 0", f"Content-Length: {value}".encode())
        assert await answer(client, message) == 400
        if kind == "tcp":
            await asyncio.wait_for(client.closed.wait(), 2.0)
    await alive(engine, kind)


async def test_cseq_of_2_to_the_64_is_400(engine: Engine) -> None:
    async with SipTestClient("udp", udp_address(engine)) as client:
        message = without(client.simple("OPTIONS", "sip:127.0.0.1"), "CSeq").replace(
            b"Content-Length", b"CSeq: 18446744073709551616 OPTIONS\r\nContent-Length")
        assert await answer(client, message) == 400


async def test_expires_of_2_to_the_64_is_capped(engine: Engine) -> None:
    async with SipTestClient("udp", udp_address(engine)) as client:
        response = await client.register_with_auth(Dialogue("201"), "pw-201", expires=2**64)
        assert response.status_code == 200
        assert list(contact_expiries(response).values()) == [3600]


@pytest.mark.parametrize("kind", ["udp", "tcp"])
@pytest.mark.parametrize(("header", "status"), [
    ("Via", None), ("From", 400), ("To", 400), ("Call-ID", 400), ("CSeq", 400)])
async def test_missing_mandatory_header(engine: Engine, kind: str, header: str,
                                        status: int | None) -> None:
    address = udp_address(engine) if kind == "udp" else tcp_address(engine)
    async with SipTestClient(kind, address) as client:
        message = without(client.simple("OPTIONS", "sip:127.0.0.1"), header)
        assert await answer(client, message) == status
        if status is None:
            assert engine.stats["dropped"] == 1
        assert not client.closed.is_set()  # a whole message: the stream is still in step
    await alive(engine, kind)


# --- junk and streams -----------------------------------------------------------------------


async def test_binary_junk_over_udp_is_dropped(engine: Engine) -> None:
    junk = random.Random(7)
    async with SipTestClient("udp", udp_address(engine)) as client:
        for size in (1, 7, 100, 1400, 60_000):
            client.send(junk.randbytes(size))
        client.send(b"\x00" * 500)
        assert await client.nothing_within(0.3)
    await alive(engine)


async def test_tcp_junk_closes_the_connection(engine: Engine) -> None:
    async with SipTestClient("tcp", tcp_address(engine)) as client:
        client.send(b"\x16\x03\x01\x02\x00" + bytes(range(256)))  # e.g. a TLS hello
        await asyncio.wait_for(client.closed.wait(), 2.0)
        assert await client.nothing_within(0.05)  # closed without an answer
    await alive(engine, "tcp")


async def test_half_a_message_then_the_rest(engine: Engine) -> None:
    async with SipTestClient("tcp", tcp_address(engine)) as client:
        message = client.simple("OPTIONS", "sip:127.0.0.1", body=b"v=0\r\n")
        for cut in (10, len(message) // 2, len(message) - 2):
            client.send(message[:cut])
            assert await client.nothing_within(0.1)
            client.send(message[cut:])
            assert (await client.receive()).status_code == 200
            assert await client.nothing_within(0.05)  # exactly one answer


async def test_two_messages_in_one_write(engine: Engine) -> None:
    async with SipTestClient("tcp", tcp_address(engine)) as client:
        first = client.simple("OPTIONS", "sip:127.0.0.1", call_id="one")
        second = client.simple("OPTIONS", "sip:202@127.0.0.1", call_id="two")
        client.send(first + second)
        answers = {r.call_id: r.status_code for r in [await client.receive(),
                                                        await client.receive()]}
        assert answers == {"one": 200, "two": 200}


async def test_crlfcrlf_ping_gets_a_crlf_pong(engine: Engine) -> None:
    reader, writer = await asyncio.open_connection(*tcp_address(engine))
    try:
        for _ in range(2):
            writer.write(b"\r\n\r\n")
            assert await asyncio.wait_for(reader.readexactly(2), 2.0) == b"\r\n"
        with contextlib.suppress(TimeoutError):  # one pong per ping, nothing else
            extra = await asyncio.wait_for(reader.read(10), 0.1)
            raise AssertionError(extra)
    finally:
        writer.close()


# --- connection floods ----------------------------------------------------------------------


async def _open_idle(address: tuple[str, int], count: int,
                     batch: int = 100) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    out: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for start in range(0, count, batch):
        out += await asyncio.gather(*(asyncio.open_connection(*address)
                                      for _ in range(min(batch, count - start))))
    return out


async def _closed_by_peer(reader: asyncio.StreamReader, timeout: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), timeout) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


async def _flood(connections: int, cap: int, first_message_timeout: float) -> None:
    engine = await start_engine(max_tcp_connections=cap,
                                tcp_first_message_timeout=first_message_timeout)
    peak = 0
    sampling = True

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, engine.transports.connection_count)
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        idle = await _open_idle(tcp_address(engine), connections)
        await asyncio.sleep(0.05)
        assert engine.transports.connection_count <= cap
        refused = await asyncio.gather(*(_closed_by_peer(r, 0.05) for r, _ in idle))
        assert sum(refused) >= connections - cap  # the others were closed at once
        await alive(engine, "udp")  # the engine still answers while full
        # Idle connections never sent a message: reaped after the first-message timeout.
        await asyncio.sleep(first_message_timeout + 0.3)
        assert engine.transports.connection_count == 0
        assert all(await asyncio.gather(*(_closed_by_peer(r, 2.0) for r, _ in idle)))
        await alive(engine, "tcp")  # and a new connection is served again
    finally:
        sampling = False
        await sampler
        for _, writer in idle:
            writer.transport.abort()
        await engine.stop()
    assert 0 < peak <= cap


async def test_tcp_connection_cap() -> None:
    await _flood(200, 50, first_message_timeout=0.5)


async def test_ten_thousand_idle_connections() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = hard if hard != resource.RLIM_INFINITY else 1 << 20
    cap = 4096
    # Each connection costs one fd here and, while accepted, one in the engine (same process).
    count = min(10_000, limit - cap - 200)
    if count < 1000:
        count, cap = (limit - 200) // 3, (limit - 200) // 3  # too few fds: a smaller flood
    try:
        await _flood(count, cap, first_message_timeout=1.5)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# --- memory and mutations -------------------------------------------------------------------


def _mutate(rng: random.Random, message: bytes) -> bytes:
    data = bytearray(message)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(4)
        position = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            del data[position:position + rng.randint(1, 40)]
        elif op == 2:
            data[position:position] = rng.randbytes(rng.randint(1, 20))
        else:
            data = data[:position]
    return bytes(data)


class _Discard(asyncio.DatagramProtocol):
    def datagram_received(self, data: bytes, addr: object) -> None:
        pass


async def _burst(engine: Engine, rng: random.Random, count: int) -> None:
    """``count`` datagrams: random junk, and mutated torture messages, paced so that the
    loopback socket buffers never overflow (each 100 followed by a round trip)."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        _Discard, local_addr=("127.0.0.1", 0), remote_addr=udp_address(engine))
    try:
        for i in range(count):
            if i % 4 == 0:
                datagram = rng.randbytes(rng.randint(1, 1500))
            else:
                datagram = _mutate(rng, rng.choice(SAMPLES))
            if datagram.strip(b"\r\n"):
                transport.sendto(datagram)
            if i % 100 == 99:
                await alive(engine)
    finally:
        transport.close()


async def test_memory_after_twenty_thousand_junk_datagrams(engine: Engine) -> None:
    rng = random.Random(20_000)
    await _burst(engine, rng, 2_000)  # warm up: caches, the first transactions
    # pytest keeps every captured log record: 20,000 INFO lines would be the test's memory,
    # not the engine's.
    quiet = logging.getLogger("softphone")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await _burst(engine, rng, 20_000)
        await alive(engine)
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        quiet.setLevel(level)
    assert growth < 5 * 2**20, f"{growth / 2**20:.1f} MB kept after the burst"
    async with SipTestClient("udp", udp_address(engine)) as phone:
        response = await phone.register_with_auth(Dialogue("201"), "pw-201")
        assert response.status_code == 200


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sample=st.sampled_from(SAMPLES), seed=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(["udp", "tcp"]))
async def test_mutated_torture_messages_never_kill_the_engine(
        engine: Engine, sample: bytes, seed: int, kind: str) -> None:
    """One engine for all examples: after each mutated message it still answers OPTIONS."""
    message = _mutate(random.Random(seed), sample)
    address = udp_address(engine) if kind == "udp" else tcp_address(engine)
    async with SipTestClient(kind, address) as client:
        if message.strip(b"\r\n"):
            client.send(message)
    call_id = f"alive-{secrets.token_hex(4)}"
    async with SipTestClient(kind, address) as client:
        client.send(client.simple("OPTIONS", "sip:127.0.0.1", call_id=call_id))
        while (response := await client.receive()).call_id != call_id:
            pass
        assert response.status_code == 200
