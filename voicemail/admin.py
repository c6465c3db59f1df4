"""The organisation greeting in the admin: an uploaded audio file, checked and converted to
8 kHz mono WAV exactly like a personal greeting (``voicemail.greetings``)."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin
from django.core.files.base import ContentFile
from django.http import HttpRequest

from voicemail.greetings import GreetingError, convert_greeting
from voicemail.models import OrganisationGreeting


class OrganisationGreetingForm(forms.ModelForm):
    class Meta:
        model = OrganisationGreeting
        fields = ["greeting"]

    def clean_greeting(self) -> Any:
        upload = self.cleaned_data["greeting"]
        if not hasattr(upload, "read"):
            return upload  # unchanged
        try:
            converted = convert_greeting(upload.read())
        except GreetingError as error:
            raise forms.ValidationError(str(error)) from None
        return ContentFile(converted, name=f"{uuid.uuid4().hex}.wav")


@admin.register(OrganisationGreeting)
class OrganisationGreetingAdmin(admin.ModelAdmin):
    form = OrganisationGreetingForm
    list_display = ["__str__", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not OrganisationGreeting.objects.exists()
