"""The chat page: in the menu, in Dutch and English, with everything it needs."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.pbxweb.chat.helpers import colleagues

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language,heading,send", [("nl", "Chat", "Versturen"),
                                                   ("en", "Chat", "Send")])
def test_the_chat_page_speaks_the_users_language(language, heading, send) -> None:
    onthaal, _, _ = colleagues()
    onthaal.language = language
    onthaal.save()
    client = Client()
    client.force_login(onthaal)
    page = client.get("/webclient/chat/", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    html = page.content.decode()
    assert f"<h1>{heading}</h1>" in html and f">{send}</button>" in html
    assert 'id="chat-labels"' in html and "chat/chat.js" in html
    assert 'href="/webclient/chat/"' in html  # the menu shows the Chat section


def test_the_menu_links_chat_and_loads_the_unread_badge_on_every_page() -> None:
    onthaal, _, _ = colleagues()
    client = Client()
    client.force_login(onthaal)
    html = client.get("/webclient/").content.decode()
    assert 'href="/webclient/chat/"' in html and "chat/badge.js" in html


def test_the_page_needs_a_login() -> None:
    response = Client().get("/webclient/chat/")
    assert response.status_code == 302 and "/login/" in response["Location"]
