"""An engine on loopback with a MemoryStore: extensions 201 and 202 (SIP password pw-<n>)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from softphone.pbx.bans import BanPolicy
from softphone.pbx.config import EngineConfig
from softphone.pbx.engine import Engine
from softphone.pbx.storage import MemoryStore, SipCredentials
from softphone.sip.digest import ha1_md5, ha1_sha256
from softphone.sip.transport import TransportKind
from tests.softphone.pbx.phone import Phone, phones

REALM = "pbxweb"


def credentials(number: str, password: str | None = None) -> SipCredentials:
    password = password or f"pw-{number}"
    return SipCredentials(number, REALM, ha1_md5(number, REALM, password),
                          ha1_sha256(number, REALM, password))


TEST_CONFIG = EngineConfig(host="127.0.0.1", udp_port=0, tcp_port=0, tls_port=None,
                           realm=REALM, nonce_secret=b"engine-tests-secret-0123456789",
                           digest_algorithms=("SHA-256", "MD5"),  # both, RFC 8760 order
                           persist_interval=0.01,
                           bans=BanPolicy(max_failures=5, window=60, ban_seconds=600))


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore([credentials("201"), credentials("202")])


@pytest.fixture
def engine_config() -> EngineConfig:
    return TEST_CONFIG


@pytest.fixture
async def engine(store: MemoryStore, engine_config: EngineConfig) -> AsyncIterator[Engine]:
    engine = Engine(engine_config, store)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


def udp_address(engine: Engine) -> tuple[str, int]:
    return engine.addresses[TransportKind.UDP]


def tcp_address(engine: Engine) -> tuple[str, int]:
    return engine.addresses[TransportKind.TCP]


def config_with(**changes: object) -> EngineConfig:
    return replace(TEST_CONFIG, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def three(engine: Engine) -> AsyncIterator[tuple[Phone, Phone, Phone]]:
    """Scripted phones registered as 201, 202 and 203 (tests/softphone/pbx/phone.py)."""
    a, b, c = await phones(engine, "201", "202", "203")
    try:
        yield a, b, c
    finally:
        for phone in (a, b, c):
            await phone.__aexit__()
