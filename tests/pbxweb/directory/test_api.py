"""/api/contacts/: the caller's personal contacts plus the company phonebook; another
extension's personal contact is 404 for every method, a company contact is 403 to change
unless one is an administrator."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from pbxweb.directory.models import Contact

pytestmark = pytest.mark.django_db

API = "/api/contacts/"


def send(client: Client, method: str, url: str, data: dict) -> tuple[int, dict]:
    response = getattr(client, method)(url, json.dumps(data), content_type="application/json")
    return response.status_code, response.json() if response.content else {}


def test_list_is_own_plus_company_with_search(alice, bob, alice_client):
    Contact.objects.create(owner=alice, name="Loodgieter Invented", mobile_number="0470000001")
    Contact.objects.create(name="Brandweer Kazerne", work_number="050 12 34 56")
    Contact.objects.create(owner=bob, name="Geheim van Bib")
    body = alice_client.get(API).json()
    assert body["count"] == 2
    assert [(c["name"], c["company_phonebook"], c["editable"]) for c in body["results"]] == [
        ("Brandweer Kazerne", True, False), ("Loodgieter Invented", False, True)]
    assert [c["name"] for c in alice_client.get(API, {"q": "0470"}).json()["results"]] == [
        "Loodgieter Invented"]
    assert alice_client.get(API, {"scope": "company"}).json()["count"] == 1


def test_create_update_delete_own(alice, alice_client):
    status, created = send(alice_client, "post", API,
                           {"name": "Schilder Invented", "work_number": "050 11 11 11"})
    assert status == 201 and created["company_phonebook"] is False
    url = f"{API}{created['id']}/"
    status, changed = send(alice_client, "patch", url, {"mobile_number": "+32 470 00 00 02"})
    assert status == 200 and changed["mobile_number"] == "+32 470 00 00 02"
    assert Contact.objects.get().mobile_number_key == "+32470000002"
    assert alice_client.delete(url).status_code == 204
    assert not Contact.objects.exists()


def test_bad_input_is_400_with_the_field(alice_client):
    status, body = send(alice_client, "post", API, {"name": "", "work_number": "bel me",
                                                    "email": "geen-adres"})
    assert status == 400
    assert set(body) == {"name", "work_number", "email"}
    assert not Contact.objects.exists()


def test_another_extensions_contact_is_404_for_every_method(bob, alice_client):
    secret = Contact.objects.create(owner=bob, name="Geheim van Bib")
    url = f"{API}{secret.pk}/"
    assert alice_client.get(url).status_code == 404
    assert send(alice_client, "put", url, {"name": "Gestolen"})[0] == 404
    assert send(alice_client, "patch", url, {"name": "Gestolen"})[0] == 404
    assert alice_client.delete(url).status_code == 404
    secret.refresh_from_db()
    assert secret.name == "Geheim van Bib" and secret.owner == bob


def test_company_phonebook_is_written_by_administrators_only(alice_client, admin_client):
    status, _ = send(alice_client, "post", API, {"name": "Poging", "company_phonebook": True})
    assert status == 403 and not Contact.objects.exists()
    status, created = send(admin_client, "post", API,
                           {"name": "Politie Invented", "work_number": "101",
                            "company_phonebook": True})
    assert status == 201 and created["company_phonebook"] is True
    url = f"{API}{created['id']}/"
    assert alice_client.get(url).status_code == 200
    assert send(alice_client, "patch", url, {"name": "Gewijzigd"})[0] == 403
    assert alice_client.delete(url).status_code == 403
    # An administrator's partial update keeps the contact where it is.
    assert send(admin_client, "patch", url, {"notes": "Zone West"})[0] == 200
    assert Contact.objects.get().is_company


def test_a_personal_contact_cannot_be_moved_into_the_company_phonebook_by_its_owner(
        alice, alice_client):
    mine = Contact.objects.create(owner=alice, name="Mijn")
    assert send(alice_client, "patch", f"{API}{mine.pk}/", {"company_phonebook": True})[0] == 403
    mine.refresh_from_db()
    assert mine.owner == alice


def test_api_needs_a_session(client: Client):
    assert client.get(API).status_code in (401, 403)
