"""Everything that changes an extension goes through here (``do_*``), views only call these."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.files.base import ContentFile
from django.db import transaction

from pbxweb.accounts.avatars import reencode_avatar
from pbxweb.accounts.models import Extension, ExtensionGroup
from pbxweb.accounts.sip_credentials import sip_ha1
from pbxweb.accounts.welcome import WelcomeSecrets, queue_welcome_email


@dataclass(frozen=True, slots=True)
class NewExtension:
    number: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    mobile: str = ""
    department: str = ""
    group: str = ""
    language: str = "nl"
    password: str | None = None
    pin: str | None = None
    sip_password: str | None = None
    is_staff: bool = False


def set_sip_password(extension: Extension, sip_password: str) -> None:
    realm = settings.SIP_REALM
    extension.sip_realm = realm
    extension.sip_ha1_md5 = sip_ha1("MD5", extension.number, realm, sip_password)
    extension.sip_ha1_sha256 = sip_ha1("SHA-256", extension.number, realm, sip_password)


def generate_sip_password() -> str:
    return secrets.token_urlsafe(15)


@transaction.atomic
def do_create_extension(spec: NewExtension, *, send_welcome: bool = True) -> Extension:
    """Create an extension and (A2) send its welcome email once the row is committed."""
    group = ExtensionGroup.objects.get_or_create(name=spec.group)[0] if spec.group else None
    extension = Extension(
        number=spec.number, first_name=spec.first_name, last_name=spec.last_name,
        email=spec.email, mobile=spec.mobile, department=spec.department, group=group,
        language=spec.language, is_staff=spec.is_staff, is_superuser=spec.is_staff,
    )
    if spec.password:
        validate_password(spec.password, extension)
        extension.set_password(spec.password)
    else:
        extension.set_unusable_password()
    if spec.pin:
        extension.set_pin(spec.pin)
    sip_password = spec.sip_password or generate_sip_password()
    set_sip_password(extension, sip_password)
    extension.full_clean(exclude=["password"])
    extension.save()
    if send_welcome and extension.email:
        # Only the creation mail can carry the PIN and SIP password: afterwards they exist
        # as hashes only.
        secrets_once = WelcomeSecrets(pin=spec.pin, sip_password=sip_password)
        transaction.on_commit(lambda: queue_welcome_email(extension, secrets_once))
    return extension


@transaction.atomic
def do_set_password(extension: Extension, password: str) -> None:
    validate_password(password, extension)
    extension.set_password(password)
    extension.save(update_fields=["password"])


@transaction.atomic
def do_set_pin(extension: Extension, pin: str) -> None:
    extension.set_pin(pin)
    extension.save(update_fields=["pin_hash"])


@transaction.atomic
def do_set_sip_password(extension: Extension, sip_password: str) -> None:
    set_sip_password(extension, sip_password)
    extension.save(update_fields=["sip_realm", "sip_ha1_md5", "sip_ha1_sha256"])


def do_resend_credentials(extension: Extension) -> bool:
    """Send the welcome email again (W3). Returns False when the extension has no email."""
    if not extension.email:
        return False
    queue_welcome_email(extension, WelcomeSecrets(pin=None, sip_password=None))
    return True


@transaction.atomic
def do_set_avatar(extension: Extension, data: bytes) -> None:
    """Store a re-encoded copy of an uploaded picture under a generated name."""
    png = reencode_avatar(data)
    old_name = extension.avatar.name if extension.avatar else ""
    extension.avatar.save(f"{extension.pk}-{secrets.token_hex(8)}.png", ContentFile(png),
                          save=False)
    extension.save(update_fields=["avatar"])
    if old_name:
        storage = extension.avatar.storage
        transaction.on_commit(lambda: storage.delete(old_name))


@transaction.atomic
def do_set_language(extension: Extension, language: str) -> None:
    extension.language = language
    extension.full_clean(exclude=["password"])
    extension.save(update_fields=["language"])


@transaction.atomic
def do_remove_extension(extension: Extension) -> None:
    if extension.avatar.name:
        storage, name = extension.avatar.storage, extension.avatar.name
        transaction.on_commit(lambda: storage.delete(name))
    extension.delete()
