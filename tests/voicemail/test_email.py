"""A new message is emailed to its owner with the WAV attached (issue #9): in the owner's
language, retried when the SMTP server fails, and deleted afterwards if they asked for that."""

from __future__ import annotations

import smtplib
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from pbxweb.accounts.models import Extension
from softphone.pbx.storage import VoicemailStart
from softphone.store import OrmStore
from tests.factories import make_extension
from tests.voicemail.helpers import stored_message
from voicemail import actions
from voicemail.models import MailboxSettings, Message, MessageState
from voicemail.tasks import email_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner() -> Extension:
    return make_extension("202", first_name="Bib", email="bib@example.org", language="nl")


def test_a_message_left_is_emailed_with_the_recording_attached(
        owner: Extension, django_capture_on_commit_callbacks: Any) -> None:
    message = stored_message(owner, seconds=2.0)
    with django_capture_on_commit_callbacks(execute=True):
        actions.message_left(message.pk)
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["bib@example.org"]
    assert sent.subject == "Nieuw voicemailbericht van Caller outside (+3250123456)"
    assert "toestel 202" in sent.body and "Duur: 2 s" in sent.body
    ((filename, content, mimetype),) = sent.attachments
    assert filename.endswith(".wav") and mimetype == "audio/wav"
    assert content == Path(message.audio.path).read_bytes()
    assert Message.objects.filter(pk=message.pk).exists()  # kept by default


def test_english_for_an_english_speaking_extension(django_capture_on_commit_callbacks: Any,
                                                   ) -> None:
    owner = make_extension("204", first_name="Bevolking-Loket 1", email="loket1@example.org",
                           language="en")
    message = stored_message(owner)
    with django_capture_on_commit_callbacks(execute=True):
        actions.message_left(message.pk)
    assert mail.outbox[0].subject == "New voicemail from Caller outside (+3250123456)"


def test_the_engine_closing_a_kept_message_sends_the_email(
        owner: Extension, django_capture_on_commit_callbacks: Any) -> None:
    store = OrmStore()
    slot = store._open_voicemail(VoicemailStart("202", "call-x", "+3250999999", "", 1.7e9))
    Path(slot.path).write_bytes(Path(stored_message(owner).audio.path).read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        store._close_voicemail(slot.message_id, 1.0, keep=True)
    assert [m.to for m in mail.outbox] == [["bib@example.org"]]
    with django_capture_on_commit_callbacks(execute=True):  # a hang-up: nothing to mail
        slot = store._open_voicemail(VoicemailStart("202", "call-y", "+3250999999", "",
                                                     1.7e9))
        store._close_voicemail(slot.message_id, 0.2, keep=False)
    assert len(mail.outbox) == 1


def test_no_email_without_an_address_or_when_switched_off(owner: Extension) -> None:
    without = make_extension("205", first_name="Onthaal")
    assert email_message.apply(args=(stored_message(without).pk,)).get() is False
    actions.do_set_mailbox_options(owner.pk, email_new_messages=False, delete_after_email=True)
    message = stored_message(owner)
    assert email_message.apply(args=(message.pk,)).get() is False
    assert mail.outbox == [] and Message.objects.filter(pk=message.pk).exists()


def test_a_message_still_recording_or_gone_is_not_sent(owner: Extension) -> None:
    recording = stored_message(owner, state=MessageState.RECORDING)
    assert email_message.apply(args=(recording.pk,)).get() is False
    assert email_message.apply(args=(999_999,)).get() is False
    assert mail.outbox == []


def test_an_smtp_failure_is_retried_and_the_second_attempt_sends(
        owner: Extension, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.mail.backends.locmem import EmailBackend

    attempts = {"n": 0}
    real_send = EmailBackend.send_messages

    def flaky(self: EmailBackend, messages: Any) -> int:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise smtplib.SMTPServerDisconnected("the server went away")
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", flaky)
    monkeypatch.setattr(email_message, "retry_backoff", False)
    monkeypatch.setattr(email_message, "default_retry_delay", 0)
    actions.do_set_mailbox_options(owner.pk, email_new_messages=True, delete_after_email=True)
    message = stored_message(owner)
    result = email_message.apply(args=(message.pk,), throw=False)
    assert result.successful()
    assert attempts["n"] == 2 and len(mail.outbox) == 1
    assert not Message.objects.filter(pk=message.pk).exists()  # deleted only after it went


def test_the_retries_are_bounded_and_a_failed_mail_keeps_the_message(
        owner: Extension, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.mail.backends.locmem import EmailBackend

    attempts = {"n": 0}

    def down(self: EmailBackend, messages: Any) -> int:
        attempts["n"] += 1
        raise smtplib.SMTPConnectError(421, "try later")

    monkeypatch.setattr(EmailBackend, "send_messages", down)
    monkeypatch.setattr(email_message, "retry_backoff", False)
    monkeypatch.setattr(email_message, "default_retry_delay", 0)
    actions.do_set_mailbox_options(owner.pk, email_new_messages=True, delete_after_email=True)
    message = stored_message(owner)
    result = email_message.apply(args=(message.pk,), throw=False)
    assert result.failed()
    assert email_message.max_retries == 5 and attempts["n"] == 1 + 5
    assert Message.objects.filter(pk=message.pk).exists()


def test_delete_after_email_removes_the_row_and_the_file(
        owner: Extension, django_capture_on_commit_callbacks: Any) -> None:
    actions.do_set_mailbox_options(owner.pk, email_new_messages=True, delete_after_email=True)
    message = stored_message(owner)
    path = Path(message.audio.path)
    with django_capture_on_commit_callbacks(execute=True):
        actions.message_left(message.pk)
    assert len(mail.outbox) == 1 and len(mail.outbox[0].attachments) == 1
    assert not Message.objects.filter(pk=message.pk).exists()
    assert not path.exists()
    assert MailboxSettings.objects.get(pk=owner.pk).delete_after_email
