"""``manage.py extension add|list|remove|set-password|set-pin|set-sip-password``.

The administrator's command line for extensions (SPEC.md A1); tests and scripts use it too.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pbxweb.accounts import actions
from pbxweb.accounts.models import Extension


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first, last


class Command(BaseCommand):
    help = "Manage extensions (users): add, list, remove, set-password, set-pin, set-sip-password."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="create an extension and send its welcome email")
        add.add_argument("number")
        add.add_argument("--name", default="", help='"First Last"')
        add.add_argument("--email", default="")
        add.add_argument("--mobile", default="")
        add.add_argument("--department", default="")
        add.add_argument("--group", default="")
        add.add_argument("--language", default="nl", choices=["nl", "en"])
        add.add_argument("--password", default=None)
        add.add_argument("--pin", default=None)
        add.add_argument("--sip-password", default=None)
        add.add_argument("--admin", action="store_true", help="may use the admin site")
        add.add_argument("--no-email", action="store_true", help="do not send the welcome email")
        sub.add_parser("list", help="list extensions")
        remove = sub.add_parser("remove", help="delete an extension")
        remove.add_argument("number")
        for verb, dest in (("set-password", "password"), ("set-pin", "pin"),
                           ("set-sip-password", "sip_password")):
            setter = sub.add_parser(verb)
            setter.add_argument("number")
            setter.add_argument(dest)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "add":
                self._add(options)
            elif action == "list":
                self._list()
            else:
                self._change(action, options)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error

    def _add(self, options: dict[str, Any]) -> None:
        if Extension.objects.filter(number=options["number"]).exists():
            raise CommandError(f"extension {options['number']} already exists")
        first, last = _split_name(options["name"])
        extension = actions.do_create_extension(
            actions.NewExtension(
                number=options["number"], first_name=first, last_name=last,
                email=options["email"], mobile=options["mobile"],
                department=options["department"], group=options["group"],
                language=options["language"], password=options["password"],
                pin=options["pin"], sip_password=options["sip_password"],
                is_staff=options["admin"],
            ),
            send_welcome=not options["no_email"],
        )
        self.stdout.write(f"created {extension}")

    def _list(self) -> None:
        for extension in Extension.objects.select_related("group"):
            group = extension.group.name if extension.group else "-"
            self.stdout.write(
                f"{extension.number}\t{extension.display_name}\t{group}\t{extension.email}"
            )

    def _change(self, action: str, options: dict[str, Any]) -> None:
        try:
            extension = Extension.objects.get(number=options["number"])
        except Extension.DoesNotExist as error:
            raise CommandError(f"no extension {options['number']}") from error
        if action == "remove":
            actions.do_remove_extension(extension)
            self.stdout.write(f"removed {options['number']}")
        elif action == "set-password":
            actions.do_set_password(extension, options["password"])
            self.stdout.write(f"password set for {extension.number}")
        elif action == "set-pin":
            actions.do_set_pin(extension, options["pin"])
            self.stdout.write(f"PIN set for {extension.number}")
        elif action == "set-sip-password":
            actions.do_set_sip_password(extension, options["sip_password"])
            self.stdout.write(f"SIP password set for {extension.number}")
