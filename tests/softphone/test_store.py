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


async def test_save_bindings_upserts_and_removes() -> None:
    from softphone.models import Registration
    from softphone.pbx.location import Binding

    store = OrmStore()
    first = Binding("301", "sip:301@10.0.0.1", 2000.0, "call-a", 1, 0.5, "udp:10.0.0.1:5060",
                    "Phone/1.0")
    other = Binding("301", "sip:301@10.0.0.2", 2000.0, "call-b", 1)
    await store.save_bindings([first, other], [])
    refreshed = Binding("301", "sip:301@10.0.0.1", 3000.0, "call-a", 2, 0.5,
                        "udp:10.0.0.1:5060", "Phone/1.0")
    await store.save_bindings([refreshed], [("301", "sip:301@10.0.0.2")])
    assert await store.load_bindings() == [refreshed]
    row = await Registration.objects.aget(aor="301")
    assert row.updated_at is not None and row.cseq == 2
