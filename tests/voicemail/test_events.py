"""The owner's browser hears at once when a message arrives, is listened to or deleted —
whoever changed it (engine, 999 menu, web page); nobody else's socket hears of it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from pbxweb.accounts.models import Extension
from pbxweb.asgi import application
from softphone.pbx.storage import VoicemailStart
from softphone.store import OrmStore
from tests.pbxweb.webclient.test_consumer import ORIGIN, session_cookie_for

pytestmark = pytest.mark.django_db(transaction=True)


async def socket_of(number: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/",
                                         headers=[ORIGIN, await session_cookie_for(number)])
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "hello"
    return communicator


async def test_counts_follow_a_message_from_the_engine_to_listened_to_deleted() -> None:
    owner = await socket_of("202")
    other = await socket_of("203")
    store = OrmStore()
    slot = await store.open_voicemail(VoicemailStart("202", "c1", "201", "Onthaal",
                                                     datetime(2026, 11, 25, tzinfo=UTC)
                                                     .timestamp()))
    assert await owner.receive_nothing(0.2)  # being recorded: not counted yet
    Path(slot.path).write_bytes(b"RIFF")
    await store.close_voicemail(slot.message_id, 3.0, keep=True)  # the engine keeps it
    assert await owner.receive_json_from(timeout=2) == {
        "type": "voicemail.count", "v": 1, "new": 1, "saved": 0}
    await store.set_voicemail_saved(slot.message_id)  # the 999 menu played it
    assert (await owner.receive_json_from(timeout=2))["new"] == 0
    await store.delete_voicemail(slot.message_id)
    assert await owner.receive_json_from(timeout=2) == {
        "type": "voicemail.count", "v": 1, "new": 0, "saved": 0}
    assert await other.receive_nothing(0.3)  # never another user's socket
    await owner.disconnect()
    await other.disconnect()


async def test_a_message_dropped_as_too_short_is_never_announced() -> None:
    owner = await socket_of("202")
    await database_sync_to_async(Extension.objects.get)(number="202")
    store = OrmStore()
    slot = await store.open_voicemail(VoicemailStart("202", "c2", "201", "", 1.79e9))
    await store.close_voicemail(slot.message_id, 0.2, keep=False)
    assert await owner.receive_nothing(0.3)
    await owner.disconnect()
