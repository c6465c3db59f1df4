"""Contacts (SPEC.md W5, C10): a personal phonebook per extension and the company phonebook.

A contact with an ``owner`` is that extension's personal contact and nobody else ever sees it;
a contact without one is in the company phonebook, which everyone reads and administrators
(``Extension.is_staff``) edit. Each number is stored as typed and, beside it, in its comparable
form (``numbers.number_key``) so that the caller-name lookup is an indexed equality.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pbxweb.directory.numbers import number_key, validate_phone_number


class NumberKind(models.TextChoices):
    WORK = "work", _("work")
    MOBILE = "mobile", _("mobile")
    HOME = "home", _("home")
    OTHER = "other", _("other")


# The model field holding each kind of number; its key column is "<field>_key".
NUMBER_FIELDS: dict[NumberKind, str] = {
    NumberKind.WORK: "work_number",
    NumberKind.MOBILE: "mobile_number",
    NumberKind.HOME: "home_number",
    NumberKind.OTHER: "other_number",
}


class ContactQuerySet(models.QuerySet["Contact"]):
    def visible_to(self, viewer: Any) -> ContactQuerySet:
        """The viewer's own personal contacts and the company phonebook."""
        return self.filter(Q(owner=viewer) | Q(owner__isnull=True))

    def personal(self, viewer: Any) -> ContactQuerySet:
        return self.filter(owner=viewer)

    def company(self) -> ContactQuerySet:
        return self.filter(owner__isnull=True)

    def with_number_key(self, keys: list[str]) -> ContactQuerySet:
        condition = Q()
        for field in NUMBER_FIELDS.values():
            condition |= Q(**{f"{field}_key__in": keys})
        return self.filter(condition)

    def search(self, text: str) -> ContactQuerySet:
        """Search as you type: every word must appear in the name, company, email or a number."""
        result = self
        for word in text.split()[:8]:
            condition = (Q(name__icontains=word) | Q(company__icontains=word)
                         | Q(email__icontains=word))
            digits = "".join(ch for ch in word if ch.isdigit())
            if digits and len(digits) == len(word.lstrip("+")):
                # "0477" finds +32477…: compare without the trunk or international prefix.
                core = digits.lstrip("0") or digits
                for field in NUMBER_FIELDS.values():
                    condition |= Q(**{f"{field}_key__contains": core})
            result = result.filter(condition)
        return result


class Contact(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
        on_delete=models.CASCADE, related_name="contacts",
        help_text=_("Empty: the contact is in the company phonebook."))
    name = models.CharField(_("name"), max_length=160)
    company = models.CharField(_("company"), max_length=160, blank=True)
    work_number = models.CharField(_("work number"), max_length=40, blank=True,
                                   validators=[validate_phone_number])
    mobile_number = models.CharField(_("mobile number"), max_length=40, blank=True,
                                     validators=[validate_phone_number])
    home_number = models.CharField(_("home number"), max_length=40, blank=True,
                                   validators=[validate_phone_number])
    other_number = models.CharField(_("other number"), max_length=40, blank=True,
                                    validators=[validate_phone_number])
    work_number_key = models.CharField(max_length=20, blank=True, editable=False)
    mobile_number_key = models.CharField(max_length=20, blank=True, editable=False)
    home_number_key = models.CharField(max_length=20, blank=True, editable=False)
    other_number_key = models.CharField(max_length=20, blank=True, editable=False)
    email = models.EmailField(_("email"), blank=True)
    notes = models.TextField(_("notes"), max_length=2000, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["owner", "name"], name="contact_owner_name"),
            models.Index(fields=["work_number_key"], name="contact_work_key"),
            models.Index(fields=["mobile_number_key"], name="contact_mobile_key"),
            models.Index(fields=["home_number_key"], name="contact_home_key"),
            models.Index(fields=["other_number_key"], name="contact_other_key"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.company})" if self.company else self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The keys follow the numbers on every save, whoever saves (form, API, import, admin).
        self.refresh_number_keys()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields,
                                       *(f"{field}_key" for field in NUMBER_FIELDS.values())}
        super().save(*args, **kwargs)

    @property
    def is_company(self) -> bool:
        return self.owner_id is None

    def numbers(self) -> list[tuple[NumberKind, str]]:
        """The contact's numbers as typed, in the order work, mobile, home, other."""
        return [(kind, getattr(self, field)) for kind, field in NUMBER_FIELDS.items()
                if getattr(self, field)]

    def refresh_number_keys(self) -> None:
        for field in NUMBER_FIELDS.values():
            setattr(self, f"{field}_key", number_key(getattr(self, field)))
