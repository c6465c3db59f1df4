"""baresip (Debian 1.0.0) as a real SIP phone, driven over its ``ctrl_tcp`` netstring socket.

Facts from ../shared/notes/real-peers.md: pin to 127.0.0.1 (``net_interface 127.0.0.1``, no
DNS), one config dir per instance, poll ``reginfo`` since REGISTER_OK may come before we listen.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.interop.sipp import free_port

MODULE_PATH = "/usr/lib/baresip/modules"


@dataclass
class Baresip:
    workdir: Path
    extension: str
    password: str
    registrar: tuple[str, int]
    transport: str = "udp"
    regint: int = 600
    answermode: str = "manual"
    audio_source: str | None = None
    record: bool = False  # sndfile: what the phone heard goes to dump-*-dec.wav in its home
    prefix: list[str] = field(default_factory=list)  # e.g. nsenter into a network namespace
    process: subprocess.Popen[bytes] | None = None
    control: socket.socket | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    _buffer: bytes = b""

    def start(self, attempts: int = 3) -> Baresip:
        """Start it; a port that another process took between our probe and baresip's bind
        ("Address already in use", seen on a busy machine) is retried with new ports."""
        for attempt in range(attempts):
            try:
                return self._start()
            except RuntimeError as error:
                if "Address already in use" not in str(error) or attempt == attempts - 1:
                    raise
                log = getattr(self, "log", None)
                if log is not None:
                    log.close()
        raise AssertionError("unreachable")

    def _start(self) -> Baresip:
        binary = shutil.which("baresip")
        if binary is None:
            raise RuntimeError("baresip is missing: apt-get install baresip (./pbx test does)")
        home = self.workdir / f"baresip-{self.extension}-{free_port()}"
        home.mkdir(parents=True)
        self.sip_port = free_port()
        self.control_port = free_port(socket.SOCK_STREAM)
        rtp = free_port() & ~1
        host, port = self.registrar
        (home / "config").write_text("\n".join([
            f"module_path {MODULE_PATH}",
            "module g711.so",
            "module aufile.so",
            "module ausine.so",
            "module menu.so",
            "module account.so",
            "module ctrl_tcp.so",
            *(["module sndfile.so", f"snd_path {home}"] if self.record else []),
            f"sip_listen 127.0.0.1:{self.sip_port}",
            "net_interface 127.0.0.1",
            "dns_server 127.0.0.1:53",
            f"ctrl_tcp_listen 127.0.0.1:{self.control_port}",
            f"rtp_ports {rtp}-{rtp + 20}",
            f"audio_source {self.audio_source or 'ausine,440'}",
            "audio_player aufile,/dev/null",
            "audio_alert aufile,/dev/null",
            "sip_trans_def " + self.transport,
            "",
        ]))
        (home / "accounts").write_text(
            f"<sip:{self.extension}@{host}:{port};transport={self.transport}>"
            f";auth_user={self.extension};auth_pass={self.password};regint={self.regint}"
            f";answermode={self.answermode};audio_codecs=PCMU,PCMA;ptime=20\n")
        (home / "contacts").write_text("")
        self.home = home
        self.log = (home / "baresip.log").open("wb")
        self.process = subprocess.Popen([*self.prefix, binary, "-f", str(home)],
                                        stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.control = socket.create_connection(("127.0.0.1", self.control_port), 1)
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"baresip did not start: {self.output()}") from None
                time.sleep(0.1)
        return self

    def heard(self) -> Path:
        """The decoded audio this phone received in its (last) call (``record=True``)."""
        dumps = sorted(self.home.glob("dump-*-dec.wav"))
        if not dumps:
            raise AssertionError(f"baresip wrote no dump-*-dec.wav; log:\n{self.output()[-2000:]}")
        return dumps[-1]

    def output(self) -> str:
        path = getattr(self, "home", None)
        return (path / "baresip.log").read_text(errors="replace") if path else ""

    # -- control socket (netstrings: "<len>:<json>,") -------------------------------------
    def command(self, command: str, params: str = "", timeout: float = 5) -> dict[str, Any]:
        assert self.control is not None
        token = str(time.monotonic_ns())
        payload = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.control.sendall(f"{len(payload)}:".encode() + payload + b",")
        deadline = time.monotonic() + timeout
        answer: dict[str, Any] | None = None
        while answer is None and time.monotonic() < deadline:
            # Keep every event of the batch, also those after the answer (a call can be
            # set up within the same read as the "dial" answer).
            for message in self._read(deadline - time.monotonic()):
                if message.get("response") and message.get("token") == token:
                    answer = message
                elif not message.get("response"):
                    self.events.append(message)
        if answer is None:
            raise TimeoutError(f"baresip did not answer {command!r} (unparsed: "
                               f"{self._buffer[:300]!r})")
        return answer

    def wait_event(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("type") == kind:
                    return self.events.pop(index)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [event.get("type") for event in self.events]
                raise TimeoutError(f"no {kind} from baresip (events: {seen}); log:\n"
                                   f"{self.output()[-3000:]}")
            self.events.extend(m for m in self._read(remaining) if not m.get("response"))

    def _read(self, timeout: float) -> list[dict[str, Any]]:
        assert self.control is not None
        self.control.settimeout(max(0.05, min(timeout, 0.5)))
        try:
            chunk = self.control.recv(65536)
        except TimeoutError:
            chunk = b""
        self._buffer += chunk
        messages = []
        while b":" in self._buffer:
            length_text, _, rest = self._buffer.partition(b":")
            if not length_text.isdigit():
                raise ValueError(f"bad netstring from baresip: {self._buffer[:40]!r}")
            length = int(length_text)
            if len(rest) < length + 1:
                break
            messages.append(json.loads(rest[:length]))
            self._buffer = rest[length + 1:]
        return messages

    def registered(self, timeout: float = 10) -> bool:
        """Poll ``reginfo`` until the account says OK (or give up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.command("reginfo").get("data", "")
            if "OK" in info:
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(OSError, TimeoutError):
                self.command("quit", timeout=2)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.control is not None:
            self.control.close()
        log = getattr(self, "log", None)  # absent when start() failed early
        if log is not None:
            log.close()
