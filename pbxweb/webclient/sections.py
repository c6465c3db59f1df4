"""The web client's left menu (SPEC.md W4–W13): only sections whose app exists are shown."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    label: str | Promise
    url_name: str
    spec_id: str


# In the order of the manual's menu. A section appears once its URL name resolves.
SECTIONS: tuple[Section, ...] = (
    Section("people", _("People"), "directory:people", "W4"),
    Section("contacts", _("Contacts"), "directory:contacts", "W5"),
    Section("chat", _("Chat"), "chat:home", "W6"),
    Section("history", _("Call history"), "history:list", "W7"),
    Section("voicemail", _("Voicemail"), "voicemail:list", "W8"),
    Section("conferences", _("Conferences"), "conferences:list", "W9"),
    Section("switchboard", _("Switchboard"), "switchboard:home", "W10"),
    Section("settings", _("Settings"), "webclient:settings", "W13"),
)


def available_sections() -> list[tuple[Section, str]]:
    available = []
    for section in SECTIONS:
        try:
            available.append((section, reverse(section.url_name)))
        except NoReverseMatch:
            continue
    return available
