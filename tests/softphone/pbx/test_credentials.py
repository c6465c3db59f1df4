"""The credential cache, and a password change reaching the engine without a restart."""

from __future__ import annotations

from softphone.pbx.credentials import CredentialCache
from softphone.pbx.engine import Engine
from softphone.pbx.storage import MemoryStore, SipCredentials
from tests.softphone.pbx.conftest import credentials, udp_address
from tests.softphone.pbx.sipclient import Dialogue, SipTestClient


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__([credentials("201")])
        self.lookups = 0

    async def sip_credentials(self, username: str) -> SipCredentials | None:
        self.lookups += 1
        return await super().sip_credentials(username)


async def test_warm_cache_answers_without_the_store_until_ttl() -> None:
    store, now = CountingStore(), [1000.0]
    cache = CredentialCache(store, lambda: now[0], ttl=60)
    assert await cache.warm() == 1
    assert cache.peek("201") == (True, credentials("201"))
    assert cache.peek("202") == (False, None)
    assert await cache.get("201") == credentials("201") and store.lookups == 0
    assert await cache.get("202") is None and store.lookups == 1
    assert cache.peek("202") == (True, None)  # a miss is remembered too
    now[0] += 61
    assert cache.peek("201") == (False, None)
    await cache.get("201")
    assert store.lookups == 2


async def test_a_new_sip_password_works_at_once(engine: Engine, store: MemoryStore) -> None:
    async with SipTestClient("udp", udp_address(engine)) as client:
        assert (await client.register_with_auth(Dialogue("201"), "pw-201")).status_code == 200
        store.credentials["201"] = credentials("201", "changed-in-the-portal")
        clock = engine.wall_clock
        engine.credentials.clock = lambda: clock() + 3  # the cached entry is 3 s old
        response = await client.register_with_auth(Dialogue("201"), "changed-in-the-portal")
        assert response.status_code == 200
        # ... and the old one stops working as soon as it has been re-read.
        assert (await client.register_with_auth(Dialogue("201"), "pw-201")).status_code == 403
