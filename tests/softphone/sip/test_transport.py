"""SIP transports on real loopback sockets, with the real stream framer."""

import asyncio

from softphone.sip.framing import StreamFramer
from softphone.sip.transport import Peer, SipTransports, StreamLimits, TransportKind

REQUEST = (b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKt\r\n"
           b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: t\r\n"
           b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


async def tcp_server(received: list[tuple[bytes, Peer]],
                     limits: StreamLimits | None = None) -> tuple[SipTransports, int]:
    transports = SipTransports(lambda data, peer: received.append((data, peer)), StreamFramer,
                               limits)
    _, port = await transports.listen_stream(TransportKind.TCP, "127.0.0.1", 0)
    return transports, port


async def test_stream_messages_keepalive_and_answers_on_the_same_connection() -> None:
    received: list[tuple[bytes, Peer]] = []
    transports, port = await tcp_server(received)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\r\n\r\n" + REQUEST[:40])
    assert await asyncio.wait_for(reader.readexactly(2), 2) == b"\r\n"  # RFC 5626 pong
    writer.write(REQUEST[40:])
    await writer.drain()
    for _ in range(50):
        if received:
            break
        await asyncio.sleep(0.02)
    assert [data for data, _ in received] == [REQUEST]
    assert transports.send(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", received[0][1])
    assert (await asyncio.wait_for(reader.readline(), 2)).startswith(b"SIP/2.0 200")
    writer.close()
    await transports.close()


async def test_broken_framing_gets_a_status_line_then_the_connection_closes() -> None:
    transports, port = await tcp_server([])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(REQUEST.replace(b"Content-Length: 0", b"Content-Length: -999"))
    answer = await asyncio.wait_for(reader.read(), 2)
    assert answer.startswith(b"SIP/2.0 400 ")
    writer.close()
    await transports.close()


async def test_binary_junk_is_closed_without_an_answer() -> None:
    transports, port = await tcp_server([])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) * 40)
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    await transports.close()


async def test_connections_over_the_cap_are_refused() -> None:
    transports, port = await tcp_server([], StreamLimits(max_connections=2))
    kept = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    await asyncio.sleep(0.1)
    assert transports.connection_count == 2
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await asyncio.wait_for(reader.read(), 2) == b""
    for _, kept_writer in kept:
        kept_writer.close()
    writer.close()
    await transports.close()
