"""Voicemail: one box per extension (its settings) and the messages in it (SPEC.md S4, W8)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from voicemail.storage import voicemail_storage


class MessageState(models.TextChoices):
    RECORDING = "recording", _("being recorded")
    NEW = "new", _("new")
    SAVED = "saved", _("saved")


class MessageQuerySet(models.QuerySet["Message"]):
    def listed(self) -> MessageQuerySet:
        """Messages a person sees: finished ones (new or saved), newest first."""
        return self.exclude(state=MessageState.RECORDING).order_by("-started_at", "-id")


class Message(models.Model):
    mailbox = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="voicemail_messages", verbose_name=_("mailbox"))
    call_id = models.CharField(max_length=64, unique=True)
    caller_number = models.CharField(_("caller number"), max_length=128, blank=True)
    caller_name = models.CharField(_("caller name"), max_length=128, blank=True)
    started_at = models.DateTimeField(_("time"))
    duration_seconds = models.FloatField(_("duration"), default=0.0)
    state = models.CharField(_("state"), max_length=10, choices=MessageState.choices,
                             default=MessageState.RECORDING)
    audio = models.FileField(storage=voicemail_storage, upload_to="messages/", max_length=200)

    objects: ClassVar[MessageQuerySet] = MessageQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("voicemail message")
        verbose_name_plural = _("voicemail messages")
        indexes = [models.Index(fields=["mailbox", "state", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.mailbox_id}: {self.caller_number} {self.started_at:%Y-%m-%d %H:%M}"


class MailboxSettings(models.Model):
    """What an extension chose for its box (3CX's "voicemail options"); made on first use,
    so an extension without a row has the defaults."""

    extension = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                     primary_key=True, related_name="mailbox_settings",
                                     verbose_name=_("extension"))
    # Sent only when the extension has an email address: the default is "yes" for everyone
    # with one, and an address added later starts the mails without another step.
    email_new_messages = models.BooleanField(_("email new messages"), default=True)
    delete_after_email = models.BooleanField(
        _("delete a message once it is emailed"), default=False)
    greeting = models.FileField(_("personal greeting"), storage=voicemail_storage,
                                upload_to="greetings/", max_length=200, blank=True)

    class Meta:
        verbose_name = _("mailbox settings")
        verbose_name_plural = _("mailbox settings")

    def __str__(self) -> str:
        return str(self.extension_id)

    @classmethod
    def of(cls, extension_id: int) -> MailboxSettings:
        """The extension's settings; an unsaved default when it never changed them."""
        return cls.objects.filter(extension_id=extension_id).first() or cls(
            extension_id=extension_id)

    def greeting_path(self) -> str | None:
        return self.greeting.path if self.greeting else None


class OrganisationGreeting(models.Model):
    """The greeting callers hear for any extension without a personal one (SPEC.md S4): set by
    an administrator in the admin; one row at most. Without it, a generated default names the
    extension."""

    greeting = models.FileField(_("organisation greeting"), storage=voicemail_storage,
                                upload_to="greetings/", max_length=200)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("organisation greeting")
        verbose_name_plural = _("organisation greeting")

    def __str__(self) -> str:
        return str(_("organisation greeting"))

    @classmethod
    def current_path(cls) -> str | None:
        row = cls.objects.order_by("-updated_at").first()
        return row.greeting.path if row is not None and row.greeting else None
