"""Run SIPp (Debian ``sip-tester``) scenarios against the engine, on loopback only.

Notes from ../shared/notes/real-peers.md: SIPp 3.6 does not expand fields nested inside the
``[authentication ...]`` keyword, so the whole keyword goes into one injection field.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True)
class SippResult:
    returncode: int
    successful: int
    failed: int
    output: str
    stats: str


def auth_row(extension: str, domain: str, password: str) -> str:
    return f"{extension};{domain};[authentication username={extension} password={password}]"


def run_sipp(scenario: str, target: tuple[str, int], *, rows: list[str], workdir: Path,
             calls: int = 1, rate: float = 10, transport: str = "u1",
             timeout: float = 30, extra: list[str] | None = None,
             local_port: int | None = None, local_ip: str = "127.0.0.1") -> SippResult:
    return start_sipp(scenario, target, rows=rows, workdir=workdir, calls=calls, rate=rate,
                      transport=transport, timeout=timeout, extra=extra,
                      local_port=local_port, local_ip=local_ip).wait()


@dataclass
class SippRun:
    """A SIPp process running in the background (a carrier waiting for the PBX's requests)."""

    process: subprocess.Popen[str]
    stats: Path
    timeout: float

    def wait(self) -> SippResult:
        try:
            stdout, stderr = self.process.communicate(timeout=self.timeout + 30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, stderr = self.process.communicate()
        stats_text = self.stats.read_text() if self.stats.exists() else ""
        successful, failed = _counts(stats_text)
        return SippResult(self.process.returncode, successful, failed, stdout + stderr,
                          stats_text)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def start_sipp(scenario: str, target: tuple[str, int], *, rows: list[str], workdir: Path,
               calls: int = 1, rate: float = 10, transport: str = "u1",
               timeout: float = 30, extra: list[str] | None = None,
               local_port: int | None = None, local_ip: str = "127.0.0.1") -> SippRun:
    sipp = shutil.which("sipp")
    if sipp is None:
        raise RuntimeError("sipp is missing: apt-get install sip-tester (./pbx test does)")
    inject = workdir / f"{scenario}.csv"
    inject.write_text("SEQUENTIAL\n" + "\n".join(rows) + "\n")
    stats = workdir / f"{scenario}_stats.csv"
    command = [
        sipp, f"{target[0]}:{target[1]}", "-sf", str(SCENARIOS / f"{scenario}.xml"),
        "-inf", str(inject), "-m", str(calls), "-r", str(rate), "-t", transport,
        "-i", local_ip, "-p", str(local_port or free_port()),
        "-cp", str(free_port(socket.SOCK_DGRAM)),
        "-timeout", f"{int(timeout)}s", "-timeout_error", "-nostdin",
        "-trace_stat", "-stf", str(stats), "-max_recv_loops", "1000",
    ] + (extra or [])
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    return SippRun(process, stats, timeout)


def _counts(stats_text: str) -> tuple[int, int]:
    """SuccessfulCall(C) and FailedCall(C) from the last line of SIPp's statistics file."""
    lines = [line for line in stats_text.splitlines() if line.strip()]
    if len(lines) < 2:
        return 0, 0
    header = lines[0].split(";")
    last = lines[-1].split(";")
    values = dict(zip(header, last, strict=False))
    return int(values.get("SuccessfulCall(C)", 0)), int(values.get("FailedCall(C)", 0))


def response_codes(trace: str) -> list[int]:
    return [int(code) for code in re.findall(r"^SIP/2\.0 (\d{3})", trace, re.MULTILINE)]
