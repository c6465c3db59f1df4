"""Two colleagues chat live in two Chromium pages: messages, read state, a shared picture,
archive and restore — against the real ASGI server (daphne) and its WebSocket."""

from __future__ import annotations

import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.e2e.browser import chromium
from tests.factories import PASSWORD, make_extension
from tests.pbxweb.chat.helpers import png_bytes

pytestmark = pytest.mark.e2e

PRODUCTION_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]


@pytest.fixture
def two_colleagues(settings, live_asgi_server: str) -> str:
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    make_extension("201", first_name="Onthaal")
    make_extension("202", first_name="Bib")
    return live_asgi_server


def log_in(page: Page, base: str, number: str) -> None:
    page.goto(f"{base}/webclient/login/?next=/webclient/chat/")
    page.get_by_label("Toestelnummer").fill(number)
    page.get_by_label("Wachtwoord of pincode").fill(PASSWORD)
    page.get_by_role("button", name="Aanmelden").click()
    expect(page).to_have_url(f"{base}/webclient/chat/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Chat")


def test_two_colleagues_chat_live_share_a_file_archive_and_restore(two_colleagues: str,
                                                                   tmp_path) -> None:
    base = two_colleagues
    with chromium() as browser:
        onthaal = browser.new_context(locale="nl-BE", accept_downloads=True).new_page()
        bib = browser.new_context(locale="nl-BE", accept_downloads=True).new_page()
        log_in(onthaal, base, "201")
        log_in(bib, base, "202")
        for page in (onthaal, bib):
            expect(page.locator(".sidemenu")).to_contain_text("Chat")

        # Onthaal starts a chat with Bib; it appears on Bib's page without a reload.
        onthaal.locator("#chat-new summary").click()
        onthaal.get_by_label("Collega", exact=True).select_option("202")
        onthaal.get_by_role("button", name="Chat beginnen").click()
        expect(onthaal.locator("#chat-title")).to_have_text("Bib")
        onthaal.get_by_label("Bericht", exact=True).fill("Goedemorgen, er staat iemand voor u")
        onthaal.get_by_label("Bericht", exact=True).press("Enter")
        mine = onthaal.locator(".chat-message.mine").last
        expect(mine).to_contain_text("Goedemorgen")

        conversation = bib.locator(".chat-conversation", has_text="Onthaal")
        expect(conversation.locator(".chat-badge")).to_have_text("1")
        expect(bib.locator('.sidemenu a[href$="/webclient/chat/"] .menu-badge')).to_have_text("1")
        conversation.click()
        expect(bib.locator(".chat-message").last).to_contain_text("er staat iemand voor u")
        # Bib has it open: Onthaal sees it read, live.
        expect(mine.locator(".chat-status")).to_have_text("Gelezen")
        expect(bib.locator('.sidemenu a[href$="/webclient/chat/"] .menu-badge')).to_have_count(0)

        bib.get_by_label("Bericht", exact=True).fill("Ik kom eraan")
        bib.get_by_role("button", name="Versturen").click()
        expect(onthaal.locator(".chat-message").last).to_contain_text("Ik kom eraan")

        # A picture: previewed (our PNG) on the other side and downloadable as a file.
        picture: FilePayload = {"name": "plattegrond.png", "mimeType": "image/png",
                                "buffer": png_bytes(80, 60)}
        onthaal.set_input_files("#chat-file", files=[picture])
        onthaal.get_by_label("Bericht", exact=True).fill("Zaal 2")
        onthaal.get_by_role("button", name="Versturen").click()
        shared = bib.locator(".chat-message", has_text="Zaal 2")
        expect(shared.locator("img")).to_have_attribute("alt", "plattegrond.png")
        expect(shared.locator("img")).to_have_js_property("naturalWidth", 80)
        with bib.expect_download() as download_info:
            shared.get_by_role("link", name="plattegrond.png downloaden").click()
        download = download_info.value
        assert download.suggested_filename == "plattegrond.png"
        target = tmp_path / "download.png"
        download.save_as(target)
        assert target.read_bytes() == png_bytes(80, 60)

        # Archive: it leaves Onthaal's active list, is found under Archived, and comes back.
        onthaal.get_by_role("button", name="Archiveren").click()
        expect(onthaal.locator("#chat-conversations .chat-conversation")).to_have_count(0)
        onthaal.get_by_role("button", name="Gearchiveerd").click()
        expect(onthaal.locator("#chat-conversations .chat-conversation")).to_have_text(
            ["Bib" + "Zaal 2"], use_inner_text=False)
        onthaal.get_by_label("Zoeken in gesprekken").fill("iemand voor u")
        expect(onthaal.locator("#chat-search-results")).to_contain_text("Goedemorgen")
        onthaal.get_by_role("button", name="Terugzetten").click()
        onthaal.get_by_role("button", name="Actief").click()
        expect(onthaal.locator("#chat-conversations .chat-conversation")).to_have_count(1)
        # Bib's list was never affected.
        expect(bib.locator("#chat-conversations .chat-conversation")).to_have_count(1)
