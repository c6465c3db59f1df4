"""Everything that changes a mailbox goes through here; views and the engine's store call these."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from voicemail.greetings import convert_greeting
from voicemail.models import MailboxSettings, Message, MessageState


def message_left(message_id: int) -> None:
    """A message became new (the engine's store calls this): once that is committed, the owner
    gets it by email if they want it (the task decides, so a later change of mind counts)."""
    from voicemail.tasks import email_message

    transaction.on_commit(lambda: email_message.delay(message_id))


def do_delete_message(message: Message) -> None:
    message.audio.delete(save=False)
    message.delete()


def do_remove_old_messages(now: datetime) -> int:
    """GDPR: messages older than ``VOICEMAIL_RETENTION_DAYS`` go, rows and files (0: kept)."""
    days = settings.VOICEMAIL_RETENTION_DAYS
    if days <= 0:
        return 0
    old = Message.objects.exclude(state=MessageState.RECORDING).filter(
        started_at__lt=now - timedelta(days=days))
    removed = 0
    for message in old.iterator():
        do_delete_message(message)
        removed += 1
    return removed


def _settings_row(extension_id: int) -> MailboxSettings:
    box, _created = MailboxSettings.objects.select_for_update().get_or_create(
        extension_id=extension_id)
    return box


def do_set_mailbox_options(extension_id: int, *, email_new_messages: bool,
                           delete_after_email: bool) -> MailboxSettings:
    with transaction.atomic():
        box = _settings_row(extension_id)
        box.email_new_messages = email_new_messages
        box.delete_after_email = delete_after_email
        box.save(update_fields=["email_new_messages", "delete_after_email"])
    return box


def do_set_greeting(extension_id: int, upload: bytes) -> MailboxSettings:
    """Convert and keep a personal greeting (raises ``GreetingError`` before storing anything);
    the previous greeting's file goes once the new one is committed."""
    converted = convert_greeting(upload)
    with transaction.atomic():
        box = _settings_row(extension_id)
        previous = box.greeting.name
        # A generated name: nothing of the uploader's file name reaches the disk.
        box.greeting.save(f"{uuid.uuid4().hex}.wav", ContentFile(converted), save=True)
        if previous:
            transaction.on_commit(lambda: box.greeting.storage.delete(previous))
    return box


def do_remove_greeting(extension_id: int) -> None:
    with transaction.atomic():
        box = MailboxSettings.objects.select_for_update().filter(
            extension_id=extension_id).first()
        if box is None or not box.greeting:
            return
        previous = str(box.greeting.name)
        box.greeting = ""
        box.save(update_fields=["greeting"])
        transaction.on_commit(lambda: box.greeting.storage.delete(previous))
