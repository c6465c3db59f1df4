"""Start a real engine process for a benchmark: a throwaway database with N extensions."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def manage(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


SEED_EXTENSIONS = """
from pbxweb.accounts import actions
from pbxweb.accounts.models import Extension
for n in range({first}, {first} + {count}):
    actions.do_create_extension(actions.NewExtension(number=str(n), sip_password=f"sip-{{n}}"),
                                send_welcome=False)
print(Extension.objects.count())
"""


@contextmanager
def running_engine(extensions: int, first: int = 10000, extra_env: dict[str, str] | None = None,
                   ) -> Iterator[tuple[str, int, dict[str, str]]]:
    """Yield (host, port, env) of an engine with extensions first..first+N (SIP pw sip-<n>)."""
    with tempfile.TemporaryDirectory(prefix="pbxweb-bench-") as var:
        port = free_port()
        env = {**os.environ, "PBXWEB_VAR_DIR": var, "DJANGO_SETTINGS_MODULE": "pbxweb.settings",
               "SIP_TLS_PORT": "0", "LOG_LEVEL": "WARNING", "SIP_BAN_FAILURES": "1000000",
               # SIPp 3.6 answers only the first challenge and only MD5 (real-peers.md).
               "SIP_DIGEST_ALGORITHMS": "MD5", **(extra_env or {})}
        manage(["migrate", "-v0"], env)
        subprocess.run([sys.executable, "manage.py", "shell", "-c",
                        SEED_EXTENSIONS.format(first=first, count=extensions)],
                       cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runengine", "--udp-port", str(port), "--tcp-port",
             str(port), "--tls-port", "0"], cwd=ROOT, env=env)
        try:
            _wait_for_udp(port)
            yield "127.0.0.1", port, env
        finally:
            process.terminate()
            process.wait(timeout=20)


def _wait_for_udp(port: int) -> None:
    probe = (b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKw\r\n"
             b"From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: wait\r\n"
             b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    deadline = time.monotonic() + 30
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        while time.monotonic() < deadline:
            sock.sendto(probe, ("127.0.0.1", port))
            try:
                sock.recvfrom(4096)
                return
            except OSError:
                time.sleep(0.2)
    raise RuntimeError("engine did not answer OPTIONS within 30 s")
