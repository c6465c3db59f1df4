"""REGISTER with digest authentication per second, against one engine process (SIPp load).

Each call of the scenario is a full registration: REGISTER → 401 challenge → REGISTER with
credentials → 200. Prints registrations/s at 0 failures and the p50/p95 response time of the
authenticated REGISTER, plus OPTIONS/s.

    .venv/bin/python bench/bench_register.py [--rate 2000] [--seconds 10] [--sipp 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._engine import free_port, running_engine

BENCH_SCENARIOS = Path(__file__).resolve().parent / "scenarios"
SCENARIOS = Path(__file__).resolve().parents[1] / "tests" / "interop" / "scenarios"


def run_sipp(scenario: str, port: int, workdir: Path, rows: list[str], calls: int,
             rate: float, tag: str) -> subprocess.Popen[bytes]:
    inject = workdir / f"{tag}.csv"
    inject.write_text("SEQUENTIAL\n" + "\n".join(rows) + "\n")
    return subprocess.Popen(
        ["sipp", f"127.0.0.1:{port}", "-sf", str(_scenario(scenario)), "-inf",
         str(inject), "-m", str(calls), "-r", str(int(rate)), "-t", "u1", "-i", "127.0.0.1",
         "-p", str(free_port()), "-cp", str(free_port()), "-nostdin", "-timeout", "120s",
         "-trace_stat", "-stf", str(workdir / f"{tag}_stat.csv"), "-trace_rtt",
         "-rtt_freq", "1", "-trace_err", "-error_file", str(workdir / f"{tag}_err.log"),
         "-max_recv_loops", "10000", "-max_sched_loops", "10000", "-l", "5000"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stat_counts(path: Path) -> tuple[int, int]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    header, last = lines[0].split(";"), lines[-1].split(";")
    values = dict(zip(header, last, strict=False))
    return int(values["SuccessfulCall(C)"]), int(values["FailedCall(C)"])


def _scenario(name: str) -> Path:
    local = BENCH_SCENARIOS / f"{name}.xml"
    return local if local.exists() else SCENARIOS / f"{name}.xml"


def response_times(workdir: Path, scenario: str) -> dict[int, list[float]]:
    """Milliseconds per SIPp response-time number (``rtd``), from its ``*_rtt.csv`` files.

    SIPp writes whole milliseconds, so 0 means "under a millisecond"."""
    times: dict[int, list[float]] = {}
    for path in workdir.glob(f"{scenario}_*_rtt.csv"):
        for line in path.read_text().splitlines()[1:]:
            fields = line.split(";")
            try:
                times.setdefault(int(fields[2]), []).append(float(fields[1]))
            except (IndexError, ValueError):
                continue
    return times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * fraction) - 1)] if ordered else float("nan")


def bench_registers(port: int, workdir: Path, first: int, extensions: int, rate: float,
                    seconds: float, sipp_processes: int) -> None:
    per_process_rate = rate / sipp_processes
    calls = int(per_process_rate * seconds)
    processes = []
    for index in range(sipp_processes):
        rows = [f"{n};127.0.0.1;[authentication username={n} password=sip-{n}]"
                for n in range(first + index, first + extensions, sipp_processes)]
        processes.append(run_sipp("register_digest", port, workdir, rows, calls,
                                  per_process_rate, f"reg{index}"))
    started = time.monotonic()
    for process in processes:
        process.wait(timeout=seconds * 10 + 120)
    elapsed = time.monotonic() - started
    successful = failed = 0
    for index in range(sipp_processes):
        ok, bad = stat_counts(workdir / f"reg{index}_stat.csv")
        successful, failed = successful + ok, failed + bad
    times = response_times(workdir, "register_digest")
    challenge, registered = times.get(1, []), times.get(2, [])
    print(f"REGISTER+digest: offered {rate:.0f}/s for {seconds:.0f}s by {sipp_processes} SIPp: "
          f"{successful} ok, {failed} failed, {successful / elapsed:.0f}/s achieved; "
          f"REGISTER->401 p50 {statistics.median(challenge) if challenge else 0:.0f} ms "
          f"p95 {percentile(challenge, 0.95):.0f} ms; REGISTER with credentials->200 "
          f"p50 {statistics.median(registered) if registered else 0:.0f} ms "
          f"p95 {percentile(registered, 0.95):.0f} ms (SIPp resolution: 1 ms)")


def bench_options(port: int, workdir: Path, rate: float, seconds: float) -> None:
    calls = int(rate * seconds)
    process = run_sipp("options", port, workdir, ["x"], calls, rate, "opt")
    started = time.monotonic()
    process.wait(timeout=seconds * 10 + 120)
    elapsed = time.monotonic() - started
    ok, bad = stat_counts(workdir / "opt_stat.csv")
    print(f"OPTIONS: offered {rate:.0f}/s: {ok} ok, {bad} failed, {ok / elapsed:.0f}/s achieved")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--options-rate", type=float, default=4000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--sipp", type=int, default=2)
    parser.add_argument("--extensions", type=int, default=2000)
    args = parser.parse_args()
    first = 10000
    with running_engine(args.extensions, first) as (_, port, _env), \
            tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bench_registers(port, workdir, first, args.extensions, args.rate, args.seconds,
                        args.sipp)
        bench_options(port, workdir, args.options_rate, args.seconds)


if __name__ == "__main__":
    main()
