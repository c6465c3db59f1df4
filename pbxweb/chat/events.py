"""Shapes of the chat events on the browser WebSocket (docs/events.md, "Chat").

Every builder returns a JSON-ready dict with ``type`` and ``v``; the same message dict
(:func:`message_dict`) is what the REST API returns, so the page renders both the same way.
"""

from __future__ import annotations

from typing import Any

from pbxweb.accounts.models import Extension
from pbxweb.chat.models import Attachment, Conversation, Membership, Message
from pbxweb.webclient.events import PROTOCOL_VERSION

# Browser → server frame types handled by pbxweb.chat.socket.
SEND = "chat.send"
DELIVERED = "chat.delivered"
READ = "chat.read"
# Server → browser.
MESSAGE = "chat.message"
RECEIPT = "chat.receipt"
UNREAD = "chat.unread"
CONVERSATION = "chat.conversation"


def person_dict(extension: Extension) -> dict[str, Any]:
    return {"id": extension.pk, "number": extension.number, "name": extension.display_name}


def attachment_dict(attachment: Attachment) -> dict[str, Any]:
    from django.urls import reverse

    key = str(attachment.key)
    return {
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "url": reverse("chat:attachment", args=[key]),
        "preview_url": reverse("chat:attachment-preview", args=[key])
        if attachment.preview else None,
        "preview_width": attachment.preview_width,
        "preview_height": attachment.preview_height,
    }


def message_dict(message: Message) -> dict[str, Any]:
    sender = message.sender
    try:
        attachment: Attachment | None = message.attachment
    except Attachment.DoesNotExist:
        attachment = None
    return {
        "id": message.pk,
        "conversation": message.conversation_id,
        "sender": person_dict(sender) if sender is not None else None,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
        "client_id": message.client_id or None,
        "attachment": attachment_dict(attachment) if attachment is not None else None,
    }


def receipt_dict(membership: Membership) -> dict[str, Any]:
    return {"extension": membership.extension_id,
            "delivered_up_to": membership.delivered_up_to,
            "read_up_to": membership.read_up_to}


def conversation_dict(conversation: Conversation, mine: Membership,
                      members: list[Membership], *, unread: int = 0,
                      last_message: Message | None = None) -> dict[str, Any]:
    """One conversation as one member sees it (``mine`` is that member's membership)."""
    others = [m.extension for m in members if m.extension_id != mine.extension_id]
    title = conversation.title or ", ".join(o.display_name for o in others) or "—"
    return {
        "id": conversation.pk,
        "kind": conversation.kind,
        "title": title,
        "members": [{**person_dict(m.extension), **receipt_dict(m)} for m in members],
        "archived": mine.archived_at is not None,
        "unread": unread,
        "last_message_at": conversation.last_message_at.isoformat()
        if conversation.last_message_at else None,
        "last_message": message_dict(last_message) if last_message is not None else None,
    }


def message_event(message: Message) -> dict[str, Any]:
    return {"type": MESSAGE, "v": PROTOCOL_VERSION, "message": message_dict(message)}


def receipt_event(membership: Membership) -> dict[str, Any]:
    return {"type": RECEIPT, "v": PROTOCOL_VERSION, "conversation": membership.conversation_id,
            **receipt_dict(membership)}


def unread_event(conversation_id: int, unread: int, total: int) -> dict[str, Any]:
    return {"type": UNREAD, "v": PROTOCOL_VERSION, "conversation": conversation_id,
            "unread": unread, "total": total}


def conversation_event(conversation: dict[str, Any]) -> dict[str, Any]:
    return {"type": CONVERSATION, "v": PROTOCOL_VERSION, "conversation": conversation}
