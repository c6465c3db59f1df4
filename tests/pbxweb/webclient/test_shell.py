import pytest
from django.test import Client

from tests.factories import make_extension

pytestmark = pytest.mark.django_db


def test_shell_shows_who_is_logged_in_and_the_profile_menu(client: Client) -> None:
    client.force_login(make_extension("124", first_name="Secretariaat"))
    page = client.get("/webclient/").content.decode()
    assert "Secretariaat" in page and "124" in page
    for item in ("Wachtwoord wijzigen", "Inloggegevens opnieuw versturen", "Afmelden",
                 "Profielfoto en taal"):
        assert item in page
    assert 'lang="nl"' in page


def test_shell_menu_lists_only_sections_that_exist(client: Client) -> None:
    client.force_login(make_extension("124"))
    page = client.get("/webclient/").content.decode()
    # Sections whose page exists are linked; People and Conferences do not exist yet, so
    # their entries must not be dead links.
    for present, url in (("Voicemail", "/webclient/voicemail/"),
                         ("Oproepgeschiedenis", "/webclient/history/")):
        assert f'href="{url}"' in page, present
    for absent in ("Personen", "Conferenties"):
        assert f">{absent}</a>" not in page


def test_administration_link_only_for_staff(client: Client) -> None:
    client.force_login(make_extension("124"))
    assert "/admin/" not in client.get("/webclient/").content.decode()
    client.force_login(make_extension("299", is_staff=True))
    assert "/admin/" in client.get("/webclient/").content.decode()


def test_browser_language_is_used_before_login(client: Client) -> None:
    english = client.get("/webclient/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    dutch = client.get("/webclient/login/", HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert "Password or PIN" in english and 'lang="en"' in english
    assert "Wachtwoord of pincode" in dutch


def test_extension_language_beats_the_browser(client: Client) -> None:
    client.force_login(make_extension("124", language="en"))
    page = client.get("/webclient/", HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert "Log out" in page


def test_static_files_are_served_without_a_cdn(client: Client) -> None:
    client.force_login(make_extension("124"))
    page = client.get("/webclient/").content.decode()
    assert "http://" not in page.replace("http://testserver", "") or "cdn" not in page
    assert "//cdn" not in page and "googleapis" not in page
    css = client.get("/static/css/webclient.css")
    assert css.status_code == 200


def test_security_headers(client: Client) -> None:
    response = client.get("/webclient/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
