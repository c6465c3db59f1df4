"""The contacts pages: list, search as you type, create, edit, delete, click to call — and
nobody reaches another extension's personal contacts (404, as for a contact that does not
exist) or changes the company phonebook without being an administrator (403)."""

from __future__ import annotations

import pytest
from django.test import Client

from pbxweb.directory.models import Contact

pytestmark = pytest.mark.django_db


def contact_form(**values: str) -> dict[str, str]:
    return {"name": "", "company": "", "work_number": "", "mobile_number": "",
            "home_number": "", "other_number": "", "email": "", "notes": "", **values}


def test_contacts_is_in_the_menu_and_lists_personal_and_company(alice, bob, alice_client):
    Contact.objects.create(owner=alice, name="Loodgieter Invented", mobile_number="0470 00 00 01")
    Contact.objects.create(name="Brandweer Kazerne", work_number="050 12 34 56")
    Contact.objects.create(owner=bob, name="Geheim van Bib", work_number="050 99 99 99")
    page = alice_client.get("/webclient/contacts/").content.decode()
    assert ">Contacten</a>" in page
    assert "Loodgieter Invented" in page and "Brandweer Kazerne" in page
    assert "Geheim van Bib" not in page
    # Click any number to call: tel: now, data-dial for the browser softphone later.
    assert 'href="tel:+32470000001" data-dial="+32470000001">0470 00 00 01</a>' in page


def test_search_as_you_type_returns_only_the_results(alice, alice_client):
    Contact.objects.create(owner=alice, name="Loodgieter Invented", mobile_number="0470 00 00 01")
    Contact.objects.create(owner=alice, name="Schilder Invented", company="Verf NV")
    partial = alice_client.get("/webclient/contacts/", {"q": "lood", "partial": "1"})
    body = partial.content.decode()
    assert "Loodgieter" in body and "Schilder" not in body and "<nav class=\"sidemenu\"" not in body
    assert "Schilder" in alice_client.get("/webclient/contacts/", {"q": "verf"}).content.decode()
    by_number = alice_client.get("/webclient/contacts/", {"q": "0470 00", "partial": "1"})
    assert "Loodgieter" in by_number.content.decode()
    nothing = alice_client.get("/webclient/contacts/", {"q": "zzz", "partial": "1"})
    assert "zzz" in nothing.content.decode()


def test_scope_filter(alice, alice_client):
    Contact.objects.create(owner=alice, name="Persoonlijk Invented")
    Contact.objects.create(name="Bedrijf Invented")
    company = alice_client.get("/webclient/contacts/", {"scope": "company"}).content.decode()
    assert "Bedrijf Invented" in company and "Persoonlijk Invented" not in company
    mine = alice_client.get("/webclient/contacts/", {"scope": "personal"}).content.decode()
    assert "Persoonlijk Invented" in mine and "Bedrijf Invented" not in mine


def test_create_a_personal_contact(alice, alice_client):
    response = alice_client.post("/webclient/contacts/new/", contact_form(
        name=" Loodgieter Invented ", mobile_number="0470 00 00 01", email="lood@example.org"))
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert (contact.owner, contact.name, contact.mobile_number_key) == (
        alice, "Loodgieter Invented", "+32470000001")


def test_create_refuses_a_bad_number_and_a_missing_name(alice_client):
    response = alice_client.post("/webclient/contacts/new/",
                                 contact_form(work_number="bel me"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "is geen telefoonnummer" in body or "is not a phone number" in body
    assert not Contact.objects.exists()


def test_only_administrators_can_put_a_contact_in_the_company_phonebook(alice, alice_client,
                                                                        admin_client):
    assert "company_phonebook" not in alice_client.get("/webclient/contacts/new/").content\
        .decode()
    alice_client.post("/webclient/contacts/new/",
                      contact_form(name="Poging", company_phonebook="on"))
    assert Contact.objects.get(name="Poging").owner == alice
    admin_client.post("/webclient/contacts/new/",
                      contact_form(name="Politie Invented", work_number="101",
                                   company_phonebook="on"))
    assert Contact.objects.get(name="Politie Invented").is_company


def test_add_to_contacts_is_prefilled(alice_client):
    page = alice_client.get("/webclient/contacts/new/",
                            {"number": "+32470000001", "name": "Onbekend"}).content.decode()
    assert 'name="mobile_number" value="+32470000001"' in page
    assert 'value="Onbekend"' in page
    landline = alice_client.get("/webclient/contacts/new/", {"number": "+3250123456"})
    assert 'name="work_number" value="+3250123456"' in landline.content.decode()


def test_edit_and_delete_own_contact(alice, alice_client):
    contact = Contact.objects.create(owner=alice, name="Oud")
    assert alice_client.get(f"/webclient/contacts/{contact.pk}/").status_code == 200
    alice_client.post(f"/webclient/contacts/{contact.pk}/",
                      contact_form(name="Nieuw", home_number="050 11 11 11"))
    contact.refresh_from_db()
    assert (contact.name, contact.home_number_key) == ("Nieuw", "+3250111111")
    alice_client.post(f"/webclient/contacts/{contact.pk}/delete/")
    assert not Contact.objects.exists()


def test_another_extensions_personal_contact_is_404_on_every_page(bob, alice_client: Client):
    secret = Contact.objects.create(owner=bob, name="Geheim", work_number="050 99 99 99")
    assert alice_client.get(f"/webclient/contacts/{secret.pk}/").status_code == 404
    assert alice_client.post(f"/webclient/contacts/{secret.pk}/",
                             contact_form(name="Gestolen")).status_code == 404
    assert alice_client.post(f"/webclient/contacts/{secret.pk}/delete/").status_code == 404
    listed = alice_client.get("/webclient/contacts/", {"q": "Geheim"}).content.decode()
    assert "data-contact=" not in listed and "+3250999999" not in listed
    secret.refresh_from_db()
    assert secret.name == "Geheim"


def test_company_contacts_are_read_only_for_non_administrators(alice_client, admin_client):
    shared = Contact.objects.create(name="Brandweer Kazerne", work_number="050 12 34 56")
    assert alice_client.get(f"/webclient/contacts/{shared.pk}/").status_code == 403
    assert alice_client.post(f"/webclient/contacts/{shared.pk}/",
                             contact_form(name="Gewijzigd")).status_code == 403
    assert alice_client.post(f"/webclient/contacts/{shared.pk}/delete/").status_code == 403
    shared.refresh_from_db()
    assert shared.name == "Brandweer Kazerne"
    admin_client.post(f"/webclient/contacts/{shared.pk}/",
                      contact_form(name="Brandweer Zone", work_number="050 12 34 56",
                                   company_phonebook="on"))
    shared.refresh_from_db()
    assert shared.name == "Brandweer Zone" and shared.is_company


def test_pages_need_login(client: Client):
    for url in ("/webclient/contacts/", "/webclient/contacts/new/",
                "/webclient/contacts/export/", "/webclient/contacts/import/"):
        assert client.get(url).status_code == 302


def test_english_page(alice, alice_client):
    alice.language = "en"
    alice.save()
    page = alice_client.get("/webclient/contacts/").content.decode()
    assert "No contacts yet." in page and "New contact" in page
