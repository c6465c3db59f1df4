"""RTP load generator for bench_rtp_relay.py: many fake phones in one uvloop process.

Each phone is one UDP socket sending 160-byte G.711-sized packets every 20 ms; phases are
spread evenly over the 20 ms period (real phones are not synchronised, and a synchronised burst
would measure queueing in the generator, not the relay). Every payload carries its send time
(CLOCK_MONOTONIC, shared by all processes on the machine) and a flag saying whether it was sent
inside the measurement window; the receiving phone computes the one-way latency.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
from multiprocessing.connection import Connection

import uvloop

PTIME = 0.02
SLOTS = 20  # sending slots per period: one every millisecond
HOST = "127.0.0.1"
_HEADER = struct.Struct("!BBHII")
_STAMP = struct.Struct("!QB")  # send time in ns, measured flag
_FILLER = b"\xff" * (160 - _STAMP.size)


class Phone(asyncio.DatagramProtocol):
    __slots__ = ("dest", "errors", "latencies_us", "received", "sent", "seq", "ssrc",
                 "transport", "ts")

    def __init__(self, ssrc: int, latencies_us: list[float]) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.dest: tuple[str, int] = (HOST, 0)
        self.ssrc = ssrc
        self.seq = 0
        self.ts = 0
        self.sent = 0
        self.received = 0
        self.errors = 0
        self.latencies_us = latencies_us

    def error_received(self, exc: Exception) -> None:
        self.errors += 1

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        now = time.monotonic_ns()
        stamp, measured = _STAMP.unpack_from(data, 12)
        if measured:
            self.received += 1
            self.latencies_us.append((now - stamp) / 1000)

    def send(self, measured: int) -> None:
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + 160) & 0xFFFFFFFF
        packet = (_HEADER.pack(0x80, 0, self.seq, self.ts, self.ssrc)
                  + _STAMP.pack(time.monotonic_ns(), measured) + _FILLER)
        assert self.transport is not None
        self.transport.sendto(packet, self.dest)
        if measured:
            self.sent += 1


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def _slot(phones: list[Phone], offset: float, start: float, measure_from: float,
                measure_to: float, stop_at: float) -> None:
    due = start + offset
    while due < stop_at:
        await _sleep_until(due)
        measured = 1 if measure_from <= due < measure_to else 0
        for phone in phones:
            phone.send(measured)
        due += PTIME


async def _run(conn: Connection, count: int) -> None:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    phones: list[Phone] = []
    for index in range(count):
        phone = Phone(0x1000 + index, latencies)

        def factory(p: Phone = phone) -> Phone:
            return p

        transport, _ = await loop.create_datagram_endpoint(factory, local_addr=(HOST, 0))
        phone.transport = transport
        phones.append(phone)
    conn.send([p.transport.get_extra_info("sockname")[1] for p in phones if p.transport])
    dest_ports, start, measure_from, measure_to, stop_at = conn.recv()
    for phone, port in zip(phones, dest_ports, strict=True):
        phone.dest = (HOST, port)
    cpu_before = time.process_time()
    await asyncio.gather(*(
        _slot(phones[slot::SLOTS], slot * PTIME / SLOTS, start, measure_from, measure_to,
              stop_at) for slot in range(SLOTS)))
    cpu = time.process_time() - cpu_before
    await asyncio.sleep(0.5)  # let the last packets land
    for phone in phones:
        if phone.transport is not None:
            phone.transport.close()
    # Each phone's packets are received by its peer (index ^ 1).
    deficits = [phones[i].sent - phones[i ^ 1].received for i in range(len(phones))]
    conn.send({"sent": sum(p.sent for p in phones), "received": sum(p.received for p in phones),
               "socket_errors": sum(p.errors for p in phones),
               "worst_stream_loss": max(deficits, default=0),
               "streams_with_loss": sum(1 for d in deficits if d),
               "latencies_us": latencies, "cpu_percent": 100 * cpu / (stop_at - start)})


def run_loadgen(conn: Connection, count: int, cpu: int | None) -> None:
    """Process entry point: ``count`` phones; talks to the parent over ``conn``."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    uvloop.run(_run(conn, count))
