"""The organisation greeting, set by an administrator in the admin: checked and converted like
a personal greeting, heard for every extension without a personal one."""

from __future__ import annotations

import io
import struct
import wave

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from softphone.store import OrmStore
from tests.factories import make_extension
from voicemail.models import OrganisationGreeting

pytestmark = pytest.mark.django_db(transaction=True)


def wav_44k_stereo(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(44100)
        audio.writeframes(struct.pack("<hh", 2000, -2000) * int(44100 * seconds))
    return out.getvalue()


def admin_client() -> Client:
    client = Client()
    client.force_login(make_extension("299", is_staff=True))
    return client


def test_the_admin_uploads_it_converted_and_extensions_without_their_own_use_it() -> None:
    make_extension("202")
    client = admin_client()
    response = client.post("/admin/voicemail/organisationgreeting/add/", {
        "greeting": SimpleUploadedFile("welkom.wav", wav_44k_stereo(2.0), "audio/wav")})
    assert response.status_code == 302, response.content[:500]
    path = OrganisationGreeting.current_path()
    assert path is not None and not path.endswith("welkom.wav")  # a generated name
    with wave.open(path) as audio:
        assert (audio.getframerate(), audio.getnchannels()) == (8000, 1)
    from asgiref.sync import async_to_sync
    assert async_to_sync(OrmStore().mailbox)("202").greeting_path == path  # type: ignore[union-attr]
    # Only one: the admin offers no second one.
    assert client.get("/admin/voicemail/organisationgreeting/add/").status_code == 403


def test_a_non_audio_upload_is_refused_with_a_message() -> None:
    response = admin_client().post("/admin/voicemail/organisationgreeting/add/", {
        "greeting": SimpleUploadedFile("x.wav", b"<html>not audio</html>", "audio/wav")})
    assert response.status_code == 200  # the form again, with the error
    assert "geen geluidsbestand" in response.content.decode()  # the admin speaks Dutch here
    assert not OrganisationGreeting.objects.exists()
