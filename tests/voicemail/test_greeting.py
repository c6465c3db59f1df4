"""A personal greeting (SPEC.md W13): the owner uploads WAV, MP3 or OGG, it is checked by its
bytes, converted to 8 kHz mono 16-bit WAV by sox, and the engine plays it; anything else is a
400 that stores nothing, and nobody can change another's greeting."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pbxweb.accounts.models import Extension
from softphone.store import OrmStore
from tests.factories import make_extension
from tests.voicemail.helpers import wav_bytes
from voicemail.greetings import sniff_audio_type
from voicemail.models import MailboxSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner() -> Extension:
    return make_extension("202", first_name="Bib")


def client_for(extension: Extension) -> Client:
    client = Client()
    client.force_login(extension)
    return client


def upload(client: Client, name: str, data: bytes, content_type: str = "audio/wav") -> Any:
    return client.post(reverse("voicemail:greeting"),
                       {"greeting": SimpleUploadedFile(name, data, content_type=content_type)})


def stored_greetings() -> list[Path]:
    from voicemail.storage import voicemail_storage

    folder = Path(voicemail_storage().path("greetings"))
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_wav_greeting_is_converted_to_8khz_mono_and_the_engine_plays_it(
        owner: Extension, tmp_path: Path) -> None:
    data = wav_bytes(tmp_path / "in.wav", seconds=3.0, rate=44100, channels=2)
    response = upload(client_for(owner), "my greeting.wav", data)
    assert response.status_code == 302
    box = MailboxSettings.objects.get(pk=owner.pk)
    path = Path(box.greeting.path)
    assert path.parent.name == "greetings" and "my greeting" not in path.name
    with wave.open(str(path), "rb") as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
        assert abs(audio.getnframes() / 8000 - 3.0) < 0.05
    info = OrmStore()._mailbox("202")
    assert info is not None and info.greeting_path == str(path)
    played = client_for(owner).get(reverse("voicemail:greeting"))
    assert played.status_code == 200 and played["Content-Type"] == "audio/wav"


def test_ogg_and_mp3_are_accepted(owner: Extension, tmp_path: Path,
                                  django_capture_on_commit_callbacks: Any) -> None:
    source = tmp_path / "in.wav"
    wav_bytes(source, seconds=2.0, rate=16000)
    for kind, mime in (("ogg", "audio/ogg"), ("mp3", "audio/mpeg")):
        target = tmp_path / f"in.{kind}"
        made = subprocess.run(["sox", str(source), str(target)], capture_output=True)
        if made.returncode != 0:
            pytest.skip(f"this sox cannot write {kind} (Debian: libsox-fmt-mp3)")
        assert sniff_audio_type(target.read_bytes()[:16]) == kind
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(client_for(owner), f"in.{kind}", target.read_bytes(), mime)
        assert response.status_code == 302, response.content
    assert len(stored_greetings()) == 1  # the replaced greeting's file is gone


@pytest.mark.parametrize(("name", "data", "message"), [
    ("notes.wav", b"just some text, not audio\n" * 10, "geen geluidsbestand"),
    ("page.wav", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "geen geluidsbestand"),
    ("broken.wav", b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40, "kan niet gelezen"),
])
def test_what_is_not_audio_is_refused_and_nothing_is_stored(
        owner: Extension, name: str, data: bytes, message: str) -> None:
    response = upload(client_for(owner), name, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MailboxSettings.objects.filter(pk=owner.pk).exclude(greeting="").exists()
    assert stored_greetings() == []


def test_too_large_and_too_long_are_refused(owner: Extension, tmp_path: Path,
                                            settings: Any) -> None:
    settings.VOICEMAIL_GREETING_MAX_BYTES = 50_000
    big = wav_bytes(tmp_path / "big.wav", seconds=4.0)  # 64 kB
    response = upload(client_for(owner), "big.wav", big)
    assert response.status_code == 400 and "te groot" in response.content.decode()
    settings.VOICEMAIL_GREETING_MAX_BYTES = 5 * 1024 * 1024
    settings.VOICEMAIL_GREETING_MAX_SECONDS = 2
    long = wav_bytes(tmp_path / "long.wav", seconds=3.0)
    response = client_for(owner).post(
        reverse("voicemail:greeting"),
        {"greeting": SimpleUploadedFile("long.wav", long, content_type="audio/wav")},
        HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert "te lang" in response.json()["error"]
    assert stored_greetings() == []


def test_removing_the_greeting_brings_back_the_standard_one(
        owner: Extension, tmp_path: Path, django_capture_on_commit_callbacks: Any) -> None:
    upload(client_for(owner), "g.wav", wav_bytes(tmp_path / "g.wav", seconds=1.0))
    assert len(stored_greetings()) == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(reverse("voicemail:greeting-delete"))
    assert response.status_code == 302
    assert stored_greetings() == []
    info = OrmStore()._mailbox("202")
    assert info is not None and info.greeting_path is None


def test_another_user_cannot_change_or_hear_my_greeting(owner: Extension,
                                                         tmp_path: Path) -> None:
    other = make_extension("203", first_name="Bevolking-Loket 1")
    upload(client_for(owner), "g.wav", wav_bytes(tmp_path / "g.wav", seconds=1.0))
    mine = MailboxSettings.objects.get(pk=owner.pk).greeting.name
    theirs = client_for(other)
    assert theirs.post(reverse("voicemail:greeting-delete")).status_code == 302
    assert theirs.get(reverse("voicemail:greeting")).status_code == 404
    assert upload(theirs, "x.wav", wav_bytes(tmp_path / "x.wav", seconds=1.0)).status_code == 302
    assert MailboxSettings.objects.get(pk=owner.pk).greeting.name == mine
    assert Path(MailboxSettings.objects.get(pk=owner.pk).greeting.path).exists()
    assert Client().post(reverse("voicemail:greeting-delete")).status_code == 302  # to login
    assert MailboxSettings.objects.get(pk=owner.pk).greeting.name == mine


def test_the_page_shows_the_settings_and_saves_the_email_choices(owner: Extension) -> None:
    client = client_for(owner)
    page = client.get(reverse("voicemail:list"))
    assert b'name="greeting"' in page.content and b"email_new_messages" in page.content
    assert not MailboxSettings.objects.filter(pk=owner.pk).exists()  # made on first change
    client.post(reverse("voicemail:options"), {"delete_after_email": "on"})
    box = MailboxSettings.objects.get(pk=owner.pk)
    assert (box.email_new_messages, box.delete_after_email) == (False, True)
