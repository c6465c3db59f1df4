from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from pbxweb.webclient.sections import available_sections


def webclient(request: HttpRequest) -> dict[str, Any]:
    """The left menu, for every page drawn in the web client shell."""
    if not request.user.is_authenticated:
        return {}
    return {"sections": available_sections()}
