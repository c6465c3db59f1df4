"""One comparable form per phone number, so that "0477 12 34 56", "+32 477 12 34 56" and
"0032477123456" in a contact all match the ``+32477123456`` a call record holds.

External numbers become E.164 (``softphone.pbx.dialplan.normalise``, the engine's own rule);
short internal numbers (extensions, 2–6 digits) stay as they are typed, separators removed.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from softphone.pbx import dialplan


def number_key(raw: str) -> str:
    """The comparable form of ``raw``, or "" when it is no phone number we can call."""
    if not raw or not raw.strip():
        return ""
    external = dialplan.normalise(raw)
    if external is not None:
        return external
    cleaned = dialplan.clean(raw)
    return cleaned if dialplan.EXTENSION_RE.fullmatch(cleaned) else ""


def validate_phone_number(value: str) -> None:
    """Model-field validator: anything typed must be callable (empty is allowed)."""
    if value.strip() and not number_key(value):
        raise ValidationError(
            _("“%(value)s” is not a phone number (e.g. 050 12 34 56, +32 477 12 34 56 or an "
              "extension)."), code="invalid_phone_number", params={"value": value})


def dial_string(raw: str) -> str:
    """What a ``tel:`` link and the softphone dial: the key, else the cleaned text."""
    return number_key(raw) or dialplan.clean(raw)
