"""The engine's configuration, as plain values (built from Django settings at the edge)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from softphone.pbx.bans import BanPolicy
from softphone.pbx.registrar import RegistrarPolicy


@dataclass(frozen=True, slots=True)
class EngineConfig:
    host: str = "127.0.0.1"
    udp_port: int | None = 5060  # None: off; 0: any free port (tests)
    tcp_port: int | None = 5060
    tls_port: int | None = 5061
    tls_cert: Path | None = None
    tls_key: Path | None = None
    realm: str = "pbxweb"
    domain: str = "127.0.0.1"
    # Digest algorithms offered in challenges, in order of preference (RFC 8760 §2.4). MD5
    # alone by default: see SIP_DIGEST_ALGORITHMS in pbxweb/settings.py.
    digest_algorithms: tuple[str, ...] = ("MD5",)
    nonce_secret: bytes = b""
    nonce_lifetime: float = 300.0
    registrar: RegistrarPolicy = field(default_factory=RegistrarPolicy)
    bans: BanPolicy = field(default_factory=BanPolicy)
    max_message_bytes: int = 65_535
    max_tcp_connections: int = 4096
    tcp_first_message_timeout: float = 32.0
    tcp_idle_timeout: float = 600.0
    persist_interval: float = 0.5  # registrations are written to the database in batches
    user_agent: str = "pbxweb"
    # Media (issue #5): the relay's RTP ports (even numbers carry RTP, the next odd RTCP),
    # the address announced in our SDP (None: ``host``), and how long a call may go without
    # any RTP from a phone before it is torn down (the phone vanished).
    rtp_port_first: int = 16000
    rtp_port_last: int = 16999
    media_host: str | None = None
    rtp_timeout: float = 60.0
    # A blind transfer's target rings at most this long before the call comes back.
    transfer_ring_seconds: float = 20.0
    # Spoken prompts are synthesised (espeak-ng) into this folder on first use.
    prompts_dir: Path = Path("var/prompts")
