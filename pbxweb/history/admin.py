"""Call records in the admin: read-only, the engine is their only writer (SPEC.md C10)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from pbxweb.history.models import CallRecord


@admin.register(CallRecord)
class CallRecordAdmin(admin.ModelAdmin):
    list_display = ["started_at", "direction", "caller_number", "caller_name", "callee_number",
                    "callee_name", "answered_by", "disposition", "duration_seconds",
                    "status_code"]
    list_filter = ["direction", "disposition", "started_at"]
    search_fields = ["call_id", "caller_number", "caller_name", "callee_number", "callee_name",
                     "answered_by"]
    date_hierarchy = "started_at"
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
