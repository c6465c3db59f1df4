"""Chat actions: stored first, then published; archive keeps everything; marks only move on."""

from __future__ import annotations

import json

import pytest

from pbxweb.chat import actions, lib
from pbxweb.chat.errors import Invalid, NotFound
from pbxweb.chat.models import Conversation, ConversationKind, Membership, Message
from tests.pbxweb.chat.helpers import colleagues, png_bytes

pytestmark = pytest.mark.django_db


def test_a_pair_has_one_direct_conversation_whoever_starts_it() -> None:
    onthaal, bib, _ = colleagues()
    first = actions.do_start_direct(onthaal, "202")
    again = actions.do_start_direct(bib, "201")
    assert first.pk == again.pk and first.kind == ConversationKind.DIRECT
    assert set(lib.member_ids(first.pk)) == {onthaal.pk, bib.pk}


def test_starting_a_chat_with_yourself_or_nobody_is_refused() -> None:
    onthaal, _, _ = colleagues()
    with pytest.raises(Invalid):
        actions.do_start_direct(onthaal, "201")
    with pytest.raises(NotFound):
        actions.do_start_direct(onthaal, "999")
    with pytest.raises(Invalid):
        actions.do_start_direct(onthaal, ["202"])
    assert Conversation.objects.count() == 0


def test_a_group_has_a_title_and_its_members(django_capture_on_commit_callbacks,
                                             published) -> None:
    onthaal, bib, loket = colleagues()
    with django_capture_on_commit_callbacks(execute=True):
        group = actions.do_create_group(onthaal, "Teamoverleg", ["202", "203", "202"])
    assert set(lib.member_ids(group.pk)) == {onthaal.pk, bib.pk, loket.pk}
    # Every member learns about it, each with their own view.
    assert sorted(i for i, e in published if e["type"] == "chat.conversation") == sorted(
        [onthaal.pk, bib.pk, loket.pk])
    for _, event in published:
        json.dumps(event)
        assert event["conversation"]["title"] == "Teamoverleg"


def test_a_message_is_stored_before_it_is_published(django_capture_on_commit_callbacks,
                                                    published) -> None:
    onthaal, bib, _ = colleagues()
    conversation = actions.do_start_direct(onthaal, "202")
    published.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message, created = actions.do_send_message(onthaal, conversation.pk, "  Koffie?  ")
        assert published == []  # nothing leaves before the commit
    assert created and Message.objects.get().text == "Koffie?"
    for callback in callbacks:
        callback()
    assert {i for i, _ in published} == {onthaal.pk, bib.pk}
    event = published[0][1]
    assert event == json.loads(json.dumps(event))
    assert event["type"] == "chat.message" and event["v"] == 1
    assert event["message"]["id"] == message.pk
    assert event["message"]["sender"] == {"id": onthaal.pk, "number": "201", "name": "Onthaal"}


def test_a_repeated_client_id_stores_the_message_once(published) -> None:
    onthaal, _, _ = colleagues()
    conversation = actions.do_start_direct(onthaal, "202")
    first, created = actions.do_send_message(onthaal, conversation.pk, "Hallo", "c-1")
    again, created_again = actions.do_send_message(onthaal, conversation.pk, "Hallo", "c-1")
    assert created and not created_again and first.pk == again.pk
    assert Message.objects.count() == 1


@pytest.mark.parametrize("text", ["", "   ", None, 5, ["x"], "x" * 4001])
def test_bad_text_is_refused_and_nothing_is_stored(text: object) -> None:
    onthaal, _, _ = colleagues()
    conversation = actions.do_start_direct(onthaal, "202")
    with pytest.raises(Invalid):
        actions.do_send_message(onthaal, conversation.pk, text)
    assert Message.objects.count() == 0


def test_an_outsider_cannot_send_into_a_conversation() -> None:
    onthaal, _, loket = colleagues()
    conversation = actions.do_start_direct(onthaal, "202")
    for conversation_id in (conversation.pk, str(conversation.pk), "x", None, {"id": 1}):
        with pytest.raises(NotFound):
            actions.do_send_message(loket, conversation_id, "ingebroken")
    assert Message.objects.count() == 0


def test_archive_keeps_the_conversation_and_restore_brings_it_back(published) -> None:
    onthaal, bib, _ = colleagues()
    conversation = actions.do_start_direct(onthaal, "202")
    actions.do_send_message(onthaal, conversation.pk, "Dossier 12 is klaar")
    actions.do_archive(onthaal, conversation.pk)
    assert lib.conversation_views(onthaal) == []
    assert [c["id"] for c in lib.conversation_views(onthaal, archived=True)] == [conversation.pk]
    # Only the one who archived it: the colleague still has it in the active list.
    assert [c["id"] for c in lib.conversation_views(bib)] == [conversation.pk]
    assert [m.text for m in lib.search(onthaal, "dossier")] == ["Dossier 12 is klaar"]
    actions.do_restore(onthaal, conversation.pk)
    assert [c["id"] for c in lib.conversation_views(onthaal)] == [conversation.pk]
    assert Message.objects.count() == 1


def test_a_new_message_brings_an_archived_conversation_back() -> None:
    onthaal, bib, _ = colleagues()
    conversation = actions.do_start_direct(onthaal, "202")
    actions.do_archive(onthaal, conversation.pk)
    actions.do_send_message(bib, conversation.pk, "Nog een vraag")
    assert [c["id"] for c in lib.conversation_views(onthaal)] == [conversation.pk]


def test_unread_counts_and_marks_only_move_forward(django_capture_on_commit_callbacks,
                                                 published) -> None:
    onthaal, bib, _ = colleagues()
    conversation = actions.do_start_direct(onthaal, "202")
    ids = [actions.do_send_message(onthaal, conversation.pk, f"bericht {n}")[0].pk
           for n in range(3)]
    assert lib.unread_counts(bib) == {conversation.pk: 3}
    assert lib.unread_counts(onthaal) == {}  # one's own messages are never unread
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.do_mark_delivered(bib, conversation.pk, ids[2])
        assert actions.do_mark_read(bib, conversation.pk, ids[1]) == 1
    receipts = [e for _, e in published if e["type"] == "chat.receipt"]
    assert receipts[-1] == {"type": "chat.receipt", "v": 1, "conversation": conversation.pk,
                            "extension": bib.pk, "delivered_up_to": ids[2],
                            "read_up_to": ids[1]}
    unread = [(i, e) for i, e in published if e["type"] == "chat.unread"]
    assert unread == [(bib.pk, {"type": "chat.unread", "v": 1, "conversation": conversation.pk,
                                "unread": 1, "total": 1})]
    # Going back, or beyond the newest message, changes nothing.
    assert not actions.do_mark_delivered(bib, conversation.pk, ids[0])
    actions.do_mark_read(bib, conversation.pk, 10**9)
    mark = Membership.objects.get(conversation=conversation, extension=bib)
    assert mark.read_up_to == ids[2] and mark.delivered_up_to == ids[2]
    assert lib.unread_counts(bib) == {}


@pytest.mark.parametrize("mark", [-1, "7", 1.5, True, None])
def test_bad_marks_are_refused(mark: object) -> None:
    onthaal, _, _ = colleagues()
    conversation = actions.do_start_direct(onthaal, "202")
    with pytest.raises(Invalid):
        actions.do_mark_delivered(onthaal, conversation.pk, mark)


def test_history_pages_back_by_id() -> None:
    onthaal, _, _ = colleagues()
    conversation = actions.do_start_direct(onthaal, "202")
    for n in range(7):
        actions.do_send_message(onthaal, conversation.pk, f"m{n}")
    membership = lib.membership_of(onthaal, conversation.pk)
    newest, more = lib.messages_page(membership, limit=3)
    assert [m.text for m in newest] == ["m4", "m5", "m6"] and more
    older, more = lib.messages_page(membership, before=newest[0].pk, limit=3)
    assert [m.text for m in older] == ["m1", "m2", "m3"] and more
    oldest, more = lib.messages_page(membership, before=older[0].pk, limit=3)
    assert [m.text for m in oldest] == ["m0"] and not more


def test_a_shared_picture_is_stored_under_a_generated_name_with_a_preview(published) -> None:
    onthaal, _, _ = colleagues()
    conversation = actions.do_start_direct(onthaal, "202")
    message = actions.do_share_file(onthaal, conversation.pk, "../../etc/passwd", png_bytes(),
                                    "plan van de zaal")
    attachment = message.attachment
    assert attachment.name == "passwd" and attachment.content_type == "image/png"
    stored = str(attachment.file.name)
    assert "passwd" not in stored and ".." not in stored
    assert stored.startswith("chat/") and attachment.preview
    assert message.text == "plan van de zaal"


def test_a_refused_file_leaves_no_row_and_no_file(settings) -> None:
    from pbxweb.chat.files import FileRefused

    onthaal, _, _ = colleagues()
    conversation = actions.do_start_direct(onthaal, "202")
    with pytest.raises(FileRefused):
        actions.do_share_file(onthaal, conversation.pk, "x.png", b"<svg onload=alert(1)>")
    assert Message.objects.count() == 0
    assert not (settings.MEDIA_ROOT / "chat").exists()
