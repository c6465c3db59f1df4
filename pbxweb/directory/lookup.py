"""Caller-name lookup: the name to show for an incoming or historical number (SPEC.md W7, C10).

Order, most personal first — the viewer's own naming wins, as on a mobile phone:

1. the viewer's personal contacts,
2. colleagues: an active extension by its number, or by its mobile number,
3. the company phonebook.

Numbers are compared in their comparable form (``numbers.number_key``), so ``0477 12 34 56``,
``+32477123456`` and ``0032 477 12 34 56`` are one number. Several matches on one level: the
first by name, so that the answer does not change from one page load to the next.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pbxweb.accounts.models import Extension
from pbxweb.directory.models import NUMBER_FIELDS, Contact
from pbxweb.directory.numbers import number_key


def name_for_number(number: str, *, viewer: Any) -> str | None:
    """The name for one number as ``viewer`` should see it, or None if nobody is known."""
    return names_for_numbers([number], viewer=viewer).get(number)


def names_for_numbers(numbers: Iterable[str], *, viewer: Any) -> dict[str, str]:
    """Names for many numbers at once (a page of call history): three queries in all.

    The result maps each given number (as given) that has a name to that name.
    """
    keys_by_number = {number: number_key(number) for number in set(numbers)}
    keys = sorted({key for key in keys_by_number.values() if key})
    if not keys:
        return {}
    personal = _contact_names(Contact.objects.personal(viewer), keys)
    colleagues = _colleague_names(keys)
    company = _contact_names(Contact.objects.company(), keys)
    names = {}
    for number, key in keys_by_number.items():
        name = personal.get(key) or colleagues.get(key) or company.get(key)
        if name:
            names[number] = name
    return names


def _contact_names(contacts: Any, keys: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    key_fields = [f"{field}_key" for field in NUMBER_FIELDS.values()]
    for row in contacts.with_number_key(keys).order_by("name", "id").values("name", *key_fields):
        for field in key_fields:
            if row[field]:
                names.setdefault(row[field], row["name"])
    return names


def _colleague_names(keys: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    short = [key for key in keys if not key.startswith("+")]
    if short:
        for extension in Extension.objects.filter(number__in=short, is_active=True):
            names[extension.number] = extension.display_name
    if any(key.startswith("+") for key in keys):
        # Mobiles are free text on the extension (~150 rows): compare their keys here rather
        # than keep a second copy of every mobile number in the accounts table.
        wanted = set(keys)
        mobiles = (Extension.objects.filter(is_active=True).exclude(mobile="")
                   .order_by("number").only("number", "first_name", "last_name", "mobile"))
        for extension in mobiles:
            key = number_key(extension.mobile)
            if key in wanted:
                names.setdefault(key, extension.display_name)
    return names
