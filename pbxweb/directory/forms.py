from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from pbxweb.directory.models import Contact


class ContactForm(forms.ModelForm):
    """The contact page's form, also used to check each imported row (same rules)."""

    company_phonebook = forms.BooleanField(
        label=_("In the company phonebook (everyone sees it)"), required=False)

    class Meta:
        model = Contact
        fields = ["name", "company", "work_number", "mobile_number", "home_number",
                  "other_number", "email", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, may_use_company: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_use_company:
            del self.fields["company_phonebook"]
        for name in ("work_number", "mobile_number", "home_number", "other_number"):
            self.fields[name].widget.attrs.update(inputmode="tel", autocomplete="off")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("name", "company", "email", "notes"):
            if isinstance(cleaned.get(name), str):
                cleaned[name] = cleaned[name].strip()
        return cleaned


class ImportForm(forms.Form):
    file = forms.FileField(label=_("vCard (.vcf) or CSV file"))
    company_phonebook = forms.BooleanField(
        label=_("Import into the company phonebook"), required=False)

    def __init__(self, *args: Any, may_use_company: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_use_company:
            del self.fields["company_phonebook"]
