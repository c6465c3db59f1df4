"""linphonec (Debian ``linphone-cli`` 5.1) as a real SIP phone, driven over its stdin.

From ../shared/notes/real-peers.md: one HOME (and XDG_RUNTIME_DIR) per instance; pinned to
127.0.0.1 with ``bind_address`` and a NAT policy without STUN; no SRV lookups, no publish, no
quality reports, no remote provisioning; registration state only via ``states proxies``; after a
403 linphonec reads the next input line as a password (so a failed test must not feed it more).
Run it inside a loopback-only network namespace (``loopback_netns``): liblinphone connect()s a
UDP socket to a public address to learn its local address.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.interop.sipp import free_port

PROXY_STATE = re.compile(r"^sip:\S+\s+\|\s*(LinphoneRegistration\w+)", re.MULTILINE)


@dataclass
class Linphone:
    workdir: Path
    extension: str
    password: str
    registrar: tuple[str, int]
    prefix: list[str] = field(default_factory=list)  # e.g. nsenter into a network namespace
    expires: int = 60
    realm: str = "pbxweb"
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Linphone:
        binary = shutil.which("linphonec")
        if binary is None:
            raise RuntimeError("linphonec is missing: apt-get install linphone-cli")
        home = self.workdir / f"linphone-{self.extension}-{free_port()}"
        (home / "run").mkdir(parents=True)
        # Without its data folder liblinphone cannot open linphone.db, and then its core never
        # reaches "network UP": no listening point is created and no REGISTER is sent.
        (home / ".local" / "share" / "linphone").mkdir(parents=True)
        self.home = home
        self.sip_port = free_port()
        rtp = free_port() & ~1
        host, port = self.registrar
        self.rc = home / ".linphonerc"
        self.rc.write_text(f"""\
[sip]
bind_address=127.0.0.1
sip_port={self.sip_port}
sip_tcp_port=0
sip_tls_port=0
ipv6_enabled=0
default_proxy=0
guess_hostname=0
register_only_when_network_is_up=0
auto_net_state_mon=0

[net]
firewall_policy=0
dns_srv_enabled=0
mtu=1300

[rtp]
bind_address=127.0.0.1
audio_rtp_port={rtp}

[sound]
echocancellation=0

[misc]
config-uri=
log_collection_upload_server_url=
enable_basic_to_client_group_chat_room_migration=0

[nat_policy_0]
ref=loopback
stun_server=
protocols=

[proxy_0]
reg_proxy=<sip:{host}:{port};transport=udp>
reg_identity=<sip:{self.extension}@{host}>
reg_expires={self.expires}
reg_sendregister=1
publish=0
quality_reporting_enabled=0
nat_policy_ref=loopback
dial_escape_plus=0

[auth_info_0]
username={self.extension}
userid={self.extension}
passwd={self.password}
realm={self.realm}
domain={host}
""")
        env = {key: value for key, value in os.environ.items() if not key.startswith("XDG_")}
        env.update(HOME=str(home), XDG_RUNTIME_DIR=str(home / "run"))
        self.log_path = home / "linphonec.out"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            # -d 6: SIP messages in the output, so tests can see e.g. the digest algorithm used
            [*self.prefix, binary, "-c", str(self.rc), "-d", "6"], cwd=home, env=env,
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def output(self) -> str:
        path = getattr(self, "log_path", None)
        return path.read_text(errors="replace") if path and path.exists() else ""

    def send(self, line: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def proxy_state(self, timeout: float = 2.0) -> str | None:
        """The account's state from ``states proxies``, e.g. ``LinphoneRegistrationOk``."""
        mark = len(self.output())
        self.send("states proxies")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = PROXY_STATE.search(self.output()[mark:])
            if match:
                return match[1]
            time.sleep(0.05)
        return None

    def registered(self, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            if self.proxy_state() == "LinphoneRegistrationOk":
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.send("quit")
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
