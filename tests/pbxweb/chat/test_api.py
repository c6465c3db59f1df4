"""The chat REST API, and that nobody reaches another extension's chat through it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from pbxweb.chat import actions
from pbxweb.chat.models import Attachment, Conversation, Membership, Message
from tests.pbxweb.chat.helpers import HTML, SVG, colleagues, png_bytes

pytestmark = pytest.mark.django_db
API = "/api/chat"


def client_for(extension) -> Client:
    client = Client()
    client.force_login(extension)
    return client


@pytest.fixture
def people():
    return colleagues()


def test_start_send_page_and_read(people) -> None:
    onthaal, bib, _ = people
    me, them = client_for(onthaal), client_for(bib)
    created = me.post(f"{API}/conversations/", {"kind": "direct", "with": "202"},
                      content_type="application/json")
    assert created.status_code == 201
    conversation = created.json()
    assert conversation["kind"] == "direct" and conversation["title"] == "Bib"
    for n in range(3):
        sent = me.post(f"{API}/conversations/{conversation['id']}/messages/",
                       {"text": f"vraag {n}"}, content_type="application/json")
        assert sent.status_code == 201
    listed = them.get(f"{API}/conversations/").json()["conversations"]
    assert [(c["title"], c["unread"]) for c in listed] == [("Onthaal", 3)]
    assert them.get(f"{API}/unread/").json() == {
        "total": 3, "conversations": {str(conversation["id"]): 3}}
    page = them.get(f"{API}/conversations/{conversation['id']}/messages/?limit=2").json()
    assert [m["text"] for m in page["messages"]] == ["vraag 1", "vraag 2"] and page["has_more"]
    older = them.get(f"{API}/conversations/{conversation['id']}/messages/"
                     f"?before={page['messages'][0]['id']}").json()
    assert [m["text"] for m in older["messages"]] == ["vraag 0"] and not older["has_more"]
    read = them.post(f"{API}/conversations/{conversation['id']}/read/", {},
                     content_type="application/json")
    assert read.json() == {"unread": 0}
    members = {m["number"]: m for m in me.get(
        f"{API}/conversations/{conversation['id']}/").json()["members"]}
    newest = page["messages"][-1]["id"]
    assert members["202"]["read_up_to"] == newest and members["202"]["delivered_up_to"] == newest


def test_group_create_archive_restore_and_search(people) -> None:
    onthaal, _, _ = people
    me = client_for(onthaal)
    group = me.post(f"{API}/conversations/",
                    {"kind": "group", "title": "Raad voorbereiding", "members": ["202", "203"]},
                    content_type="application/json").json()
    assert len(group["members"]) == 3
    me.post(f"{API}/conversations/{group['id']}/messages/", {"text": "Agenda punt 4"},
            content_type="application/json")
    archived = me.post(f"{API}/conversations/{group['id']}/archive/").json()
    assert archived["archived"] is True
    assert me.get(f"{API}/conversations/").json()["conversations"] == []
    assert [c["id"] for c in me.get(f"{API}/conversations/?archived=1").json()[
        "conversations"]] == [group["id"]]
    found = me.get(f"{API}/search/?q=agenda").json()
    assert [m["text"] for m in found["messages"]] == ["Agenda punt 4"]
    assert [c["title"] for c in me.get(f"{API}/search/?q=raad").json()["conversations"]] == [
        "Raad voorbereiding"]
    assert me.post(f"{API}/conversations/{group['id']}/restore/").json()["archived"] is False
    assert [c["id"] for c in me.get(f"{API}/conversations/").json()["conversations"]] == [
        group["id"]]


@pytest.mark.parametrize("body", [
    {"kind": "direct", "with": "201"},
    {"kind": "direct", "with": "999"},
    {"kind": "direct"},
    {"kind": "group", "title": "", "members": ["202"]},
    {"kind": "group", "title": "x", "members": "202"},
    {"kind": "group", "title": "x", "members": []},
    {"kind": "channel"},
])
def test_bad_conversation_requests_are_refused(people, body) -> None:
    response = client_for(people[0]).post(f"{API}/conversations/", body,
                                          content_type="application/json")
    assert response.status_code in {400, 404} and response.json()["detail"]
    assert Conversation.objects.count() == 0


def test_upload_and_download_a_picture(people) -> None:
    onthaal, bib, _ = people
    conversation = actions.do_start_direct(onthaal, "202")
    upload = SimpleUploadedFile("../../etc/passwd", png_bytes(), content_type="text/html")
    response = client_for(onthaal).post(
        f"{API}/conversations/{conversation.pk}/attachments/",
        {"file": upload, "text": "kijk"})
    assert response.status_code == 201, response.content
    attachment = response.json()["attachment"]
    assert attachment["name"] == "passwd" and attachment["content_type"] == "image/png"
    download = client_for(bib).get(attachment["url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert 'filename="passwd"' in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Type"] == "image/png"
    assert b"".join(download.streaming_content) == png_bytes()  # type: ignore[attr-defined]
    preview = client_for(bib).get(attachment["preview_url"])
    assert preview["Content-Type"] == "image/png" and preview["X-Content-Type-Options"] == "nosniff"
    assert b"".join(preview.streaming_content).startswith(  # type: ignore[attr-defined]
        b"\x89PNG")
    api_download = client_for(bib).get(
        f"{API}/attachments/{Attachment.objects.get().key}/")
    assert api_download.status_code == 200


@pytest.mark.parametrize("name,data,code", [
    ("leeg.txt", b"", "empty_file"),
    ("pagina.png", HTML, "active_content"),
    ("logo.svg", SVG, "active_content"),
    ("setup.exe", b"MZ\x90\x00" + b"\x00" * 100, "unsupported_type"),
])
def test_refused_uploads_change_nothing(people, settings, name, data, code) -> None:
    onthaal, _, _ = people
    conversation = actions.do_start_direct(onthaal, "202")
    response = client_for(onthaal).post(
        f"{API}/conversations/{conversation.pk}/attachments/",
        {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 400 and response.json()["code"] == code
    assert Message.objects.count() == 0 and Attachment.objects.count() == 0
    assert not (settings.MEDIA_ROOT / "chat").exists()


def test_an_oversized_upload_is_refused(people, settings) -> None:
    settings.CHAT_ATTACHMENT_MAX_BYTES = 10_000
    onthaal, _, _ = people
    conversation = actions.do_start_direct(onthaal, "202")
    response = client_for(onthaal).post(
        f"{API}/conversations/{conversation.pk}/attachments/",
        {"file": SimpleUploadedFile("groot.txt", b"a" * 10_001)})
    assert response.status_code == 400 and response.json()["code"] == "file_too_large"
    assert Message.objects.count() == 0


def test_an_upload_without_a_file_is_refused(people) -> None:
    onthaal, _, _ = people
    conversation = actions.do_start_direct(onthaal, "202")
    response = client_for(onthaal).post(f"{API}/conversations/{conversation.pk}/attachments/",
                                        {"text": "zonder bestand"})
    assert response.status_code == 400 and response.json()["code"] == "no_file"


# --- object-level security: Bevolking-Loket 1 (203) is not in Onthaal and Bib's chat ------

@pytest.fixture
def private_chat(people):
    onthaal, bib, outsider = people
    conversation = actions.do_start_direct(onthaal, "202")
    actions.do_send_message(onthaal, conversation.pk, "vertrouwelijk dossier")
    message = actions.do_share_file(onthaal, conversation.pk, "nota.pdf", b"%PDF-1.4 nota")
    picture = actions.do_share_file(bib, conversation.pk, "foto.png", png_bytes())
    return conversation, message.attachment, picture.attachment, client_for(outsider)


def _snapshot() -> tuple:
    return (list(Conversation.objects.values()), list(Membership.objects.values()),
            list(Message.objects.values()), list(Attachment.objects.values()))


@pytest.mark.parametrize("method,path", [
    ("get", "conversations/{c}/"),
    ("get", "conversations/{c}/messages/"),
    ("post", "conversations/{c}/messages/"),
    ("post", "conversations/{c}/read/"),
    ("post", "conversations/{c}/archive/"),
    ("post", "conversations/{c}/restore/"),
    ("post", "conversations/{c}/attachments/"),
    ("get", "attachments/{a}/"),
    ("put", "conversations/{c}/"),
    ("patch", "conversations/{c}/"),
    ("delete", "conversations/{c}/"),
    ("delete", "conversations/{c}/messages/"),
    ("delete", "attachments/{a}/"),
])
def test_an_outsider_reaches_nothing_through_the_api(private_chat, method, path) -> None:
    conversation, attachment, _, outsider = private_chat
    before = _snapshot()
    url = f"{API}/" + path.format(c=conversation.pk, a=attachment.key)
    if path.endswith("attachments/") and method == "post":
        response = outsider.post(url, {"file": SimpleUploadedFile("x.txt", b"hallo")})
    else:
        response = getattr(outsider, method)(url, {"text": "ingebroken", "message": 10**6},
                                             content_type="application/json")
    assert response.status_code in {404, 405}
    assert b"vertrouwelijk" not in response.content and b"nota" not in response.content
    assert _snapshot() == before


def test_an_outsider_lists_and_finds_nothing(private_chat) -> None:
    _, _, _, outsider = private_chat
    assert outsider.get(f"{API}/conversations/").json() == {"conversations": []}
    assert outsider.get(f"{API}/conversations/?archived=1").json() == {"conversations": []}
    assert outsider.get(f"{API}/unread/").json() == {"total": 0, "conversations": {}}
    found = outsider.get(f"{API}/search/?q=vertrouwelijk").json()
    assert found == {"messages": [], "conversations": []}
    assert outsider.get(f"{API}/search/?q=Bib").json()["conversations"] == []


def test_an_outsider_cannot_download_files_or_previews(private_chat) -> None:
    _, document, picture, outsider = private_chat
    for url in (f"/webclient/chat/files/{document.key}/", f"/webclient/chat/files/{picture.key}/",
                f"/webclient/chat/files/{picture.key}/preview.png"):
        assert outsider.get(url).status_code == 404


def test_anonymous_requests_are_refused(private_chat) -> None:
    conversation, document, _, _ = private_chat
    anonymous = Client()
    assert anonymous.get(f"{API}/conversations/").status_code == 403
    assert anonymous.get(f"{API}/conversations/{conversation.pk}/messages/").status_code == 403
    download = anonymous.get(f"/webclient/chat/files/{document.key}/")
    assert download.status_code == 302 and "/login/" in download["Location"]


def test_sending_is_throttled_per_user(people, monkeypatch) -> None:
    monkeypatch.setattr("pbxweb.chat.api.ChatSendThrottle.rate", "3/min")
    onthaal, _, _ = people
    conversation = actions.do_start_direct(onthaal, "202")
    me = client_for(onthaal)
    codes = [me.post(f"{API}/conversations/{conversation.pk}/messages/", {"text": "x"},
                     content_type="application/json").status_code for _ in range(5)]
    assert codes == [201, 201, 201, 429, 429]
    assert Message.objects.count() == 3
