"""Administration of extensions and groups (SPEC.md A1, A2)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.password_validation import validate_password
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from pbxweb.accounts import actions
from pbxweb.accounts.models import Extension, ExtensionGroup, pin_validator


class ExtensionAdminForm(forms.ModelForm):
    new_password = forms.CharField(
        label=_("Web password"), required=False, strip=False, widget=forms.PasswordInput,
        help_text=_("Leave empty to keep the current one (new extensions get a link by email)."),
    )
    new_pin = forms.CharField(
        label=_("Voicemail PIN"), required=False, validators=[pin_validator],
        help_text=_("Leave empty to keep the current PIN."),
    )
    new_sip_password = forms.CharField(
        label=_("SIP password"), required=False, strip=False, widget=forms.PasswordInput,
        help_text=_("Leave empty to keep it (a new extension gets a generated one)."),
    )

    def clean_new_password(self) -> str:
        password: str = self.cleaned_data.get("new_password", "")
        if password:
            validate_password(password, self.instance)
        return password

    class Meta:
        model = Extension
        fields = ["number", "first_name", "last_name", "email", "mobile", "department",
                  "group", "language", "ring_seconds", "outbound_permission", "is_active",
                  "is_staff"]


@admin.register(Extension)
class ExtensionAdmin(admin.ModelAdmin):
    form = ExtensionAdminForm
    list_display = ["number", "first_name", "last_name", "department", "group", "email",
                    "is_active"]
    list_filter = ["group", "department", "outbound_permission", "is_active", "is_staff"]
    search_fields = ["number", "first_name", "last_name", "email", "department"]
    actions = ["resend_credentials"]

    def save_model(self, request: HttpRequest, obj: Extension, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            created = actions.do_create_extension(actions.NewExtension(
                number=obj.number, first_name=obj.first_name, last_name=obj.last_name,
                email=obj.email, mobile=obj.mobile, department=obj.department,
                group=obj.group.name if obj.group else "", language=obj.language,
                password=data.get("new_password") or None, pin=data.get("new_pin") or None,
                sip_password=data.get("new_sip_password") or None, is_staff=obj.is_staff,
            ))
            obj.pk = created.pk
            # NewExtension carries who the person is; the call settings are the admin's.
            Extension.objects.filter(pk=created.pk).update(
                ring_seconds=obj.ring_seconds, outbound_permission=obj.outbound_permission)
            return
        super().save_model(request, obj, form, change)
        if data.get("new_password"):
            actions.do_set_password(obj, data["new_password"])
        if data.get("new_pin"):
            actions.do_set_pin(obj, data["new_pin"])
        if data.get("new_sip_password"):
            actions.do_set_sip_password(obj, data["new_sip_password"])

    @admin.action(description=_("Resend the welcome email"))
    def resend_credentials(self, request: HttpRequest, queryset: QuerySet[Extension]) -> None:
        sent = sum(1 for extension in queryset if actions.do_resend_credentials(extension))
        self.message_user(request, _("%(count)d welcome email(s) sent.") % {"count": sent},
                          messages.SUCCESS)


@admin.register(ExtensionGroup)
class ExtensionGroupAdmin(admin.ModelAdmin):
    search_fields = ["name"]
