"""Run SIPp (Debian ``sip-tester``) scenarios against the engine, on loopback only.

Notes from ../shared/notes/real-peers.md: SIPp 3.6 does not expand fields nested inside the
``[authentication ...]`` keyword, so the whole keyword goes into one injection field.
"""

from __future__ import annotations

import re
import secrets
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


def register_contact(engine: tuple[str, int], extension: str, password: str,
                     contact_port: int) -> None:
    """REGISTER ``extension`` (MD5 digest) for a device listening at ``contact_port`` (a SIPp
    UAS, which cannot register itself): the engine sends its requests to that Contact."""
    from tests.softphone.pbx.sipclient import digest_authorization

    call_id = f"reg-{secrets.token_hex(6)}@test"  # a fresh registration each time (§10.3)

    def message(cseq: int, local: int, authorization: str = "") -> bytes:
        lines = ["REGISTER sip:127.0.0.1 SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKreg{cseq}{contact_port}",
                 "Max-Forwards: 70", f"From: <sip:{extension}@127.0.0.1>;tag=r{cseq}",
                 f"To: <sip:{extension}@127.0.0.1>", f"Call-ID: {call_id}",
                 f"CSeq: {cseq} REGISTER",
                 f"Contact: <sip:{extension}@127.0.0.1:{contact_port}>", "Expires: 600"]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        return ("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode()

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        local = sock.getsockname()[1]
        sock.sendto(message(1, local), engine)
        challenge = re.search(r"^WWW-Authenticate: (.*)$", sock.recv(65535).decode(), re.M)
        assert challenge, "no challenge"
        sock.sendto(message(2, local, digest_authorization(
            challenge[1].strip(), method="REGISTER", uri="sip:127.0.0.1", username=extension,
            password=password)), engine)
        answer = sock.recv(65535).decode()
        assert answer.startswith("SIP/2.0 200"), answer
