"""SIP transports over asyncio: UDP, TCP and TLS (RFC 3261 §18), with the limits a server needs.

The only module of ``softphone/sip`` that does I/O. It moves whole messages as bytes: datagrams
as they arrive, streams cut into messages by a sans-IO framer (``Content-Length`` framing,
RFC 3261 §18.3). What a message means is decided above. Every inbound message comes with the
``Peer`` it came from, and an answer to that ``Peer`` goes back the same way (over the same
connection for TCP/TLS, RFC 3261 §18.2.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

from softphone.sip.errors import FramingError
from softphone.sip.status import reason_phrase

logger = logging.getLogger("softphone.sip.transport")

# RFC 5626 §3.5.1: a client pings a stream with CRLFCRLF; the server pongs with CRLF.
KEEPALIVE_PING = b"\r\n\r\n"
KEEPALIVE_PONG = b"\r\n"
MAX_DATAGRAM = 65_535
UDP_RECEIVE_BUFFER = 1024 * 1024


class TransportKind(enum.StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"

    @property
    def reliable(self) -> bool:
        return self is not TransportKind.UDP


@dataclass(frozen=True, slots=True)
class Peer:
    """Where a message came from (and where its answer goes)."""

    kind: TransportKind
    host: str
    port: int
    connection_id: int = 0  # 0 for UDP; a stream connection's number otherwise

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.kind}:{host}:{self.port}"


class Framer(Protocol):
    """Cuts a byte stream into SIP messages (sans-IO; see ``softphone.sip.framing``)."""

    def feed(self, data: bytes) -> list[bytes]:
        """Complete messages in ``data`` (keep-alive pings come back as ``KEEPALIVE_PING``).

        Raises ``FramingError`` when the stream is beyond repair (after returning the messages
        that precede the break, on the next call: ``feed(b"")``).
        """
        ...


class MessageHandler(Protocol):
    def __call__(self, data: bytes, peer: Peer) -> None: ...


@dataclass(slots=True)
class StreamLimits:
    max_connections: int = 4096
    # A connection must deliver its first complete message this fast (64*T1, RFC 3261 §17.1.1)
    first_message_timeout: float = 32.0
    # ... and may then stay quiet this long (phones ping every 30-120 s, RFC 5626 §4.4.1).
    idle_timeout: float = 600.0


@dataclass(slots=True)
class _Connection:
    id: int
    peer: Peer
    writer: asyncio.StreamWriter
    task: asyncio.Task[None] | None = None
    last_activity: float = field(default=0.0)


# Source addresses whose Peer value is kept for reuse. A phone sends from the same address
# for its whole life; sharing the immutable Peer saves an object per datagram, which every
# server transaction would otherwise keep for 32 s (Timer J). Cleared when full.
_MAX_CACHED_PEERS = 8192


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_message: MessageHandler) -> None:
        self.on_message = on_message
        self.transport: asyncio.DatagramTransport | None = None
        self._peers: dict[tuple[str | int, ...], Peer] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: before Python 3.13 the selector loop's datagram transport
        # does not subclass asyncio.DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if data[:1] in b"\r\n" and not data.strip(b"\r\n"):  # (b"" is in b"\r\n" too)
            return  # keep-alive CRLFs over UDP (some phones send them): nothing to answer
        peer = self._peers.get(addr)
        if peer is None:
            if len(self._peers) >= _MAX_CACHED_PEERS:
                self._peers.clear()
            peer = self._peers[addr] = Peer(TransportKind.UDP, str(addr[0]), int(addr[1]))
        try:
            self.on_message(data, peer)
        except Exception:
            # One bad message must never stop the socket: log it with its source and go on.
            logger.exception("handling a datagram from %s failed", peer)

    def error_received(self, exc: Exception) -> None:
        logger.debug("udp error: %s", exc)


class SipTransports:
    """All listening sockets of one engine, and the way back to every peer."""

    def __init__(self, on_message: MessageHandler, framer_factory: Callable[[], Framer],
                 limits: StreamLimits | None = None) -> None:
        self.on_message = on_message
        self.framer_factory = framer_factory
        self.limits = limits or StreamLimits()
        self._udp: dict[tuple[str, int], _UdpProtocol] = {}
        self._servers: list[asyncio.Server] = []
        self._connections: dict[int, _Connection] = {}
        self._by_address: dict[tuple[TransportKind, str, int], int] = {}
        self._ids = itertools.count(1)
        self.local_addresses: dict[TransportKind, tuple[str, int]] = {}

    # -- listening --------------------------------------------------------------------------
    async def listen_udp(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self.on_message), local_addr=(host, port))
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # A registration burst (every phone after a power cut) must queue, not be dropped
            # by the kernel: a dropped REGISTER costs the phone a 500 ms retransmission and
            # us the same work twice. The kernel caps this at net.core.rmem_max.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        address = transport.get_extra_info("sockname")[:2]
        self._udp[(host, address[1])] = protocol
        self.local_addresses[TransportKind.UDP] = address
        return address

    async def listen_stream(self, kind: TransportKind, host: str, port: int,
                            ssl_context: ssl.SSLContext | None = None) -> tuple[str, int]:
        server = await asyncio.start_server(
            lambda r, w: self._accept(kind, r, w), host=host, port=port, ssl=ssl_context,
            limit=2**16, ssl_handshake_timeout=10.0 if ssl_context else None)
        self._servers.append(server)
        address = server.sockets[0].getsockname()[:2]
        self.local_addresses[kind] = address
        return address

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    # -- sending ----------------------------------------------------------------------------
    def send(self, data: bytes, peer: Peer) -> bool:
        """Send one message to ``peer``; False when there is no way there (connection gone)."""
        if peer.kind is TransportKind.UDP:
            protocol = next(iter(self._udp.values()), None)
            if protocol is None or protocol.transport is None:
                return False
            protocol.transport.sendto(data, (peer.host, peer.port))
            return True
        connection = self._connections.get(peer.connection_id) or self._connections.get(
            self._by_address.get((peer.kind, peer.host, peer.port), -1))
        if connection is None or connection.writer.is_closing():
            return False
        connection.writer.write(data)
        return True

    # -- streams ----------------------------------------------------------------------------
    async def _accept(self, kind: TransportKind, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= self.limits.max_connections:
            # Over the cap: refuse at once rather than let idle sockets eat memory.
            writer.transport.abort()
            return
        host, port = writer.get_extra_info("peername")[:2]
        connection = _Connection(next(self._ids), Peer(kind, str(host), int(port)), writer)
        connection.peer = Peer(kind, str(host), int(port), connection.id)
        self._connections[connection.id] = connection
        self._by_address[(kind, str(host), int(port))] = connection.id
        connection.task = asyncio.current_task()
        try:
            await self._read_stream(connection, reader)
        finally:
            self._connections.pop(connection.id, None)
            self._by_address.pop((kind, str(host), int(port)), None)
            if not writer.is_closing():
                writer.transport.abort()

    async def _read_stream(self, connection: _Connection, reader: asyncio.StreamReader) -> None:
        framer = self.framer_factory()
        timeout = self.limits.first_message_timeout
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(2**16), timeout)
            except (TimeoutError, ConnectionError, ssl.SSLError):
                return
            if not chunk:
                return
            while True:  # after whole messages, feed(b"") reports a break behind them
                try:
                    messages = framer.feed(chunk)
                except FramingError as error:  # the stream is beyond repair (RFC 3261 §18.3)
                    logger.info("closing %s: %s", connection.peer, error)
                    if error.can_answer:  # not for binary junk such as a TLS hello on TCP
                        connection.writer.write(_bare_error_response(error.status_hint))
                    await _drain_and_close(connection.writer)
                    return
                if not messages:
                    break
                chunk = b""
                for message in messages:
                    if message == KEEPALIVE_PING:
                        connection.writer.write(KEEPALIVE_PONG)
                        continue
                    timeout = self.limits.idle_timeout
                    try:
                        self.on_message(message, connection.peer)
                    except Exception:
                        logger.exception("handling a message from %s failed",
                                         connection.peer)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for protocol in self._udp.values():
            if protocol.transport is not None:
                protocol.transport.close()
        tasks = [c.task for c in self._connections.values() if c.task is not None]
        for connection in list(self._connections.values()):
            connection.writer.transport.abort()
        for server in self._servers:
            await server.wait_closed()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._servers.clear()
        self._udp.clear()


def _bare_error_response(status: int) -> bytes:
    """A response for a stream we cannot parse: no Via to copy, so only the status line.

    RFC 3261 §18.3 lets a server close a stream whose framing is broken; the status line says
    why before we do.
    """
    return f"SIP/2.0 {status} {reason_phrase(status)}\r\nContent-Length: 0\r\n\r\n".encode()


async def _drain_and_close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(TimeoutError, ConnectionError):
        await asyncio.wait_for(writer.drain(), 1.0)
    writer.close()
