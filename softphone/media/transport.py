"""RTP/RTCP sockets: port allocation, symmetric RTP latching, inactivity detection.

The only module of the package (with ``relay.py``, which subclasses :class:`RtpEndpoint`) that
touches sockets. An endpoint is one RTP port (even) plus its RTCP port (RTP + 1, RFC 3550 §11).

Symmetric RTP (RFC 4961) with latching: a phone behind NAT sends from an address that differs
from its SDP, and only the address it really sends from reaches it. The endpoint therefore sends
to the SDP address until it *latches* on the source of the peer's packets, then sends there and
ignores every other source — a stranger spraying packets at our port gets neither into the call
nor the call's audio ("RTP bleed"). Packets from the SDP address latch at once; from anywhere
else only after a few consecutive packets of one stream, so that one stray packet cannot steal
the latch. Latching again happens only when call control says so (:meth:`RtpEndpoint.relatch`,
e.g. after a re-INVITE moved the peer).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Any

from softphone.media.rtcp import RtcpError, RtcpPacket, parse_compound
from softphone.media.rtp import (
    PAYLOAD_TYPE_MASK,
    RTP_HEADER_SIZE,
    VERSION_BITS,
    VERSION_MASK,
    is_rtcp_muxed,
    read_sequence,
)

__all__ = [
    "LATCH_PROBATION_PACKETS",
    "Address",
    "InactivityMonitor",
    "PortAllocator",
    "PortsExhausted",
    "RtpEndpoint",
    "cancel_and_wait",
]

log = logging.getLogger(__name__)

Address = tuple[str, int]
# Consecutive in-sequence packets needed to latch on a source that is not the SDP address
# (cf. RFC 3550 A.1 MIN_SEQUENTIAL source probation).
LATCH_PROBATION_PACKETS = 3
BIND_ATTEMPTS = 16  # ports tried before giving up (others may hold some in the range)


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel a task we own and wait for it to finish.

    The task's own CancelledError is expected and absorbed; if the *caller* is being cancelled
    meanwhile, its CancelledError propagates (never swallowed).
    """
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


class PortsExhausted(OSError):
    """No RTP/RTCP port pair could be bound in the configured range."""


class PortAllocator:
    """Hands out even RTP ports (RTCP on port + 1) from an inclusive range.

    Released ports go to the back of the queue: the longest-idle pair is reused first, so late
    packets of a finished call do not land in the next call that got its port.
    """

    __slots__ = ("_free", "_in_use", "first", "last")

    def __init__(self, first: int, last: int) -> None:
        first += first & 1
        if not 0 < first < last <= 65535:
            raise ValueError(f"bad RTP port range {first}-{last}")
        self.first, self.last = first, last
        self._free: collections.deque[int] = collections.deque(range(first, last, 2))
        self._in_use: set[int] = set()

    @property
    def available(self) -> int:
        return len(self._free)

    def allocate(self) -> int:
        if not self._free:
            raise PortsExhausted(f"all RTP ports {self.first}-{self.last} are in use")
        port = self._free.popleft()
        self._in_use.add(port)
        return port

    def release(self, port: int) -> None:
        if port in self._in_use:
            self._in_use.remove(port)
            self._free.append(port)


class _RtcpProtocol(asyncio.DatagramProtocol):
    """The RTCP half of an endpoint: parses and hands packets to the owner."""

    def __init__(self, owner: RtpEndpoint) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.owner.handle_rtcp(data, addr)


class RtpEndpoint(asyncio.DatagramProtocol):
    """One RTP/RTCP port pair with symmetric-RTP latching.

    Create it, then ``await endpoint.bind(ports, host)`` (host: the configured media address);
    ``close()`` releases the ports. Received
    RTP from the latched peer goes to ``on_packet(data)``; RTCP to ``on_rtcp(packets, addr)``.
    ``packets_received`` counts accepted RTP packets (the inactivity monitor reads it).
    """

    def __init__(self, *, on_packet: Callable[[bytes], None] | None = None,
                 on_rtcp: Callable[[list[RtcpPacket], Address], None] | None = None,
                 payload_types: frozenset[int] | None = None) -> None:
        self.on_packet = on_packet
        self.on_rtcp = on_rtcp
        # Payload types the SDP negotiated; None accepts any RTP. Only checked while latching.
        self.payload_types = payload_types
        self.transport: asyncio.DatagramTransport | None = None
        self.rtcp_transport: asyncio.DatagramTransport | None = None
        self.local_address: Address | None = None
        self.remote: Address | None = None  # from SDP
        self.allowed_hosts: frozenset[str] | None = None
        self.peer: Address | None = None  # latched source
        self.dest: Address | None = None  # where we send: the latched peer, else the SDP one
        self.packets_received = 0
        self.packets_sent = 0
        self.foreign_dropped = 0
        self.invalid_dropped = 0
        self._ports: PortAllocator | None = None
        self._candidate: Address | None = None
        self._candidate_seq = 0
        self._candidate_count = 0

    # --- lifecycle ----------------------------------------------------------------------------

    async def bind(self, ports: PortAllocator, host: str) -> Address:
        """Bind RTP on an even port of the range and RTCP on the next one."""
        loop = asyncio.get_running_loop()
        for _ in range(min(BIND_ATTEMPTS, ports.available)):
            port = ports.allocate()
            try:
                rtp, _ = await loop.create_datagram_endpoint(lambda: self,
                                                             local_addr=(host, port))
            except OSError:
                ports.release(port)
                continue
            try:
                rtcp, _ = await loop.create_datagram_endpoint(lambda: _RtcpProtocol(self),
                                                              local_addr=(host, port + 1))
            except OSError:
                rtp.close()
                ports.release(port)
                continue
            self.transport, self.rtcp_transport = rtp, rtcp
            self.local_address = (host, port)
            self._ports = ports
            return self.local_address
        raise PortsExhausted(f"no free RTP/RTCP port pair in {ports.first}-{ports.last}")

    @property
    def local_port(self) -> int:
        if self.local_address is None:
            raise RuntimeError("endpoint is not bound")
        return self.local_address[1]

    @property
    def closed(self) -> bool:
        return self.transport is None

    def close(self) -> None:
        for transport in (self.transport, self.rtcp_transport):
            if transport is not None:
                transport.close()
        self.transport = self.rtcp_transport = None
        if self._ports is not None and self.local_address is not None:
            self._ports.release(self.local_address[1])
            self._ports = None

    # --- addressing ---------------------------------------------------------------------------

    def set_remote(self, addr: Address | None,
                   allowed_hosts: frozenset[str] | None = None) -> None:
        """The address the peer's SDP (c= and m= lines) announced; send there until latched.

        ``allowed_hosts`` narrows who may latch: pass the SDP host and the host the peer's SIP
        signalling really came from (Via received=). Without it any source may latch after
        probation, which is what NATed phones need but lets an attacker who is faster than the
        phone win the latch.
        """
        self.remote = addr
        self.allowed_hosts = allowed_hosts
        self.dest = self.peer or addr

    def relatch(self) -> None:
        """Forget the latched source; the next valid stream latches again (after re-INVITE)."""
        self.peer = None
        self.dest = self.remote
        self._candidate = None

    @property
    def latched(self) -> bool:
        return self.peer is not None

    def _admit(self, data: bytes, addr: Address) -> bool:
        """Slow path of ``datagram_received``: the packet is not from the latched peer."""
        if self.peer is not None or (self.allowed_hosts is not None
                                     and addr[0] not in self.allowed_hosts):
            self.foreign_dropped += 1
            return False
        if (len(data) < RTP_HEADER_SIZE or data[0] & VERSION_MASK != VERSION_BITS
                or is_rtcp_muxed(data)
                or (self.payload_types is not None
                    and data[1] & PAYLOAD_TYPE_MASK not in self.payload_types)):
            self.invalid_dropped += 1
            return False
        if addr != self.remote:
            seq = read_sequence(data)
            if addr == self._candidate and seq == (self._candidate_seq + 1) & 0xFFFF:
                self._candidate_count += 1
            else:
                self._candidate, self._candidate_count = addr, 1
            self._candidate_seq = seq
            if self._candidate_count < LATCH_PROBATION_PACKETS:
                return False
        log.debug("RTP %s latched on %s (SDP said %s)", self.local_address, addr, self.remote)
        self.peer = self.dest = addr
        self._candidate = None
        self.on_latched(addr)
        return True

    def on_latched(self, addr: Address) -> None:
        """Hook for subclasses: the peer's real address is now known."""

    # --- datagrams ----------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if addr != self.peer and not self._admit(data, addr):
            return
        if len(data) < RTP_HEADER_SIZE or data[0] & VERSION_MASK != VERSION_BITS:
            self.invalid_dropped += 1
            return
        self.packets_received += 1
        if is_rtcp_muxed(data):  # RFC 5761: a peer that multiplexes anyway
            self.handle_rtcp(data, addr)
        elif self.on_packet is not None:
            self.on_packet(data)

    def handle_rtcp(self, data: bytes, addr: Address) -> None:
        try:
            packets = parse_compound(data)
        except RtcpError as exc:
            log.debug("RTCP from %s dropped: %s", addr, exc)
            return
        if self.on_rtcp is not None:
            self.on_rtcp(packets, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable when a phone vanished: the inactivity monitor deals with that.
        log.debug("RTP %s: %s", self.local_address, exc)

    def send(self, packet: bytes | bytearray) -> bool:
        """Send one RTP packet to the peer; False when there is nowhere to send yet."""
        if self.transport is None or self.dest is None:
            return False
        self.transport.sendto(packet, self.dest)
        self.packets_sent += 1
        return True

    def send_rtcp(self, packet: bytes) -> bool:
        if self.rtcp_transport is None or self.dest is None:
            return False
        self.rtcp_transport.sendto(packet, (self.dest[0], self.dest[1] + 1))
        return True


class InactivityMonitor:
    """Calls ``on_timeout(endpoint)`` once when a watched endpoint received no RTP for a while.

    Polls the endpoints' packet counters once per ``check_interval`` (default 1 s), so the
    per-packet path pays one integer increment and no clock read. Owned by whoever starts it;
    ``stop()`` ends the task.
    """

    def __init__(self, check_interval: float = 1.0) -> None:
        self.check_interval = check_interval
        # endpoint -> [timeout, callback, last count, monotonic time of last change]
        self._watched: dict[RtpEndpoint, list[Any]] = {}
        self._task: asyncio.Task[None] | None = None

    def watch(self, endpoint: RtpEndpoint, timeout: float,
              on_timeout: Callable[[RtpEndpoint], None]) -> None:
        """(Re)start watching; call again after hold/resume to restart the clock."""
        now = asyncio.get_running_loop().time()
        self._watched[endpoint] = [timeout, on_timeout, endpoint.packets_received, now]

    def unwatch(self, endpoint: RtpEndpoint) -> None:
        self._watched.pop(endpoint, None)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="rtp-inactivity")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    def check(self, now: float) -> None:
        for endpoint, entry in list(self._watched.items()):
            if self._watched.get(endpoint) is not entry:
                continue  # an earlier callback of this round unwatched it (its call ended)
            timeout, callback, count, since = entry
            if endpoint.packets_received != count:
                entry[2], entry[3] = endpoint.packets_received, now
            elif now - since >= timeout:
                del self._watched[endpoint]
                try:
                    callback(endpoint)
                except Exception:
                    log.exception("RTP inactivity callback failed for %s",
                                  endpoint.local_address)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.check_interval)
            self.check(loop.time())

