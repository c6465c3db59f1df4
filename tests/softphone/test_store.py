"""The ORM store behind the engine."""

from __future__ import annotations

import pytest

from pbxweb.accounts import actions
from softphone.sip.digest import ha1_md5
from softphone.store import OrmStore

pytestmark = pytest.mark.django_db(transaction=True)


async def test_all_sip_credentials_lists_active_extensions_with_a_sip_password() -> None:
    from asgiref.sync import sync_to_async

    def create() -> None:
        actions.do_create_extension(actions.NewExtension(number="301", sip_password="s-301"),
                                    send_welcome=False)
        gone = actions.do_create_extension(
            actions.NewExtension(number="302", sip_password="s-302"), send_welcome=False)
        gone.is_active = False
        gone.save()

    await sync_to_async(create)()
    store = OrmStore()
    loaded = {c.username: c for c in await store.all_sip_credentials()}
    assert set(loaded) == {"301"}
    assert loaded["301"].ha1_md5 == ha1_md5("301", loaded["301"].realm, "s-301")
    assert await store.sip_credentials("302") is None
