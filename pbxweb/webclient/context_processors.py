from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from pbxweb.history.models import CallRecord
from pbxweb.webclient.sections import available_sections


def webclient(request: HttpRequest) -> dict[str, Any]:
    """The left menu, for every page drawn in the web client shell."""
    if not request.user.is_authenticated:
        return {}
    # The Call history item's badge: missed calls not looked at yet (W7).
    missed = CallRecord.objects.unseen_missed_count(request.user.number)
    return {"sections": available_sections(), "missed_calls": missed}
