"""``manage.py seed_demo``: a believable demo organisation (~25 extensions, SPEC.md shapes).

Names are roles or clearly invented people, never the staff from the manual. Every demo
extension has the web password ``DEMO_PASSWORD``, PIN ``DEMO_PIN`` and SIP password
``sip-<number>`` (documented in the README).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from pbxweb.accounts import actions
from pbxweb.accounts.models import Extension

DEMO_PASSWORD = "demo-telefonie"  # noqa: S105 - documented demo credential
DEMO_PIN = "2580"
DEMO_GROUP = "Gemeente"

# (number, first name, last name, department)
DEMO_EXTENSIONS: tuple[tuple[str, str, str, str], ...] = (
    ("100", "Onthaal", "", "Onthaal"),
    ("101", "Onthaal", "2", "Onthaal"),
    ("112", "Bevolking-Loket", "1", "Bevolking"),
    ("113", "Bevolking-Loket", "2", "Bevolking"),
    ("114", "Bevolking-Loket", "3", "Bevolking"),
    ("120", "Burgerzaken", "Back-office", "Bevolking"),
    ("124", "Secretariaat", "", "Bestuur"),
    ("130", "Algemeen", "Directeur", "Bestuur"),
    ("131", "Financieel", "Directeur", "Financiën"),
    ("140", "Boekhouding", "", "Financiën"),
    ("150", "Personeelsdienst", "", "Personeel"),
    ("151", "Loonadministratie", "", "Personeel"),
    ("157", "Sociale", "Dienst", "OCMW"),
    ("158", "Maatschappelijk", "Werker 1", "OCMW"),
    ("159", "Maatschappelijk", "Werker 2", "OCMW"),
    ("160", "Bib", "Centrum", "Bibliotheek"),
    ("165", "Bib", "Noord", "Bibliotheek"),
    ("210", "Bib", "West", "Bibliotheek"),
    ("213", "Bib", "Oost", "Bibliotheek"),
    ("217", "Informatica", "", "ICT"),
    ("219", "Gemeentewerken", "", "Technische dienst"),
    ("220", "Containerpark", "", "Technische dienst"),
    ("227", "Ruimtelijke", "Ordening", "Omgeving"),
    ("228", "Milieudienst", "", "Omgeving"),
    ("250", "Schoonmaak", "", "Facilitair"),
    ("299", "Demo", "Beheerder", "ICT"),
)
ADMIN_NUMBER = "299"


class Command(BaseCommand):
    help = "Create the demo organisation (idempotent: existing numbers are left alone)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        created = 0
        for number, first, last, department in DEMO_EXTENSIONS:
            if Extension.objects.filter(number=number).exists():
                continue
            slug = f"{first}{last}".lower().replace(" ", "").replace("-", "")
            actions.do_create_extension(
                actions.NewExtension(
                    number=number, first_name=first, last_name=last,
                    email=f"{slug}.{number}@demo.pbxweb.invalid",
                    mobile=f"+32470{int(number):06d}", department=department,
                    group=DEMO_GROUP, password=DEMO_PASSWORD, pin=DEMO_PIN,
                    sip_password=f"sip-{number}", is_staff=number == ADMIN_NUMBER,
                ),
                send_welcome=False,
            )
            created += 1
        if not options["quiet"]:
            self.stdout.write(
                f"demo organisation: {created} extension(s) created, "
                f"{Extension.objects.count()} in total; log in with extension 100 and "
                f"password {DEMO_PASSWORD!r} (or PIN {DEMO_PIN})"
            )
