"""A greeting recorded by phone (999, then 5) goes through the same checks and conversion as
an upload, and becomes what callers hear."""

from __future__ import annotations

import io
import struct
import wave

import pytest
from channels.db import database_sync_to_async

from softphone.store import OrmStore
from tests.factories import make_extension

pytestmark = pytest.mark.django_db(transaction=True)


def recording(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(struct.pack("<h", 3000) * int(8000 * seconds))
    return out.getvalue()


async def test_a_phone_greeting_is_kept_and_used() -> None:
    await database_sync_to_async(make_extension)("202")
    store = OrmStore()
    assert (await store.mailbox("202")).greeting_path is None  # type: ignore[union-attr]
    assert await store.save_greeting("202", recording(2.0))
    path = (await store.mailbox("202")).greeting_path  # type: ignore[union-attr]
    assert path is not None
    with wave.open(path) as audio:
        assert (audio.getframerate(), audio.getnchannels()) == (8000, 1)
        assert audio.getnframes() == 16000


async def test_junk_or_a_too_long_greeting_is_refused_and_nothing_changes() -> None:
    await database_sync_to_async(make_extension)("202")
    store = OrmStore()
    assert not await store.save_greeting("202", b"not audio at all")
    assert not await store.save_greeting("202", recording(90.0))  # over the 60 s cap
    assert not await store.save_greeting("299", recording(2.0))  # no such extension
    assert (await store.mailbox("202")).greeting_path is None  # type: ignore[union-attr]
