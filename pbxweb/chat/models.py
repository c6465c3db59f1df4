"""Chat (SPEC.md W6): conversations between extensions, their messages and shared files.

A conversation is *direct* (exactly two extensions, at most one per pair: ``direct_key``) or a
*group* with a title. What is personal to one member — archived or not, how far they have
received and read — lives on their :class:`Membership`, so archiving never hides anything from
the others. Message ids grow monotonically, so "delivered/read up to id N" is a single number
and history pages by id (keyset), never by offset.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_TEXT_LENGTH = 4000
MAX_TITLE_LENGTH = 80
MAX_CLIENT_ID_LENGTH = 64
MAX_FILE_NAME_LENGTH = 120


class ConversationKind(models.TextChoices):
    DIRECT = "direct", _("direct")
    GROUP = "group", _("group")


class Conversation(models.Model):
    kind = models.CharField(_("kind"), max_length=8, choices=ConversationKind.choices)
    title = models.CharField(_("title"), max_length=MAX_TITLE_LENGTH, blank=True)
    # "<lower id>:<higher id>" for a direct conversation, so a pair has only one; NULL for groups.
    direct_key = models.CharField(max_length=41, unique=True, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")

    def __str__(self) -> str:
        return self.title or f"{self.kind} {self.pk}"


class Membership(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE,
                                     related_name="memberships")
    extension = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                  related_name="chat_memberships")
    joined_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)
    # Highest message id this member's browser confirmed it received / the member has read.
    delivered_up_to = models.BigIntegerField(default=0)
    read_up_to = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "extension"],
                                    name="chat_one_membership_per_extension"),
        ]
        indexes = [models.Index(fields=["extension", "archived_at"])]

    def __str__(self) -> str:
        return f"{self.extension_id} in {self.conversation_id}"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE,
                                     related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                               related_name="+")
    text = models.TextField(_("text"), max_length=MAX_TEXT_LENGTH, blank=True)
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    # The sending browser's own id for the message, so a resend after a lost connection does
    # not store it twice and the sending tab can match the echo to what it showed.
    client_id = models.CharField(max_length=MAX_CLIENT_ID_LENGTH, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["id"]
        indexes = [models.Index(fields=["conversation", "id"])]
        constraints = [
            models.UniqueConstraint(fields=["sender", "client_id"],
                                    condition=~models.Q(client_id=""),
                                    name="chat_client_id_once_per_sender"),
        ]

    def __str__(self) -> str:
        return f"message {self.pk}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # Never the uploader's name: a generated one, spread over 256 folders.
    return f"chat/{instance.key.hex[:2]}/{instance.key.hex}"


def preview_path(instance: Attachment, filename: str) -> str:
    return f"chat/{instance.key.hex[:2]}/{instance.key.hex}-preview.png"


class Attachment(models.Model):
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="attachment")
    # The key in the file's URL; unguessable, but access is still checked by membership.
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file = models.FileField(upload_to=attachment_path, max_length=200)
    # Shown to people and offered as the download name; cleaned, never used as a path.
    name = models.CharField(_("file name"), max_length=MAX_FILE_NAME_LENGTH)
    content_type = models.CharField(max_length=100)  # sniffed from the content
    size = models.PositiveBigIntegerField()
    preview = models.FileField(upload_to=preview_path, max_length=200, blank=True)
    preview_width = models.PositiveIntegerField(null=True, blank=True)
    preview_height = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name
