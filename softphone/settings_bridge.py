"""Django settings → ``EngineConfig`` (the only place the engine reads Django settings)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings

from softphone.pbx.bans import BanPolicy
from softphone.pbx.config import EngineConfig
from softphone.pbx.registrar import RegistrarPolicy
from softphone.sip.certificates import ensure_self_signed


def engine_config(**overrides: object) -> EngineConfig:
    tls_cert = Path(settings.SIP_TLS_CERT) if settings.SIP_TLS_CERT else None
    tls_key = Path(settings.SIP_TLS_KEY) if settings.SIP_TLS_KEY else None
    if settings.SIP_TLS_PORT and tls_cert is None:
        # Embedded default: a self-signed certificate kept in var/.
        tls_cert = Path(settings.VAR_DIR) / "sip-tls" / "cert.pem"
        tls_key = Path(settings.VAR_DIR) / "sip-tls" / "key.pem"
        ensure_self_signed(tls_cert, tls_key, [settings.SIP_BIND_HOST, settings.SIP_DOMAIN])
    values: dict[str, object] = {
        "host": settings.SIP_BIND_HOST,
        # Port 0 in the settings switches a transport off (EngineConfig: None; 0 = any port).
        "udp_port": settings.SIP_UDP_PORT or None,
        "tcp_port": settings.SIP_TCP_PORT or None,
        "tls_port": settings.SIP_TLS_PORT or None,
        "tls_cert": tls_cert,
        "tls_key": tls_key,
        "realm": settings.SIP_REALM,
        "domain": settings.SIP_DOMAIN,
        "digest_algorithms": tuple(settings.SIP_DIGEST_ALGORITHMS),
        # Nonces are signed with a key derived from SECRET_KEY, so that every engine process
        # of one installation accepts the others' nonces and a restart keeps them valid.
        "nonce_secret": hashlib.sha256(b"sip-nonce:" + settings.SECRET_KEY.encode()).digest(),
        "registrar": RegistrarPolicy(
            default_expires=settings.SIP_DEFAULT_EXPIRES, min_expires=settings.SIP_MIN_EXPIRES,
            max_expires=settings.SIP_MAX_EXPIRES,
            max_bindings_per_aor=settings.SIP_MAX_DEVICES_PER_EXTENSION),
        "bans": BanPolicy(max_failures=settings.SIP_BAN_FAILURES,
                          window=settings.SIP_BAN_WINDOW, ban_seconds=settings.SIP_BAN_SECONDS),
        "rtp_port_first": settings.RTP_PORT_FIRST,
        "rtp_port_last": settings.RTP_PORT_LAST,
        "media_host": settings.RTP_MEDIA_HOST or None,
        "rtp_timeout": settings.RTP_TIMEOUT,
        "transfer_ring_seconds": settings.SIP_TRANSFER_RING_SECONDS,
        "prompts_dir": Path(settings.VAR_DIR) / "prompts",
    }
    values.update(overrides)
    return EngineConfig(**values)  # type: ignore[arg-type]
