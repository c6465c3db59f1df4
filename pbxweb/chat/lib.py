"""Reads: what one extension may see of the chat. Every query starts from that extension's
memberships, so nothing here can return another member's conversation by accident."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, F, Max, Q
from django.utils.translation import gettext as _

from pbxweb.accounts.models import Extension
from pbxweb.chat import events
from pbxweb.chat.errors import NotFound
from pbxweb.chat.models import Attachment, Membership, Message

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SEARCH_LIMIT = 50


def membership_of(extension: Extension, conversation_id: object) -> Membership:
    try:
        return Membership.objects.select_related("conversation").get(
            conversation_id=int(str(conversation_id)), extension=extension)
    except (Membership.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No such conversation.")) from None


def attachment_for(extension: Extension, key: uuid.UUID) -> Attachment:
    try:
        return Attachment.objects.select_related("message").get(
            key=key, message__conversation__memberships__extension=extension)
    except Attachment.DoesNotExist:
        raise NotFound(_("No such file.")) from None


def member_ids(conversation_id: int) -> list[int]:
    return list(Membership.objects.filter(conversation_id=conversation_id)
                .values_list("extension_id", flat=True))


def unread_counts(extension: Extension) -> dict[int, int]:
    """Unread messages per conversation: newer than the member's read mark, not their own."""
    rows = (Message.objects
            .filter(conversation__memberships__extension=extension,
                    id__gt=F("conversation__memberships__read_up_to"))
            .exclude(sender=extension)
            .values("conversation_id").annotate(n=Count("id")))
    return {row["conversation_id"]: row["n"] for row in rows}


def unread_in(membership: Membership) -> int:
    return (Message.objects.filter(conversation_id=membership.conversation_id,
                                   id__gt=membership.read_up_to)
            .exclude(sender_id=membership.extension_id).count())


def conversation_views(extension: Extension, *, archived: bool | None = False,
                       ids: list[int] | None = None) -> list[dict[str, Any]]:
    """The extension's conversations, most recently active first, as the page shows them."""
    mine = Membership.objects.filter(extension=extension).select_related("conversation")
    if archived is not None:
        mine = mine.filter(archived_at__isnull=not archived)
    if ids is not None:
        mine = mine.filter(conversation_id__in=ids)
    memberships = list(mine)
    conversation_ids = [m.conversation_id for m in memberships]
    members: dict[int, list[Membership]] = {cid: [] for cid in conversation_ids}
    for member in (Membership.objects.filter(conversation_id__in=conversation_ids)
                   .select_related("extension").order_by("extension__number")):
        members[member.conversation_id].append(member)
    last: dict[int, Message] = {}
    latest_ids = (Message.objects.filter(conversation_id__in=conversation_ids)
                  .values("conversation_id").annotate(last=Max("id")))
    for message in (Message.objects.filter(id__in=[row["last"] for row in latest_ids])
                    .select_related("sender", "attachment")):
        last[message.conversation_id] = message
    unread = unread_counts(extension)
    views = [events.conversation_dict(m.conversation, m, members[m.conversation_id],
                                      unread=unread.get(m.conversation_id, 0),
                                      last_message=last.get(m.conversation_id))
             for m in memberships]
    views.sort(key=lambda v: v["last_message_at"] or "", reverse=True)
    return views


def conversation_view(extension: Extension, conversation_id: object) -> dict[str, Any]:
    membership = membership_of(extension, conversation_id)
    return conversation_views(extension, archived=None, ids=[membership.conversation_id])[0]


def messages_page(membership: Membership, *, before: int | None = None,
                  limit: int = PAGE_SIZE) -> tuple[list[Message], bool]:
    """Up to ``limit`` messages older than ``before`` (newest page without it), oldest first,
    and whether older ones exist."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    query = (Message.objects.filter(conversation_id=membership.conversation_id)
             .select_related("sender", "attachment"))
    if before is not None:
        query = query.filter(id__lt=before)
    page = list(query.order_by("-id")[: limit + 1])
    has_more = len(page) > limit
    return list(reversed(page[:limit])), has_more


def search(extension: Extension, text: str) -> list[Message]:
    """Messages containing ``text`` (or whose file name does) in any of the extension's
    conversations, archived ones included, newest first."""
    text = text.strip()
    if not text:
        return []
    return list(Message.objects
                .filter(conversation__memberships__extension=extension)
                .filter(Q(text__icontains=text) | Q(attachment__name__icontains=text))
                .select_related("sender", "attachment")
                .order_by("-id")[:SEARCH_LIMIT])
