"""A real browser creates a contact and finds it again by typing in the search box."""

import pytest
from django.test import Client
from playwright.sync_api import expect

from pbxweb.directory.models import Contact
from tests.e2e.browser import chromium
from tests.factories import make_extension

pytestmark = pytest.mark.e2e


def test_create_a_contact_then_find_it_by_search_as_you_type(live_asgi_server: str) -> None:
    base = live_asgi_server
    extension = make_extension("201", first_name="Onthaal")
    Contact.objects.create(owner=extension, name="Schilder Invented", work_number="050 11 11 11")
    client = Client()
    client.force_login(extension)
    session = client.cookies["sessionid"].value
    with chromium() as browser:
        context = browser.new_context(locale="nl-BE")
        context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
        page = context.new_page()
        page.goto(f"{base}/webclient/contacts/")
        page.get_by_role("link", name="Nieuw contact").click()
        page.get_by_label("Naam").fill("Loodgieter Invented")
        page.get_by_label("Gsm-nummer").fill("0470 00 00 01")
        page.get_by_role("button", name="Opslaan").click()
        expect(page).to_have_url(f"{base}/webclient/contacts/")
        rows = page.locator("#contact-results tbody tr")
        expect(rows).to_have_count(2)
        page.get_by_label("Zoeken").press_sequentially("lood", delay=50)
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Loodgieter Invented")
        dial = rows.first.locator("a[data-dial]")
        expect(dial).to_have_attribute("data-dial", "+32470000001")
        expect(dial).to_have_attribute("href", "tel:+32470000001")
        # The address follows the search, so a reload shows the same results.
        assert "q=lood" in page.url
        page.get_by_label("Zoeken").fill("0470")
        expect(rows).to_have_count(1)
        page.get_by_label("Zoeken").fill("")
        expect(rows).to_have_count(2)
        context.close()
