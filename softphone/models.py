"""What the engine keeps in the database: registrations survive an engine restart; the SIP
trunk to the carrier and its DIDs are configured here (SPEC.md E2, A1)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from softphone.pbx import dialplan


class Registration(models.Model):
    """One binding of an extension (AoR) to a device contact (RFC 3261 §10)."""

    aor = models.CharField(max_length=32, db_index=True)
    contact = models.CharField(max_length=512)
    expires_at = models.FloatField(help_text="epoch seconds")
    call_id = models.CharField(max_length=256)
    cseq = models.BigIntegerField()
    q = models.FloatField(default=1.0)
    source = models.CharField(max_length=128, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["aor", "contact"], name="registration_unique_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.aor} -> {self.contact}"


# Number columns are wider than E.164's 16 characters so that "+32 (0)50 12 34 56" as typed
# passes the length check and reaches clean(), which stores the E.164 form.
def _e164_or_error(number: str) -> str:
    e164 = dialplan.normalise(number)
    if e164 is None:
        raise ValidationError(
            _("Enter a phone number such as 050 12 34 56 or +32 50 12 34 56."), code="invalid")
    return e164


class TrunkTransport(models.TextChoices):
    UDP = "udp", "UDP"
    TCP = "tcp", "TCP"
    TLS = "tls", "TLS"


class Trunk(models.Model):
    """A SIP trunk to the carrier: outgoing calls leave through it, DIDs come in by it."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    host = models.CharField(_("host"), max_length=253,
                            help_text=_("The carrier's SIP server (name or IP address)."))
    port = models.PositiveIntegerField(
        _("port"), default=5060, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    transport = models.CharField(_("transport"), max_length=3, choices=TrunkTransport.choices,
                                 default=TrunkTransport.UDP)
    username = models.CharField(_("username"), max_length=128, blank=True)
    # The carrier's digest password, stored retrievably on purpose: on a trunk we are the
    # digest *client* and must compute responses for whatever realm the carrier challenges
    # with, so unlike an extension's (where we keep HA1 only) it cannot be hashed in advance.
    # Protect the database and its backups accordingly; the admin never shows it.
    password = models.CharField(_("password"), max_length=128, blank=True)
    realm = models.CharField(_("realm"), max_length=128, blank=True,
                             help_text=_("Leave empty to accept the realm the carrier asks for."))
    register = models.BooleanField(
        _("register"), default=True,
        help_text=_("Register with the carrier (most trunks with a username need it)."))
    register_expires = models.PositiveIntegerField(
        _("registration interval (seconds)"), default=300,
        validators=[MinValueValidator(60), MaxValueValidator(86400)])
    outbound_caller_id = models.CharField(
        _("outgoing caller ID"), max_length=32, blank=True,
        help_text=_("The number shown on outgoing calls of extensions without a DID of their "
                    "own, e.g. +32 50 12 34 00."))
    from_domain = models.CharField(_("From domain"), max_length=253, blank=True,
                                   help_text=_("Leave empty to use the host."))

    class Meta:
        verbose_name = _("SIP trunk")
        verbose_name_plural = _("SIP trunks")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.outbound_caller_id:
            try:
                self.outbound_caller_id = _e164_or_error(self.outbound_caller_id)
            except ValidationError as error:
                raise ValidationError({"outbound_caller_id": error}) from None


class TrunkDid(models.Model):
    """A public number (DID) of a trunk and the extension its incoming calls ring."""

    trunk = models.ForeignKey(Trunk, verbose_name=_("SIP trunk"), on_delete=models.CASCADE,
                              related_name="dids")
    number = models.CharField(_("number"), max_length=32, unique=True,
                              help_text=_("The public number, e.g. 050 12 34 56."))
    # PROTECT: an extension with a public number is not removed before its number is given
    # to someone else — otherwise callers of that number would silently reach nobody.
    extension = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("extension"),
                                  on_delete=models.PROTECT, related_name="dids")

    class Meta:
        verbose_name = _("DID")
        verbose_name_plural = _("DIDs")
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number

    def clean(self) -> None:
        try:
            self.number = _e164_or_error(self.number)
        except ValidationError as error:
            raise ValidationError({"number": error}) from None
