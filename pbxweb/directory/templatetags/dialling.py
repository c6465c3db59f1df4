"""``{% dial_link number %}``: a number anyone can click to call (SPEC.md C10).

For now the link is ``tel:`` (the desk phone's or the OS's dialler picks it up); the browser
softphone will take over every ``a[data-dial]`` once it exists, without touching templates.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from pbxweb.directory.numbers import dial_string
from softphone.pbx import dialplan

register = template.Library()


@register.simple_tag
def dial_link(number: str, label: str = "") -> SafeString | str:
    if not number:
        return ""
    target = dial_string(number)
    shown = label or (dialplan.to_national_display(target) if target.startswith("+") else number)
    return format_html('<a class="dial" href="tel:{}" data-dial="{}">{}</a>',
                       target, target, shown)


@register.filter
def national(number: str) -> str:
    return dialplan.to_national_display(number) if number else ""
