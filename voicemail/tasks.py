"""Celery tasks of the voicemail app: the "new message" email and the nightly retention pass."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from pbxweb.accounts.tasks import SMTP_RETRY_ERRORS
from voicemail import actions
from voicemail.email import render_message_email
from voicemail.models import MailboxSettings, Message, MessageState


@shared_task(
    autoretry_for=SMTP_RETRY_ERRORS,
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=5,
    acks_late=True,
)
def email_message(message_id: int) -> bool:
    """Mail a new message to its owner, if they want it; True when sent. Looked up at each
    attempt: a message deleted (or listened to and deleted) meanwhile is not sent."""
    message = (Message.objects.select_related("mailbox").exclude(state=MessageState.RECORDING)
               .filter(pk=message_id).first())
    if message is None or not message.mailbox.email or not message.mailbox.is_active:
        return False
    box = MailboxSettings.of(message.mailbox_id)
    if not box.email_new_messages:
        return False
    render_message_email(message).send(fail_silently=False)
    # 3CX's "delete voicemail after it is emailed": only after the server took the mail.
    if box.delete_after_email:
        actions.do_delete_message(message)
    return True


@shared_task(acks_late=True)
def remove_old_messages() -> int:
    return actions.do_remove_old_messages(timezone.now())
