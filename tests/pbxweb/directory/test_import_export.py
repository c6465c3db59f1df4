"""vCard and CSV in and out: whole files or nothing, every bad row named, junk refused with a
4xx and a message, and an export never holds another extension's personal contacts."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from pbxweb.directory.models import Contact

pytestmark = pytest.mark.django_db

IMPORT = "/webclient/contacts/import/"
EXPORT = "/webclient/contacts/export/"

VCARDS = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Loodgieter Invented\r\nN:Invented;Loodgieter;;;\r\n"
    "ORG:Water BV\r\nTEL;TYPE=CELL:+32 470 00 00 01\r\nTEL;TYPE=WORK,VOICE:050 12 34 56\r\n"
    "EMAIL:lood@example.org\r\nNOTE:Komt op dinsdag\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Schilder;Sam;;;\r\nTEL;TYPE=home:0032 50 11 11 11\r\n"
    "TEL:0478 00 00 02\r\nEND:VCARD\r\n"
)


def upload(client: Client, content: bytes, name: str = "contacts.vcf",
           **extra: str) -> tuple[int, str]:
    response = client.post(IMPORT, {"file": SimpleUploadedFile(name, content), **extra})
    return response.status_code, response.content.decode()


def test_vcard_import(alice, alice_client):
    status, _ = upload(alice_client, VCARDS.encode())
    assert status == 302
    lood = Contact.objects.get(name="Loodgieter Invented")
    assert (lood.owner, lood.company, lood.mobile_number_key, lood.work_number_key,
            lood.email, lood.notes) == (alice, "Water BV", "+32470000001", "+3250123456",
                                        "lood@example.org", "Komt op dinsdag")
    sam = Contact.objects.get(name="Sam Schilder")
    assert (sam.home_number_key, sam.other_number_key) == ("+3250111111", "+32478000002")


def test_csv_import_with_dutch_headers_semicolons_and_bom(alice, alice_client):
    data = ("Naam;Bedrijf;GSM;Werk;E-mail\r\n"
            "Loodgieter Invented;Water BV;0470 00 00 01;050 12 34 56;lood@example.org\r\n"
            ";;;;\r\n"
            "Schilder Invented;;;+32 50 11 11 11;\r\n").encode("utf-8-sig")
    status, _ = upload(alice_client, data, "contacts.csv")
    assert status == 302
    assert sorted(Contact.objects.filter(owner=alice).values_list("name", flat=True)) == [
        "Loodgieter Invented", "Schilder Invented"]


def test_bad_rows_are_all_reported_and_nothing_is_imported(alice_client):
    data = (b"name,work,email\n"
            b"Goed Invented,050 12 34 56,\n"
            b",050 12 34 57,\n"
            b"Slecht nummer,bel me maar,\n"
            b"Slecht mailadres,,geen-adres\n"
            b"Te kort,050\n")
    status, page = upload(alice_client, data, "contacts.csv")
    assert status == 400
    assert not Contact.objects.exists()
    for where in ("regel 3", "regel 4", "regel 5", "regel 6"):
        assert f"<strong>{where}</strong>" in page
    assert "<strong>regel 2</strong>" not in page
    assert "2 velden waar de kopregel er 3 heeft" in page


def test_wrong_columns_are_refused_for_the_file(alice_client):
    status, page = upload(alice_client, b"voornaam,telefoon nr,x\nA,1,2\n", "contacts.csv")
    assert status == 400
    assert "voornaam" in page and "telefoon nr" in page and not Contact.objects.exists()
    status, page = upload(alice_client, b"company,work\nWater BV,050 12 34 56\n", "c.csv")
    assert status == 400 and "name" in page


def test_binary_junk_is_refused(alice_client):
    status, page = upload(alice_client, bytes(range(256)) * 8, "foto.vcf")
    assert status == 400
    assert "geen tekstbestand" in page


def test_wrong_encoding_is_refused_with_the_line(alice_client):
    data = "name,work\nLoodgieter,050 12 34 56\nCafé,050 12 34 57\n".encode("latin-1")
    status, page = upload(alice_client, data, "contacts.csv")
    assert status == 400
    assert "geen UTF-8" in page and "regel 3" in page
    assert not Contact.objects.exists()


def test_a_ten_megabyte_file_is_refused_with_413(alice_client):
    big = (b"name,work\n" + b"Invented Person,050 12 34 56\n" * 400_000)[:10 * 1024 * 1024]
    status, page = upload(alice_client, big, "contacts.csv")
    assert status == 413
    assert "10.485.760" in page or "10,485,760" in page
    assert not Contact.objects.exists()


def test_empty_and_broken_vcards(alice_client):
    assert upload(alice_client, b"")[0] == 400
    status, page = upload(alice_client, b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Half\r\n"
                                        b"this line is no property\r\nEND:VCARD\r\n")
    assert status == 400 and "vCard" in page
    status, page = upload(alice_client, b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
                                        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ok\r\nEND:VCARD\r\n")
    # Not a vCard file by its first line: read as CSV, whose header is refused.
    assert status == 400
    assert not Contact.objects.exists()


def test_vcard_with_a_bad_card_imports_nothing(alice_client):
    cards = VCARDS + ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Slecht\r\nTEL;TYPE=CELL:nummer?\r\n"
                      "END:VCARD\r\n")
    status, page = upload(alice_client, cards.encode())
    assert status == 400
    assert "<strong>kaart 3</strong>" in page
    assert not Contact.objects.exists()


def test_only_administrators_import_into_the_company_phonebook(alice, alice_client,
                                                               admin_client):
    upload(alice_client, VCARDS.encode(), company_phonebook="on")
    assert not Contact.objects.company().exists()
    assert upload(admin_client, VCARDS.encode(), company_phonebook="on")[0] == 302
    assert Contact.objects.company().count() == 2


def test_csv_export_round_trips_and_is_spreadsheet_safe(alice, alice_client, bob):
    Contact.objects.create(owner=alice, name="=HYPERLINK(\"x\")", mobile_number="+32 470 00 00 01",
                           notes="@SUM(A1)")
    Contact.objects.create(name="Brandweer Kazerne", work_number="050 12 34 56")
    Contact.objects.create(owner=bob, name="Geheim van Bib", work_number="050 99 99 99")
    response = alice_client.get(EXPORT, {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["name"] for row in rows] == ["'=HYPERLINK(\"x\")", "Brandweer Kazerne"]
    assert rows[0]["mobile"] == "+32 470 00 00 01" and rows[0]["notes"] == "'@SUM(A1)"
    assert "Geheim" not in text
    personal = alice_client.get(EXPORT, {"format": "csv", "scope": "personal"})
    assert "Brandweer" not in personal.content.decode("utf-8-sig")


def test_vcard_export_imports_again(alice, alice_client, bob_client):
    Contact.objects.create(owner=alice, name="Loodgieter Invented", company="Water BV",
                           mobile_number="0470 00 00 01", work_number="050 12 34 56",
                           home_number="050 11 11 11", other_number="201",
                           email="lood@example.org", notes="Twee\nregels")
    exported = alice_client.get(EXPORT, {"format": "vcf", "scope": "personal"})
    assert exported["Content-Type"].startswith("text/vcard")
    assert "Loodgieter" not in bob_client.get(EXPORT).content.decode()
    status, _ = upload(bob_client, exported.content)
    assert status == 302
    copy = Contact.objects.get(owner__number="202")
    assert (copy.name, copy.company, copy.mobile_number, copy.work_number, copy.home_number,
            copy.other_number, copy.email, copy.notes) == (
        "Loodgieter Invented", "Water BV", "0470 00 00 01", "050 12 34 56", "050 11 11 11",
        "201", "lood@example.org", "Twee\nregels")
