"""A real browser logs in as a demo extension and sees the web client shell."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e

PRODUCTION_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]


@pytest.fixture
def demo_organisation(settings, live_asgi_server: str) -> str:
    # The server process hashes with the production hasher, so create users with it too.
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    call_command("seed_demo", "--quiet")
    return live_asgi_server


def test_demo_extension_logs_in_and_sees_the_shell(demo_organisation: str) -> None:
    base = demo_organisation
    with chromium() as browser:
        page = browser.new_page(locale="nl-BE")
        page.goto(f"{base}/webclient/")
        expect(page).to_have_url(f"{base}/webclient/login/?next=/webclient/")
        page.get_by_label("Toestelnummer").fill("100")
        page.get_by_label("Wachtwoord of pincode").fill("wrong-password")
        page.get_by_role("button", name="Aanmelden").click()
        expect(page.locator("#login-error")).to_contain_text("Verkeerd toestelnummer")
        page.get_by_label("Wachtwoord of pincode").fill("demo-telefonie")
        page.get_by_role("button", name="Aanmelden").click()
        expect(page).to_have_url(f"{base}/webclient/")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Welkom, Onthaal")
        expect(page.locator(".who-number")).to_have_text("100")
        # The page's WebSocket reached the server through session auth and Origin checks.
        expect(page.locator("#connection-state")).to_have_attribute("data-state", "connected")
        page.locator(".profile-menu summary").click()
        expect(page.get_by_role("menuitem", name="Afmelden")).to_be_visible()
        page.get_by_role("menuitem", name="Afmelden").click()
        expect(page).to_have_url(f"{base}/webclient/login/")


def test_pin_login_in_english(demo_organisation: str) -> None:
    base = demo_organisation
    with chromium() as browser:
        page = browser.new_page(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
        page.goto(f"{base}/webclient/login/")
        page.get_by_label("Extension").fill("219")
        page.get_by_label("Password or PIN").fill("2580")
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{base}/webclient/")
        expect(page.locator(".who-number")).to_have_text("219")
