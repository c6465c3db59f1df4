"""The extension is the user: one person, one number, several devices (SPEC.md E1, W1, A1)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from softphone.pbx.storage import DEFAULT_RING_SECONDS

EXTENSION_NUMBER_RE = r"^[0-9]{2,6}$"
PIN_RE = r"^[0-9]{4,10}$"

number_validator = RegexValidator(
    EXTENSION_NUMBER_RE, _("An extension number has 2 to 6 digits.")
)
pin_validator = RegexValidator(PIN_RE, _("A PIN has 4 to 10 digits."))


class ExtensionGroup(models.Model):
    """The organisation's group of colleagues (e.g. everyone is in "Gemeente")."""

    name = models.CharField(_("name"), max_length=80, unique=True)

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ExtensionManager(BaseUserManager["Extension"]):
    def create_user(self, number: str, password: str | None = None, **fields: Any) -> Extension:
        extension = self.model(number=number, **fields)
        extension.set_password(password)
        extension.save(using=self._db)
        return extension

    def create_superuser(
        self, number: str, password: str | None = None, **fields: Any
    ) -> Extension:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(number, password, **fields)


def avatar_upload_path(instance: Extension, filename: str) -> str:
    # The view always hands us a generated name; never trust the client's file name.
    return f"avatars/{filename}"


class Language(models.TextChoices):
    DUTCH = "nl", _("Dutch")
    ENGLISH = "en", _("English")


class OutboundPermission(models.TextChoices):
    """How far an extension may call out (values of ``softphone.pbx.storage.OutboundPermission``;
    a test holds the two together). The default lets staff call Belgian numbers but not premium
    or foreign ones: toll fraud through a compromised phone is the classic PBX loss."""

    INTERNAL = "internal", _("Internal calls only")
    NATIONAL = "national", _("Belgian numbers (no premium numbers)")
    INTERNATIONAL = "international", _("All numbers, international and premium too")


class Extension(AbstractBaseUser, PermissionsMixin):
    number = models.CharField(
        _("extension number"), max_length=6, unique=True, validators=[number_validator]
    )
    first_name = models.CharField(_("first name"), max_length=80, blank=True)
    last_name = models.CharField(_("last name"), max_length=80, blank=True)
    email = models.EmailField(_("email"), blank=True)
    mobile = models.CharField(_("mobile number"), max_length=32, blank=True)
    department = models.CharField(_("department"), max_length=80, blank=True)
    group = models.ForeignKey(
        ExtensionGroup, verbose_name=_("group"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="extensions",
    )
    language = models.CharField(
        _("language"), max_length=5, choices=Language.choices, default=Language.DUTCH
    )
    avatar = models.ImageField(_("profile picture"), upload_to=avatar_upload_path, blank=True)
    # Voicemail PIN, hashed like a password (SPEC.md S4); never stored in clear.
    pin_hash = models.CharField(_("voicemail PIN (hashed)"), max_length=256, blank=True)
    # SIP digest needs HA1 = H(user:realm:password) (RFC 7616 §3.4.2); we keep only the
    # MD5 and SHA-256 HA1 for the realm they were made for, never the SIP password itself.
    sip_realm = models.CharField(_("SIP realm"), max_length=80, blank=True)
    sip_ha1_md5 = models.CharField(max_length=32, blank=True)
    sip_ha1_sha256 = models.CharField(max_length=64, blank=True)
    ring_seconds = models.PositiveSmallIntegerField(
        _("ring time (seconds)"), default=DEFAULT_RING_SECONDS,
        validators=[MinValueValidator(5), MaxValueValidator(120)],
        help_text=_("How long an incoming call rings before it counts as missed."),
    )
    outbound_permission = models.CharField(
        _("outgoing calls"), max_length=16, choices=OutboundPermission.choices,
        default=OutboundPermission.NATIONAL,
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("administrator"), default=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects: ClassVar[ExtensionManager] = ExtensionManager()

    USERNAME_FIELD = "number"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("extension")
        verbose_name_plural = _("extensions")
        ordering = ["number"]

    def __str__(self) -> str:
        name = self.get_full_name()
        return f"{self.number} {name}".strip()

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.number

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.number

    def set_pin(self, pin: str) -> None:
        pin_validator(pin)
        self.pin_hash = make_password(pin)

    def check_pin(self, pin: str) -> bool:
        if not self.pin_hash:
            return False
        return check_password(pin, self.pin_hash)

    @property
    def has_sip_credentials(self) -> bool:
        return bool(self.sip_ha1_md5 and self.sip_ha1_sha256)
