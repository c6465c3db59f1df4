"""``runpbx`` (embedded default): web client and SIP engine in one process, clean SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _options(via_transport: str, port: int) -> bytes:
    return (f"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{via_transport} 127.0.0.1:{port}"
            f";branch=z9hG4bK{time.monotonic_ns()}\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\n"
            "To: <sip:127.0.0.1>\r\nCall-ID: runpbx-test\r\nCSeq: 1 OPTIONS\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int]


@pytest.fixture(scope="module")
def runpbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    var = tmp_path_factory.mktemp("runpbx-var")
    ports = {"http": _free_port(socket.SOCK_STREAM), "udp": _free_port(socket.SOCK_DGRAM),
             "tls": _free_port(socket.SOCK_STREAM)}
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL")}  # the embedded default, on purpose
    env.update(PBXWEB_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="pbxweb.settings",
               SIP_UDP_PORT=str(ports["udp"]), SIP_TCP_PORT=str(ports["udp"]),
               SIP_TLS_PORT=str(ports["tls"]), LOG_LEVEL="INFO")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env,
                   check=True, timeout=120)
    log = (var / "runpbx.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runpbx", "--port", str(ports["http"])],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{ports['http']}/webclient/login/", timeout=1)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"runpbx did not start:\n{log.read()}") from None
                time.sleep(0.2)
        yield Running(process, var / "runpbx.log", ports)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        log.close()


def test_engine_answers_over_udp_in_the_same_process(runpbx: Running) -> None:
    # The web page answers first; the engine listens once its media relay and trunks are
    # ready (a moment later on a loaded machine): ask again until it answers.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sock.bind(("127.0.0.1", 0))
        deadline = time.monotonic() + 30
        while True:
            sock.sendto(_options("UDP", sock.getsockname()[1]),
                        ("127.0.0.1", runpbx.ports["udp"]))
            try:
                data, _ = sock.recvfrom(65535)
                break
            except TimeoutError:
                assert time.monotonic() < deadline, "the engine never answered OPTIONS"
    assert data.startswith(b"SIP/2.0 200 ")


def test_engine_answers_over_tls_with_the_generated_certificate(
        runpbx: Running) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # self-signed for the embedded default
    with socket.create_connection(("127.0.0.1", runpbx.ports["tls"]), timeout=5) as raw, \
            context.wrap_socket(raw) as tls:
        tls.sendall(_options("TLS", tls.getsockname()[1]))
        data = tls.recv(65535)
        certificate = tls.getpeercert(binary_form=True)
    assert data.startswith(b"SIP/2.0 200 ")
    assert certificate


def test_sigterm_stops_web_and_engine_cleanly(runpbx: Running) -> None:
    runpbx.process.send_signal(signal.SIGTERM)
    assert runpbx.process.wait(timeout=15) == 0
    log = runpbx.log.read_text()
    assert "engine listening on udp:127.0.0.1" in log
    assert "engine stopped" in log
    assert "Traceback" not in log
