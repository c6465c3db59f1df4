"""/api/contacts/ (DRF, session auth): the contacts page's data for the browser softphone.

Listing and reading: the caller's personal contacts and the company phonebook. Writing: one's
own personal contacts; the company phonebook only for administrators (403 for others).
Another extension's personal contact is 404, like a contact that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination

from pbxweb.directory import actions
from pbxweb.directory.models import Contact
from pbxweb.directory.views import SCOPES, contacts_for


class ContactPagination(PageNumberPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class ContactSerializer(serializers.ModelSerializer):
    company_phonebook = serializers.BooleanField(required=False)
    editable = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = ["id", "name", "company", "work_number", "mobile_number", "home_number",
                  "other_number", "email", "notes", "company_phonebook", "editable",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def to_representation(self, instance: Contact) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["company_phonebook"] = instance.is_company
        return data

    def get_editable(self, contact: Contact) -> bool:
        return actions.may_edit(self.context["request"].user, contact)

    def validate_company_phonebook(self, value: bool) -> bool:
        if value and not self.context["request"].user.is_staff:
            raise PermissionDenied(_("Only administrators change the company phonebook."))
        return value

    def create(self, validated: dict[str, Any]) -> Contact:
        company = validated.pop("company_phonebook", False)
        return actions.do_save_contact(Contact(**validated),
                                       owner=None if company else self.context["request"].user)

    def update(self, contact: Contact, validated: dict[str, Any]) -> Contact:
        company = validated.pop("company_phonebook", contact.is_company)
        for name, value in validated.items():
            setattr(contact, name, value)
        return actions.do_save_contact(
            contact, owner=None if company else self.context["request"].user)


class ContactViewSet(viewsets.ModelViewSet):
    serializer_class = ContactSerializer
    pagination_class = ContactPagination

    def get_queryset(self) -> Any:
        scope = self.request.query_params.get("scope", "all")
        return contacts_for(self.request.user, scope=scope if scope in SCOPES else "all",
                            query=self.request.query_params.get("q", "").strip()[:100])

    def check_object_permissions(self, request: Any, obj: Any) -> None:
        super().check_object_permissions(request, obj)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not actions.may_edit(
                request.user, obj):
            raise PermissionDenied(_("Only administrators change the company phonebook."))
