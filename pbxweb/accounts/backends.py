"""Login with extension number plus web password or voicemail PIN (SPEC.md W1).

django-axes (first in AUTHENTICATION_BACKENDS) locks an *address* after repeated failures.
PIN guesses are additionally limited per extension, whatever address they come from, since a
4-digit PIN falls to a slow distributed guess that a per-address limit never sees.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

from pbxweb.accounts.models import PIN_RE, Extension

PIN_PATTERN = re.compile(PIN_RE)
PIN_RATELIMIT_GROUP = "accounts.pin-login"
# Set on the request when the PIN limit refused a login, so the form can say why.
PIN_LIMITED_ATTRIBUTE = "pbxweb_pin_login_limited"


def pin_login_limited(request: HttpRequest | None, number: str, *, increment: bool) -> bool:
    """Whether this extension has used up its failed-PIN allowance (counting this one)."""
    if request is None:
        return False
    usage = get_usage(
        request,
        group=PIN_RATELIMIT_GROUP,
        key=lambda _group, _request: number,
        rate=settings.PIN_LOGIN_RATE,
        method=ALL,
        increment=increment,
    )
    return usage is not None and usage["count"] >= usage["limit"]


class ExtensionBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Extension | None:
        if not username or not password:
            return None
        try:
            extension = Extension.objects.get(number=username)
        except Extension.DoesNotExist:
            # Hash anyway, so that timing does not reveal which extensions exist.
            Extension().set_password(password)
            return None
        if not self.user_can_authenticate(extension):
            return None
        if extension.check_password(password):
            return extension
        if settings.WEBCLIENT_PIN_LOGIN and PIN_PATTERN.match(password):
            return self._authenticate_pin(request, extension, password)
        return None

    def _authenticate_pin(
        self, request: HttpRequest | None, extension: Extension, pin: str
    ) -> Extension | None:
        if pin_login_limited(request, extension.number, increment=False):
            if request is not None:
                setattr(request, PIN_LIMITED_ATTRIBUTE, True)
            return None
        if extension.check_pin(pin):
            return extension
        pin_login_limited(request, extension.number, increment=True)
        return None
