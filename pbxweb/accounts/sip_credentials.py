"""HA1 values for SIP digest authentication (RFC 7616 §3.4.2, RFC 8760).

The engine verifies REGISTER/INVITE digests against these; the portal computes them when an
administrator sets a SIP password. Django apps may not import ``softphone.sip`` (layering rule in
ARCHITECTURE.md), and the formula is one line, so it lives here too.
"""

from __future__ import annotations

import hashlib


def sip_ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    material = f"{username}:{realm}:{password}".encode()
    if algorithm == "MD5":
        return hashlib.md5(material, usedforsecurity=False).hexdigest()
    if algorithm == "SHA-256":
        return hashlib.sha256(material).hexdigest()
    raise ValueError(f"unsupported digest algorithm {algorithm!r}")
