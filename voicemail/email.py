"""The "new voicemail" email (3CX sends the same): who called, when, how long, the WAV attached,
in the language of the mailbox's owner (like the welcome email)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from pbxweb.directory.lookup import names_for_numbers
from voicemail.models import Message


def render_message_email(message: Message) -> EmailMessage:
    owner = message.mailbox
    caller_name = (names_for_numbers([message.caller_number], viewer=owner)
                   .get(message.caller_number) or message.caller_name)
    context = {
        "extension": owner,
        "caller_number": message.caller_number,
        "caller_name": caller_name,
        "started_at": timezone.localtime(message.started_at),
        "duration": round(message.duration_seconds),
        "url": urljoin(settings.WEBCLIENT_URL_INSIDE, reverse("voicemail:list")),
    }
    with translation.override(owner.language):
        subject = render_to_string("voicemail/email/new_message_subject.txt", context).strip()
        body = render_to_string("voicemail/email/new_message_body.txt", context)
    email = EmailMessage(subject, body, None, [owner.email])
    try:
        data = Path(message.audio.path).read_bytes()
    except (OSError, ValueError):
        return email  # the text still tells them a message is waiting
    email.attach(f"voicemail-{context['started_at']:%Y%m%d-%H%M%S}.wav", data, "audio/wav")
    return email
