"""RTP endpoint on loopback: ports, symmetric RTP latching, no bleed, RTCP, inactivity."""

from __future__ import annotations

import asyncio

import pytest

from softphone.media.rtcp import RtcpBye, RtcpPacket
from softphone.media.rtp import RtpPacket
from softphone.media.transport import (
    InactivityMonitor,
    PortAllocator,
    PortsExhausted,
    RtpEndpoint,
)

LOOPBACK = "127.0.0.1"


def _rtp(seq: int, ssrc: int = 1, pt: int = 0) -> bytes:
    return RtpPacket(payload_type=pt, sequence_number=seq, timestamp=seq * 160, ssrc=ssrc,
                     payload=b"\xff" * 160).serialize()


def test_allocator_hands_out_even_ports_and_reuses_the_oldest_released() -> None:
    ports = PortAllocator(10001, 10008)
    assert [ports.allocate() for _ in range(3)] == [10002, 10004, 10006]
    with pytest.raises(PortsExhausted):
        ports.allocate()
    ports.release(10004)
    ports.release(10002)
    assert ports.allocate() == 10004
    with pytest.raises(ValueError):
        PortAllocator(10, 10)


async def test_bind_takes_an_even_rtp_port_and_the_next_one_for_rtcp(ports) -> None:
    a, b = RtpEndpoint(), RtpEndpoint()
    await a.bind(ports, LOOPBACK)
    await b.bind(ports, LOOPBACK)
    try:
        assert a.local_port % 2 == 0 and b.local_port == a.local_port + 2
        loop = asyncio.get_running_loop()
        with pytest.raises(OSError):
            await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                local_addr=(LOOPBACK, a.local_port + 1))
    finally:
        a.close()
        b.close()
    assert a.closed
    assert ports.available == 100


async def test_bind_skips_ports_someone_else_holds(ports) -> None:
    loop = asyncio.get_running_loop()
    squatter, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                      local_addr=(LOOPBACK, ports.first + 1))
    endpoint = RtpEndpoint()
    try:
        await endpoint.bind(ports, LOOPBACK)
        assert endpoint.local_port == ports.first + 2
    finally:
        squatter.close()
        endpoint.close()


async def test_latches_on_the_sdp_address_and_ignores_foreign_sources(ports,
                                                                     phone_factory) -> None:
    got: list[bytes] = []
    endpoint = RtpEndpoint(on_packet=got.append)
    await endpoint.bind(ports, LOOPBACK)
    phone, stranger = await phone_factory(), await phone_factory()
    endpoint.set_remote(phone.address)
    here = (LOOPBACK, endpoint.local_port)
    try:
        phone.send(_rtp(1), here)
        await phone.quiet(0.05)
        assert endpoint.latched and endpoint.peer == phone.address
        for seq in range(2, 6):
            stranger.send(_rtp(seq, ssrc=666), here)
        phone.send(_rtp(2), here)
        await phone.quiet(0.05)
        assert [RtpPacket.parse(p).ssrc for p in got] == [1, 1]
        assert endpoint.foreign_dropped == 4
        assert endpoint.send(_rtp(9))
        await phone.wait_for(1)
        assert stranger.received == []
    finally:
        endpoint.close()


async def test_nat_source_latches_after_probation_and_we_answer_there(ports,
                                                                      phone_factory) -> None:
    got: list[bytes] = []
    endpoint = RtpEndpoint(on_packet=got.append, payload_types=frozenset({0}))
    await endpoint.bind(ports, LOOPBACK)
    sdp_phone, natted = await phone_factory(), await phone_factory()
    endpoint.set_remote(sdp_phone.address)  # the SDP says one thing, packets come from another
    here = (LOOPBACK, endpoint.local_port)
    try:
        natted.send(_rtp(10, pt=18), here)  # an unnegotiated payload type never latches
        for seq in (1, 2, 3, 4):
            natted.send(_rtp(seq), here)
        await natted.quiet(0.05)
        assert endpoint.peer == natted.address
        assert [RtpPacket.parse(p).sequence_number for p in got] == [3, 4]
        assert endpoint.invalid_dropped == 1
        endpoint.send(_rtp(7))
        await natted.wait_for(1)
        assert sdp_phone.received == []
    finally:
        endpoint.close()


async def test_relatch_only_when_told(ports, phone_factory) -> None:
    got: list[bytes] = []
    endpoint = RtpEndpoint(on_packet=got.append)
    await endpoint.bind(ports, LOOPBACK)
    old, new = await phone_factory(), await phone_factory()
    endpoint.set_remote(old.address)
    here = (LOOPBACK, endpoint.local_port)
    try:
        old.send(_rtp(1), here)
        await old.quiet(0.05)
        new.send(_rtp(1, ssrc=2), here)
        await old.quiet(0.05)
        assert len(got) == 1
        # re-INVITE: the phone moved to a new address.
        endpoint.set_remote(new.address)
        endpoint.relatch()
        assert endpoint.dest == new.address
        new.send(_rtp(2, ssrc=2), here)
        old.send(_rtp(2), here)
        await old.quiet(0.05)
        assert [RtpPacket.parse(p).ssrc for p in got] == [1, 2]
        assert endpoint.peer == new.address
    finally:
        endpoint.close()


async def test_rtcp_port_delivers_parsed_packets(ports, phone_factory) -> None:
    got: list[list[RtcpPacket]] = []
    endpoint = RtpEndpoint(on_rtcp=lambda packets, addr: got.append(packets))
    await endpoint.bind(ports, LOOPBACK)
    phone = await phone_factory()
    try:
        phone.send(bytes(RtcpBye((7,), "bye")), (LOOPBACK, endpoint.local_port + 1))
        phone.send(b"\x80\xc9\x00\x09", (LOOPBACK, endpoint.local_port + 1))  # malformed
        await phone.quiet(0.05)
        assert got == [[RtcpBye((7,), "bye")]]
    finally:
        endpoint.close()


async def test_inactivity_is_reported_once_when_packets_stop(ports, phone_factory) -> None:
    endpoint = RtpEndpoint()
    await endpoint.bind(ports, LOOPBACK)
    phone = await phone_factory()
    endpoint.set_remote(phone.address)
    dead: list[RtpEndpoint] = []
    monitor = InactivityMonitor(check_interval=0.05)
    monitor.watch(endpoint, 0.25, dead.append)
    monitor.start()
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        for seq in range(15):  # 0.3 s of media keeps it alive
            phone.send(_rtp(seq), (LOOPBACK, endpoint.local_port))
            await asyncio.sleep(0.02)
        assert dead == []
        async with asyncio.timeout(1.0):
            while not dead:
                await asyncio.sleep(0.02)
        assert loop.time() - started >= 0.3 + 0.25 - 0.06
        await asyncio.sleep(0.15)
        assert dead == [endpoint]
    finally:
        await monitor.stop()
        endpoint.close()


async def test_a_callback_that_unwatches_others_keeps_the_monitor_running(ports) -> None:
    # Both legs of a call go quiet in the same round; the first one's callback hangs the
    # call up and unwatches the second: the second must not be reported, and the monitor
    # must go on watching (it once died on a KeyError here).
    first, second, third = RtpEndpoint(), RtpEndpoint(), RtpEndpoint()
    for endpoint in (first, second, third):
        await endpoint.bind(ports, LOOPBACK)
    monitor = InactivityMonitor(check_interval=0.05)
    dead: list[RtpEndpoint] = []

    def hang_up(endpoint: RtpEndpoint) -> None:
        dead.append(endpoint)
        monitor.unwatch(second)

    monitor.watch(first, 0.1, hang_up)
    monitor.watch(second, 0.1, dead.append)
    monitor.start()
    try:
        await asyncio.sleep(0.3)
        assert dead == [first]
        monitor.watch(third, 0.1, dead.append)  # a later call is still watched
        await asyncio.sleep(0.3)
        assert dead == [first, third]
    finally:
        await monitor.stop()
        for endpoint in (first, second, third):
            endpoint.close()


async def test_allowed_hosts_keep_an_early_attacker_from_latching(ports, phone_factory) -> None:
    loop = asyncio.get_running_loop()
    attacker_transport, _attacker = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.2", 0))
    got: list[bytes] = []
    endpoint = RtpEndpoint(on_packet=got.append)
    await endpoint.bind(ports, LOOPBACK)
    phone = await phone_factory()
    endpoint.set_remote(("10.0.0.99", 4000), allowed_hosts=frozenset({LOOPBACK}))
    here = (LOOPBACK, endpoint.local_port)
    try:
        for seq in range(10):  # faster than the phone, perfectly in sequence
            attacker_transport.sendto(_rtp(seq, ssrc=666), here)
        for seq in range(1, 5):  # the phone behind NAT: its SDP address is private
            phone.send(_rtp(seq), here)
        await phone.quiet(0.05)
        assert endpoint.peer == phone.address
        assert {RtpPacket.parse(p).ssrc for p in got} == {1}
        assert endpoint.foreign_dropped == 10
    finally:
        attacker_transport.close()
        endpoint.close()
