"""Fixtures for the media tests: fake phones on loopback UDP sockets, no Django."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from softphone.media.rtp import RtpPacket
from softphone.media.transport import PortAllocator

LOOPBACK = "127.0.0.1"


@pytest.fixture(autouse=True)
def _isolated_state() -> Iterator[None]:
    """Replaces the suite-wide Django fixture: these tests need no settings or database, so
    they also run with ``-p no:django``."""
    yield


class FakePhone(asyncio.DatagramProtocol):
    """A phone reduced to a UDP socket: sends what it is told, records what it receives."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.received: list[RtpPacket] = []
        self.raw: list[bytes] = []
        self.sources: list[tuple[str, int]] = []
        self.arrivals: list[float] = []  # loop.time() of each packet
        self._arrived = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.raw.append(data)
        self.received.append(RtpPacket.parse(data))
        self.sources.append(addr)
        self.arrivals.append(asyncio.get_running_loop().time())
        self._arrived.set()

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[:2]

    def send(self, packet: bytes, dest: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(packet, dest)

    async def wait_for(self, count: int, timeout: float = 2.0) -> list[RtpPacket]:
        """Wait until at least ``count`` packets arrived (bounded)."""
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.received

    async def quiet(self, seconds: float = 0.1) -> None:
        """Let in-flight loopback packets land."""
        await asyncio.sleep(seconds)


@pytest.fixture
async def phone_factory() -> AsyncIterator[Callable[[], Awaitable[FakePhone]]]:
    loop = asyncio.get_running_loop()
    phones: list[FakePhone] = []

    async def make() -> FakePhone:
        transport, phone = await loop.create_datagram_endpoint(FakePhone,
                                                               local_addr=(LOOPBACK, 0))
        phone.transport = transport
        phones.append(phone)
        return phone

    yield make
    for phone in phones:
        if phone.transport is not None:
            phone.transport.close()


_next_range = [21000]


@pytest.fixture
def ports() -> PortAllocator:
    """A private port range per test, so tests never share RTP ports."""
    first = _next_range[0]
    _next_range[0] = first + 200 if first < 40000 else 21000
    return PortAllocator(first, first + 199)
