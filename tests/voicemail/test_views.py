"""The voicemail page and API: the owner lists, plays (with ranges), downloads, marks and
deletes messages; nobody else can reach any of them by any URL."""

from __future__ import annotations

import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from pbxweb.accounts.models import Extension
from tests.factories import make_extension
from voicemail.models import Message, MessageState

pytestmark = pytest.mark.django_db


def message_for(owner: Extension, *, seconds: float = 1.0, state: str = MessageState.NEW,
                caller: str = "+3250123456") -> Message:
    from voicemail.storage import voicemail_storage

    name = f"messages/test-{owner.number}-{Message.objects.count()}.wav"
    path = Path(voicemail_storage().path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x01\x00" * int(8000 * seconds))
    return Message.objects.create(
        mailbox=owner, call_id=f"c{Message.objects.count()}", caller_number=caller,
        caller_name="Caller outside", started_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        duration_seconds=seconds, state=state, audio=name)


def client_for(extension: Extension) -> Client:
    client = Client()
    client.force_login(extension)
    return client


@pytest.fixture
def owner() -> Extension:
    return make_extension("202", first_name="Bib")


@pytest.fixture
def other() -> Extension:
    return make_extension("203", first_name="Bevolking-Loket 1")


def test_the_owner_sees_listens_and_the_api_counts_new_messages(owner: Extension) -> None:
    message = message_for(owner)
    message_for(owner, state=MessageState.RECORDING)  # still being recorded: not listed
    client = client_for(owner)
    page = client.get(reverse("voicemail:list"))
    assert page.status_code == 200
    assert reverse("voicemail:audio", args=[message.pk]).encode() in page.content
    data = client.get(reverse("voicemail:api-list")).json()
    assert data["new"] == 1 and [m["id"] for m in data["messages"]] == [message.pk]
    audio = client.get(reverse("voicemail:audio", args=[message.pk]))
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/wav"
    assert audio["Accept-Ranges"] == "bytes" and audio["X-Content-Type-Options"] == "nosniff"
    body = b"".join(audio.streaming_content)  # type: ignore[attr-defined]
    assert body[:4] == b"RIFF" and len(body) == 44 + 16000


def test_ranges_let_the_browser_seek_and_a_range_past_the_end_is_416(
        owner: Extension) -> None:
    message = message_for(owner)
    client = client_for(owner)
    url = reverse("voicemail:audio", args=[message.pk])
    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and part["Content-Range"] == "bytes 100-199/16044"
    assert len(b"".join(part.streaming_content)) == 100  # type: ignore[attr-defined]
    tail = client.get(url, HTTP_RANGE="bytes=-44")
    assert tail.status_code == 206 and tail["Content-Range"] == "bytes 16000-16043/16044"
    past = client.get(url, HTTP_RANGE="bytes=99999-")
    assert past.status_code == 416 and past["Content-Range"] == "bytes */16044"
    junk = client.get(url, HTTP_RANGE="lines=1-2")  # ignored: the whole file
    assert junk.status_code == 200


def test_download_is_an_attachment_with_a_generated_name(owner: Extension) -> None:
    message = message_for(owner)
    response = client_for(owner).get(reverse("voicemail:audio", args=[message.pk]),
                                     {"download": "1"})
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"-{message.pk}.wav" in response["Content-Disposition"]


def test_mark_and_delete_remove_the_file_too(owner: Extension) -> None:
    message = message_for(owner)
    path = Path(message.audio.path)
    client = client_for(owner)
    assert client.post(reverse("voicemail:mark", args=[message.pk])).status_code == 302
    message.refresh_from_db()
    assert message.state == MessageState.SAVED
    response = client.post(reverse("voicemail:delete", args=[message.pk]),
                           HTTP_ACCEPT="application/json")
    assert response.json() == {"id": message.pk, "deleted": True}
    assert not Message.objects.filter(pk=message.pk).exists() and not path.exists()


def test_nobody_else_reaches_a_message_by_any_url(owner: Extension, other: Extension) -> None:
    message = message_for(owner)
    client = client_for(other)
    assert reverse("voicemail:audio", args=[message.pk]).encode() not in client.get(
        reverse("voicemail:list")).content
    assert client.get(reverse("voicemail:api-list")).json() == {"messages": [], "new": 0}
    assert client.get(reverse("voicemail:audio", args=[message.pk])).status_code == 404
    assert client.get(reverse("voicemail:audio", args=[message.pk]),
                      {"download": "1"}).status_code == 404
    assert client.post(reverse("voicemail:mark", args=[message.pk])).status_code == 404
    assert client.post(reverse("voicemail:delete", args=[message.pk])).status_code == 404
    message.refresh_from_db()
    assert message.state == MessageState.NEW and Path(message.audio.path).exists()
    anonymous = Client().get(reverse("voicemail:audio", args=[message.pk]))
    assert anonymous.status_code == 302  # to the login page, never the audio


def test_changing_requests_need_post(owner: Extension) -> None:
    message = message_for(owner)
    client = client_for(owner)
    assert client.get(reverse("voicemail:delete", args=[message.pk])).status_code == 405
    assert Message.objects.filter(pk=message.pk).exists()


def test_an_unknown_caller_can_be_added_to_contacts_from_the_list(owner: Extension) -> None:
    message_for(owner, caller="+3250998877")
    page = client_for(owner).get(reverse("voicemail:list")).content.decode()
    assert reverse("directory:contact_create") + "?number=%2B3250998877" in page
