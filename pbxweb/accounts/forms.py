from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from pbxweb.accounts.backends import PIN_LIMITED_ATTRIBUTE
from pbxweb.accounts.models import EXTENSION_NUMBER_RE, Extension, Language


class ExtensionLoginForm(AuthenticationForm):
    """Extension number + password or PIN. Field names stay ``username``/``password`` so that
    django-axes and Django's login machinery see the usual credentials."""

    username = forms.RegexField(
        regex=EXTENSION_NUMBER_RE,
        label=_("Extension"),
        max_length=6,
        error_messages={"invalid": _("Enter your extension number (2 to 6 digits).")},
        widget=forms.TextInput(attrs={"autofocus": True, "inputmode": "numeric",
                                      "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password or PIN"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        "invalid_login": _("Wrong extension number, password or PIN."),
        "inactive": _("This extension is disabled."),
        "pin_limited": _(
            "Too many wrong PINs for this extension. Log in with your password or try again "
            "later."
        ),
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            self.user_cache = authenticate(self.request, username=username, password=password)
            if self.user_cache is None:
                if self.request is not None and getattr(self.request, PIN_LIMITED_ATTRIBUTE,
                                                        False):
                    raise forms.ValidationError(self.error_messages["pin_limited"],
                                                code="pin_limited")
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class AvatarForm(forms.Form):
    picture = forms.FileField(label=_("Profile picture"))


class LanguageForm(forms.ModelForm):
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)

    class Meta:
        model = Extension
        fields = ["language"]
