"""The welcome email (SPEC.md W1, A2): everything a new colleague needs to start calling."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from pbxweb.accounts.models import Extension


@dataclass(frozen=True, slots=True)
class WelcomeSecrets:
    """Secrets known only at the moment they are set; ``None`` once they are hashes."""

    pin: str | None
    sip_password: str | None


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    body: str
    to: str


def password_set_url(extension: Extension) -> str:
    uid = urlsafe_base64_encode(force_bytes(extension.pk))
    token = default_token_generator.make_token(extension)
    path = reverse("accounts:password_set", kwargs={"uidb64": uid, "token": token})
    return urljoin(settings.WEBCLIENT_URL_INSIDE, path)


def render_welcome_email(extension: Extension, secrets: WelcomeSecrets) -> RenderedEmail:
    context = {
        "extension": extension,
        "pin": secrets.pin,
        "sip_password": secrets.sip_password,
        "url_inside": settings.WEBCLIENT_URL_INSIDE,
        "url_outside": settings.WEBCLIENT_URL_OUTSIDE,
        "password_set_url": password_set_url(extension),
        "sip_domain": settings.SIP_DOMAIN,
        "sip_host": settings.SIP_PUBLIC_HOST,
        "sip_port": settings.SIP_UDP_PORT,
        "sip_tls_port": settings.SIP_TLS_PORT,
    }
    with translation.override(extension.language):
        subject = render_to_string("accounts/email/welcome_subject.txt", context).strip()
        body = render_to_string("accounts/email/welcome_body.txt", context)
    return RenderedEmail(subject=subject, body=body, to=extension.email)


def queue_welcome_email(extension: Extension, secrets: WelcomeSecrets) -> None:
    from pbxweb.accounts.tasks import send_email

    email = render_welcome_email(extension, secrets)
    send_email.delay(email.subject, email.body, [email.to])
