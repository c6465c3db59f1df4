"""Administration of the SIP trunk and its DIDs (SPEC.md A1)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from softphone.models import Trunk, TrunkDid


class TrunkAdminForm(forms.ModelForm):
    # Never sent back to the browser; an empty field keeps the stored password.
    password = forms.CharField(
        label=_("password"), required=False, strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("The carrier's SIP password. Leave empty to keep the current one."),
    )

    class Meta:
        model = Trunk
        fields = ["name", "enabled", "host", "port", "transport", "username", "password",
                  "realm", "register", "register_expires", "outbound_caller_id", "from_domain"]

    def clean_password(self) -> str:
        password: str = self.cleaned_data.get("password", "")
        return password or self.instance.password


class TrunkDidInline(admin.TabularInline):
    model = TrunkDid
    extra = 1
    autocomplete_fields = ["extension"]


@admin.register(Trunk)
class TrunkAdmin(admin.ModelAdmin):
    form = TrunkAdminForm
    inlines = [TrunkDidInline]
    list_display = ["name", "host", "port", "transport", "enabled", "register"]
    list_filter = ["enabled"]
    search_fields = ["name", "host", "dids__number"]
