"""RTP relay capacity: N concurrent relayed calls, 2 × 50 packets/s each, on loopback.

The relay (softphone.media.relay.MediaRelay on uvloop, as the engine runs it) lives in one
process pinned to CPU 0; the load generator (bench/rtp_loadgen.py: 2N fake phones) in another
pinned to CPU 1. Phones stamp each packet with its send time; the receiving phone measures the
one-way latency, which includes the generator's own scheduling delay — the ``--baseline`` run
(phones talking to each other directly, no relay) shows that floor.

Prints per run: calls, relayed packets/s, loss %, latency p50/p99/max, relay CPU % of one core
and µs of relay CPU per packet, generator CPU % (if it nears 100 % the generator, not the relay,
is the limit), kernel UDP drops during the run, and how many streams lost packets.

    .venv/bin/python bench/bench_rtp_relay.py [--calls 50 150 300] [--seconds 10] [--baseline]

Issue targets: ≥ 150 concurrent calls with 0 loss and p99 < 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.rtp_loadgen import HOST, run_loadgen

RELAY_CPU = 0
LOADGEN_CPU = 1
WARMUP = 1.0
COOLDOWN = 0.5


async def _relay(conn: Connection, phone_ports: list[int], first_port: int) -> None:
    from softphone.media.relay import MediaRelay
    from softphone.media.transport import PortAllocator

    relay = MediaRelay(PortAllocator(first_port, first_port + 4 * len(phone_ports) + 200), HOST)
    await relay.start()  # as in the engine: inactivity monitor and music-on-hold player
    leg_ports: list[int] = []
    dead: list[object] = []
    for index in range(0, len(phone_ports), 2):
        a = await relay.open_leg(name=f"call{index // 2}-a")
        b = await relay.open_leg(name=f"call{index // 2}-b")
        a.set_remote((HOST, phone_ports[index]))
        b.set_remote((HOST, phone_ports[index + 1]))
        relay.bridge(a, b)
        relay.watch_inactivity(a, dead.append)
        relay.watch_inactivity(b, dead.append)
        leg_ports += [a.local_port, b.local_port]
    conn.send(leg_ports)
    measure_from, measure_to = conn.recv()
    await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
    cpu_start = time.process_time()
    await asyncio.sleep(max(0.0, measure_to - time.monotonic()))
    cpu = time.process_time() - cpu_start
    received = sum(leg.packets_received for leg in relay.legs)
    conn.send({"cpu_seconds": cpu, "received": received, "dead_legs": len(dead)})
    # Keep relaying until told to stop: packets sent just before measure_to are still in
    # flight. (A blocking recv() here would freeze the loop and lose them.)
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    await relay.stop()


def run_relay(conn: Connection, phone_ports: list[int], first_port: int,
              gc_mode: str) -> None:
    import gc

    import uvloop

    os.sched_setaffinity(0, {RELAY_CPU})
    if gc_mode == "freeze":  # what an engine can do after start-up: long-lived objects out of GC
        gc.collect()
        gc.freeze()
    elif gc_mode == "off":
        gc.disable()
    uvloop.run(_relay(conn, phone_ports, first_port))


def udp_errors() -> dict[str, int]:
    """Kernel UDP drop counters (system-wide; the machine is otherwise idle during a run)."""
    lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines()
             if ln.startswith("Udp:")]
    counters = dict(zip(lines[0][1:], map(int, lines[1][1:]), strict=True))
    return {k: counters.get(k, 0) for k in ("InErrors", "RcvbufErrors", "SndbufErrors")}


def one_run(calls: int, seconds: float, baseline: bool, gc_mode: str) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    gen_conn, gen_child = ctx.Pipe()
    loadgen = ctx.Process(target=run_loadgen, args=(gen_child, 2 * calls, LOADGEN_CPU),
                          daemon=True)
    loadgen.start()
    phone_ports: list[int] = gen_conn.recv()
    relay = relay_conn = None
    if baseline:  # phone 2k talks straight to phone 2k+1 and back
        dests = [phone_ports[i ^ 1] for i in range(len(phone_ports))]
    else:
        relay_conn, relay_child = ctx.Pipe()
        relay = ctx.Process(target=run_relay, args=(relay_child, phone_ports, 30000, gc_mode),
                            daemon=True)
        relay.start()
        dests = relay_conn.recv()
    errors_before = udp_errors()
    start = time.monotonic() + 0.2
    measure_from, measure_to = start + WARMUP, start + WARMUP + seconds
    stop_at = measure_to + COOLDOWN
    gen_conn.send((dests, start, measure_from, measure_to, stop_at))
    relay_stats: dict[str, float] = {"cpu_seconds": 0.0}
    if relay_conn is not None:
        relay_conn.send((measure_from, measure_to))
        relay_stats = relay_conn.recv()
    gen = gen_conn.recv()
    if relay_conn is not None and relay is not None:
        relay_conn.send("stop")
        relay.join(10)
    loadgen.join(10)
    errors = {k: v - errors_before[k] for k, v in udp_errors().items()}
    latencies = sorted(gen["latencies_us"])
    pps = 2 * calls / 0.02
    result = {
        "calls": calls,
        "pps": pps,
        "loss_percent": 100 * (1 - gen["received"] / gen["sent"]) if gen["sent"] else 100.0,
        "p50_ms": statistics.median(latencies) / 1000 if latencies else float("nan"),
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] / 1000 if latencies else 0.0,
        "max_ms": latencies[-1] / 1000 if latencies else float("nan"),
        "relay_cpu_percent": 100 * relay_stats["cpu_seconds"] / seconds,
        "relay_us_per_packet": 1e6 * relay_stats["cpu_seconds"] / (pps * seconds),
        "loadgen_cpu_percent": gen["cpu_percent"],
        "sent": gen["sent"],
        "received": gen["received"],
        "kernel_udp_drops": errors["RcvbufErrors"] + errors["SndbufErrors"],
        "socket_errors": gen["socket_errors"],
        "streams_with_loss": gen["streams_with_loss"],
        "worst_stream_loss": gen["worst_stream_loss"],
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[50, 150, 300])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--gc", choices=["default", "freeze", "off"], default="freeze",
                        help="relay process GC: freeze start-up objects (default, as the "
                             "engine should), leave as is, or disable")
    parser.add_argument("--baseline", action="store_true",
                        help="also run without the relay (phones talk directly)")
    args = parser.parse_args()
    if os.cpu_count() is None or (os.cpu_count() or 0) < 2:
        print("note: fewer than 2 CPUs, relay and generator share a core")
    print(f"{'mode':8} {'calls':>5} {'pps':>6} {'loss%':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'relay CPU%':>10} {'µs/pkt':>7} {'gen CPU%':>8} {'kdrops':>6} "
          f"{'lossy streams':>13}")
    modes = [False, True] if args.baseline else [False]
    for calls in args.calls:
        for baseline in modes:
            r = one_run(calls, args.seconds, baseline, args.gc)
            mode = "direct" if baseline else "relay"
            cpu = "-" if baseline else f"{r['relay_cpu_percent']:.1f}"
            per = "-" if baseline else f"{r['relay_us_per_packet']:.1f}"
            print(f"{mode:8} {calls:5d} {r['pps']:6.0f} {r['loss_percent']:7.3f} "
                  f"{r['p50_ms']:7.3f} {r['p99_ms']:7.3f} {r['max_ms']:7.2f} {cpu:>10} "
                  f"{per:>7} {r['loadgen_cpu_percent']:8.1f} {r['kernel_udp_drops']:6d} "
                  f"{r['streams_with_loss']:13d}", flush=True)


if __name__ == "__main__":
    main()
