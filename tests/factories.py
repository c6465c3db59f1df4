"""Small builders for test data (role names only, never real staff)."""

from __future__ import annotations

from pbxweb.accounts import actions
from pbxweb.accounts.models import Extension

PASSWORD = "correct-horse-battery"
PIN = "4826"


def make_extension(number: str = "201", *, first_name: str = "Onthaal", last_name: str = "",
                   email: str = "", password: str = PASSWORD, pin: str | None = PIN,
                   language: str = "nl", is_staff: bool = False,
                   send_welcome: bool = False) -> Extension:
    return actions.do_create_extension(
        actions.NewExtension(number=number, first_name=first_name, last_name=last_name,
                             email=email, password=password, pin=pin, language=language,
                             group="Gemeente", is_staff=is_staff, sip_password=f"sip-{number}"),
        send_welcome=send_welcome,
    )
