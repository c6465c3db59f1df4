"""Calls through a real engine process: set-up rate, concurrent relayed calls, RSS per call.

SIPp plays both phones: ``call_uac`` (extension 10000, digest-authenticated INVITE) calls
extension 10001, which is registered at ``call_uas`` (another SIPp). Every call goes through
the engine as it runs in production: authentication, routing, one relay leg per side (media
anchored), CDR written at the end.

1. **Calls per second**: ``--rate`` calls/s for ``--seconds``, each held ``--hold`` ms, then
   BYE. Prints successful/failed calls, the rate achieved, call set-up time (authenticated
   INVITE -> 200, through the engine and the callee) p50/p95, and the engine's CPU.
2. **Concurrent relayed calls** (``--concurrent N``): N calls are set up and held; the
   engine's relay ports for both legs (from the SDP the phones received, logged by SIPp) are
   handed to ``rtp_loadgen`` — 2N fake phones, 50 packets/s each way — which measures loss
   and one-way latency through the relay for ``--rtp-seconds``; then the calls hang up.
   Also prints the engine's RSS before and with the N calls (RSS per call).

    .venv/bin/python bench/bench_calls.py --rate 50 100 --seconds 10 --concurrent 150

Issue #5 targets: ≥ 100 calls/s at 0 failures; ≥ 150 concurrent relayed calls with 0 loss;
relay latency p99 < 5 ms.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._engine import free_port, running_engine
from bench.bench_register import percentile, response_times, stat_counts
from bench.rtp_loadgen import run_loadgen
from tests.interop.sipp import register_contact as sipp_register_contact

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
CALLER, CALLEE = 10000, 10001
LOADGEN_CPU = 1


def register_contact(engine_port: int, extension: int, contact_port: int) -> None:
    """REGISTER ``extension`` for the callee SIPp's port (SIPp cannot register a UAS)."""
    sipp_register_contact(("127.0.0.1", engine_port), str(extension), f"sip-{extension}",
                          contact_port)


def sipp(scenario: str, engine_port: int, workdir: Path, rows: list[str], *, calls: int,
         rate: float, hold_ms: int, tag: str, port: int | None = None,
         ) -> subprocess.Popen[bytes]:
    inject = workdir / f"{tag}.csv"
    inject.write_text("SEQUENTIAL\n" + "\n".join(rows) + "\n")
    return subprocess.Popen(
        ["sipp", f"127.0.0.1:{engine_port}", "-sf", str(SCENARIOS / f"{scenario}.xml"),
         "-inf", str(inject), "-m", str(calls), "-r", str(rate), "-d", str(hold_ms),
         "-t", "u1", "-i", "127.0.0.1", "-p", str(port or free_port()), "-cp",
         str(free_port()), "-nostdin", "-timeout", "300s", "-trace_stat", "-stf",
         str(workdir / f"{tag}_stat.csv"), "-trace_rtt", "-rtt_freq", "1", "-trace_logs",
         "-trace_err", "-max_recv_loops", "10000", "-max_sched_loops", "10000",
         "-l", "5000", "-default_behaviors", "all,-bye"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def engine_pid(engine_port: int) -> int:
    out = subprocess.run(["ss", "-Hulpn", f"sport = :{engine_port}"], capture_output=True,
                         text=True, check=True).stdout
    match = re.search(r"pid=(\d+)", out)
    assert match, out
    return int(match[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def caller_rows(count: int, ports: list[int]) -> list[str]:
    auth = f"[authentication username={CALLER} password=sip-{CALLER}]"
    return [f"{CALLER};127.0.0.1;{auth};{CALLEE};{ports[i % len(ports)]}" for i in range(count)]


def bench_rate(engine_port: int, workdir: Path, rate: float, seconds: float,
               hold_ms: int, uas_port: int) -> None:
    calls = int(rate * seconds)
    callee = sipp("call_uas", engine_port, workdir, ["4000"], calls=calls, rate=rate,
                  hold_ms=hold_ms, tag=f"uas{rate:.0f}", port=uas_port)
    time.sleep(0.3)
    register_contact(engine_port, CALLEE, uas_port)
    pid = engine_pid(engine_port)
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    caller = sipp("call_uac", engine_port, workdir, caller_rows(1, [4002]), calls=calls,
                  rate=rate, hold_ms=hold_ms, tag=f"uac{rate:.0f}")
    caller.wait(timeout=seconds * 10 + 300)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu_before
    callee.wait(timeout=30)
    ok, bad = stat_counts(workdir / f"uac{rate:.0f}_stat.csv")
    setup = response_times(workdir, "call_uac").get(1, [])
    print(f"calls: offered {rate:.0f}/s for {seconds:.0f} s (held {hold_ms} ms): {ok} ok, "
          f"{bad} failed, {ok / max(elapsed - hold_ms / 1000, 0.001):.0f} calls/s achieved; "
          f"set-up (authenticated INVITE -> 200) p50 "
          f"{statistics.median(setup) if setup else float('nan'):.0f} ms p95 "
          f"{percentile(setup, 0.95):.0f} ms; engine CPU {100 * cpu / elapsed:.0f} % of one "
          f"core, RSS {rss_mib(pid):.0f} MiB")
    for path in workdir.glob("call_*_rtt.csv"):
        path.unlink()


def _relay_ports(workdir: Path, role: str) -> dict[int, int]:
    """phone RTP port -> the engine's relay port facing it, from SIPp's -trace_logs."""
    ports: dict[int, int] = {}
    for path in workdir.glob(f"call_{'uac' if role == 'caller' else 'uas'}_*_logs.log"):
        for match in re.finditer(rf"^{role} (\d+) (\d+)", path.read_text(), re.MULTILINE):
            ports[int(match[1])] = int(match[2])
    return ports


def bench_concurrent(engine_port: int, workdir: Path, calls: int, rtp_seconds: float,
                     uas_port: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    gen_conn, gen_child = ctx.Pipe()
    loadgen = ctx.Process(target=run_loadgen, args=(gen_child, 2 * calls, LOADGEN_CPU),
                          daemon=True)
    loadgen.start()
    phone_ports: list[int] = gen_conn.recv()
    caller_ports, callee_ports = phone_ports[0::2], phone_ports[1::2]
    setup_rate = 50
    hold_ms = int((calls / setup_rate + rtp_seconds + 8) * 1000)
    callee = sipp("call_uas", engine_port, workdir, [str(p) for p in callee_ports],
                  calls=calls, rate=setup_rate, hold_ms=hold_ms, tag="cuas", port=uas_port)
    time.sleep(0.3)
    register_contact(engine_port, CALLEE, uas_port)
    pid = engine_pid(engine_port)
    rss_before = rss_mib(pid)
    caller = sipp("call_uac", engine_port, workdir,
                  caller_rows(calls, caller_ports), calls=calls, rate=setup_rate,
                  hold_ms=hold_ms, tag="cuac")
    deadline = time.monotonic() + calls / setup_rate + 20
    wanted_a, wanted_b = set(caller_ports), set(callee_ports)
    while time.monotonic() < deadline:  # only this run's phones count
        a = {k: v for k, v in _relay_ports(workdir, "caller").items() if k in wanted_a}
        b = {k: v for k, v in _relay_ports(workdir, "callee").items() if k in wanted_b}
        if len(a) == calls and len(b) == calls:
            break
        time.sleep(0.5)
    if len(a) < calls or len(b) < calls:
        print(f"concurrent: only {len(a)}/{len(b)} of {calls} calls set up; giving up")
        caller.kill()
        callee.kill()
        loadgen.kill()
        return
    rss_with_calls = rss_mib(pid)
    # Phone 2k is caller k, phone 2k+1 callee k; each sends to the relay port facing it.
    dests: list[int] = []
    for k in range(calls):
        dests += [a[caller_ports[k]], b[callee_ports[k]]]
    start = time.monotonic() + 0.2
    measure_from, measure_to = start + 1.0, start + 1.0 + rtp_seconds
    cpu_before = cpu_seconds(pid)
    gen_conn.send((dests, start, measure_from, measure_to, measure_to + 0.5))
    gen = gen_conn.recv()
    cpu = cpu_seconds(pid) - cpu_before
    loadgen.join(10)
    caller.wait(timeout=hold_ms / 1000 + 120)
    callee.wait(timeout=60)
    ok, bad = stat_counts(workdir / "cuac_stat.csv")
    latencies = sorted(gen["latencies_us"]) or [float("nan")]
    print(f"(loadgen: sent {gen['sent']}, received {gen['received']}, socket errors "
          f"{gen['socket_errors']})")
    loss = 100 * (1 - gen["received"] / gen["sent"]) if gen["sent"] else 100.0
    # rtp_loadgen pairs phone i with i^1: the caller's packets reach the callee and back.
    print(f"concurrent: {calls} calls through the engine ({ok} ok, {bad} failed), "
          f"{2 * calls / 0.02:.0f} packets/s relayed for {rtp_seconds:.0f} s: loss "
          f"{loss:.3f} % ({gen['sent'] - gen['received']} of {gen['sent']}), streams with "
          f"loss {gen['streams_with_loss']}, one-way latency p50 "
          f"{statistics.median(latencies) / 1000:.2f} ms p99 "
          f"{latencies[int(0.99 * (len(latencies) - 1))] / 1000:.2f} ms; engine CPU "
          f"{100 * cpu / (rtp_seconds + 1.5):.0f} % of one core; engine RSS "
          f"{rss_before:.0f} MiB -> {rss_with_calls:.0f} MiB with the calls "
          f"({1024 * (rss_with_calls - rss_before) / calls:.0f} KiB per call)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, nargs="*", default=[50.0, 100.0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--hold", type=int, default=1000, help="ms each call is held")
    parser.add_argument("--concurrent", type=int, nargs="*", default=[150])
    parser.add_argument("--rtp-seconds", type=float, default=10.0)
    parser.add_argument("--workdir", type=Path, help="keep SIPp's files here")
    args = parser.parse_args()
    with running_engine(2, first=CALLER, extra_env={
            "RTP_PORT_FIRST": "20000", "RTP_PORT_LAST": "39999", "RTP_TIMEOUT": "600",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}) as (_, port, _env), \
            tempfile.TemporaryDirectory(prefix="bench-calls-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        uas_port = free_port()  # one callee address for every run: one binding in the engine
        for rate in args.rate:
            bench_rate(port, workdir, rate, args.seconds, args.hold, uas_port)
        for calls in args.concurrent:
            bench_concurrent(port, workdir, calls, args.rtp_seconds, uas_port)


if __name__ == "__main__":
    main()
