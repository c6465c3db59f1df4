"""Everything that changes the chat goes through a ``do_*`` function here: one transaction,
then the events are published once it has committed — a message is stored before anyone can
see it, and an event never announces something that was rolled back. Views and the socket
parse and authorise; these functions check membership again (they are the last line)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pbxweb.accounts.models import Extension
from pbxweb.chat import events, files, lib
from pbxweb.chat.errors import Invalid, NotFound
from pbxweb.chat.models import (
    MAX_CLIENT_ID_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_TITLE_LENGTH,
    Attachment,
    Conversation,
    ConversationKind,
    Membership,
    Message,
)
from pbxweb.webclient.events import layer_message, user_group

logger = logging.getLogger(__name__)
MAX_GROUP_MEMBERS = 200


def publish_on_commit(extension_ids: Iterable[int], event: dict[str, Any]) -> None:
    ids = list(extension_ids)
    transaction.on_commit(lambda: _publish(ids, event))


def publish_each_on_commit(extension_ids: Iterable[int],
                           build: Callable[[int], dict[str, Any]]) -> None:
    """Like :func:`publish_on_commit`, with an event built per member after the commit."""
    ids = list(extension_ids)

    def publish_each() -> None:
        for extension_id in ids:
            _publish([extension_id], build(extension_id))

    transaction.on_commit(publish_each)


def _publish(extension_ids: list[int], event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for extension_id in extension_ids:
        try:
            async_to_sync(layer.group_send)(user_group(extension_id), layer_message(event))
        except Exception:
            # The message is stored; a member whose socket misses the event sees it on the
            # next page load. Log, never hide.
            logger.exception("chat event %s to extension %s not delivered",
                             event.get("type"), extension_id)


def _clean_text(text: object) -> str:
    if not isinstance(text, str):
        raise Invalid(_("The message text must be a string."))
    text = text.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise Invalid(_("A message has at most %(n)s characters.") % {"n": MAX_TEXT_LENGTH})
    return text


def _clean_client_id(client_id: object) -> str:
    if client_id is None:
        return ""
    if not isinstance(client_id, str) or len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise Invalid(_("client_id must be a string of at most %(n)s characters.")
                      % {"n": MAX_CLIENT_ID_LENGTH})
    return client_id


def _colleague(number: object) -> Extension:
    if not isinstance(number, str):
        raise Invalid(_("Colleagues are given by their extension number."))
    try:
        return Extension.objects.get(number=number, is_active=True)
    except Extension.DoesNotExist:
        raise NotFound(_("No colleague with extension %(number)s.")
                       % {"number": number[:10]}) from None


def _announce_conversation(conversation_id: int, extension_ids: list[int]) -> None:
    def build(extension_id: int) -> dict[str, Any]:
        extension = Extension.objects.get(pk=extension_id)
        return events.conversation_event(lib.conversation_view(extension, conversation_id))

    publish_each_on_commit(extension_ids, build)


@transaction.atomic
def do_start_direct(extension: Extension, number: object) -> Conversation:
    """The one direct conversation between ``extension`` and a colleague (made if new)."""
    other = _colleague(number)
    if other.pk == extension.pk:
        raise Invalid(_("You cannot start a chat with yourself."))
    low, high = sorted((extension.pk, other.pk))
    conversation, created = Conversation.objects.get_or_create(
        direct_key=f"{low}:{high}",
        defaults={"kind": ConversationKind.DIRECT, "created_by": extension})
    if created:
        Membership.objects.bulk_create([Membership(conversation=conversation, extension=e)
                                        for e in (extension, other)])
        _announce_conversation(conversation.pk, [extension.pk, other.pk])
    else:
        Membership.objects.filter(conversation=conversation, extension=extension).update(
            archived_at=None)
    return conversation


@transaction.atomic
def do_create_group(extension: Extension, title: object, numbers: object) -> Conversation:
    if not isinstance(title, str) or not title.strip():
        raise Invalid(_("A group chat needs a name."))
    title = title.strip()
    if len(title) > MAX_TITLE_LENGTH:
        raise Invalid(_("A name has at most %(n)s characters.") % {"n": MAX_TITLE_LENGTH})
    if not isinstance(numbers, list) or not numbers or len(numbers) > MAX_GROUP_MEMBERS:
        raise Invalid(_("A group chat needs 1 to %(n)s colleagues.") % {"n": MAX_GROUP_MEMBERS})
    members = {extension.pk: extension}
    for number in numbers:
        colleague = _colleague(number)
        members[colleague.pk] = colleague
    if len(members) < 2:
        raise Invalid(_("A group chat needs at least one colleague besides you."))
    conversation = Conversation.objects.create(kind=ConversationKind.GROUP, title=title,
                                               created_by=extension)
    Membership.objects.bulk_create([Membership(conversation=conversation, extension=e)
                                    for e in members.values()])
    _announce_conversation(conversation.pk, list(members))
    return conversation


def _store_message(membership: Membership, sender: Extension, text: str,
                   client_id: str) -> tuple[Message, bool]:
    if client_id:
        earlier = Message.objects.filter(sender=sender, client_id=client_id).first()
        if earlier is not None:
            if earlier.conversation_id != membership.conversation_id:
                raise Invalid(_("This client_id was already used for another message."))
            return earlier, False
    try:
        with transaction.atomic():
            message = Message.objects.create(conversation_id=membership.conversation_id,
                                             sender=sender, text=text, client_id=client_id)
    except IntegrityError:
        # The same client_id raced in from a second request: that one won.
        return Message.objects.get(sender=sender, client_id=client_id), False
    now = message.created_at
    Conversation.objects.filter(pk=membership.conversation_id).update(last_message_at=now)
    # A new message brings an archived conversation back for everyone (as Teams and
    # WhatsApp do), so nobody misses it; the history was kept all along.
    Membership.objects.filter(conversation_id=membership.conversation_id,
                              archived_at__isnull=False).update(archived_at=None)
    # Writing a message means having seen the conversation up to it.
    Membership.objects.filter(pk=membership.pk).update(read_up_to=message.pk,
                                                       delivered_up_to=message.pk)
    return message, True


@transaction.atomic
def do_send_message(sender: Extension, conversation_id: object, text: object,
                    client_id: object = None) -> tuple[Message, bool]:
    """Store a text message, then send ``chat.message`` to every member's sockets.

    Returns the message and whether it is new (a repeated ``client_id`` returns the stored
    one and publishes nothing again).
    """
    membership = lib.membership_of(sender, conversation_id)
    clean = _clean_text(text)
    if not clean:
        raise Invalid(_("The message is empty."))
    message, created = _store_message(membership, sender, clean, _clean_client_id(client_id))
    if created:
        message.sender = sender
        publish_on_commit(lib.member_ids(membership.conversation_id),
                          events.message_event(message))
    return message, created


def do_share_file(sender: Extension, conversation_id: object, name: str, data: bytes,
                  text: object = "", client_id: object = None) -> Message:
    """Store an uploaded file as a message of its own (with optional text), then announce it.

    The content decides the type (``files.sniff_content_type``); pictures get a re-encoded
    PNG preview. Raises ``files.FileRefused`` for anything not shareable. The files are written
    first and removed again if the database part fails (so ``durable``: no outer transaction
    may roll the rows back behind our back and leave the files orphaned).
    """
    membership = lib.membership_of(sender, conversation_id)
    clean = _clean_text(text)
    clean_client_id = _clean_client_id(client_id)
    content_type = files.sniff_content_type(data)
    preview = files.make_preview(data) if content_type in files.IMAGE_TYPES else None
    attachment = Attachment(key=uuid.uuid4(), name=files.clean_file_name(name),
                            content_type=content_type, size=len(data))
    attachment.file.save("upload", ContentFile(data), save=False)
    if preview is not None:
        attachment.preview.save("preview.png", ContentFile(preview.png), save=False)
        attachment.preview_width, attachment.preview_height = preview.width, preview.height
    try:
        with transaction.atomic(durable=True):
            message, created = _store_message(membership, sender, clean, clean_client_id)
            if not created:
                raise Invalid(_("This client_id was already used for another message."))
            attachment.message = message
            attachment.save()
            message.sender = sender
            publish_on_commit(lib.member_ids(membership.conversation_id),
                              events.message_event(message))
    except BaseException:
        attachment.file.delete(save=False)
        if attachment.preview:
            attachment.preview.delete(save=False)
        raise
    return message


def _update_marks(membership: Membership, *, delivered: int, read: int | None) -> bool:
    """Move this member's marks forward (never back); True if something changed."""
    newest = (Message.objects.filter(conversation_id=membership.conversation_id)
              .order_by("-id").values_list("id", flat=True).first()) or 0
    delivered = min(delivered, newest)
    changes: dict[str, int] = {}
    if read is not None:
        read = min(read, newest)
        if read > membership.read_up_to:
            changes["read_up_to"] = read
        delivered = max(delivered, read)
    if delivered > membership.delivered_up_to:
        changes["delivered_up_to"] = delivered
    if not changes:
        return False
    # Concurrent tabs may race: the UPDATE only ever moves a mark forward.
    for field, value in changes.items():
        Membership.objects.filter(pk=membership.pk, **{f"{field}__lt": value}).update(
            **{field: value})
        setattr(membership, field, value)
    return True


def _mark_id(value: object, *, required: bool) -> int | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(_("A message id is a positive whole number."))
    return value


@transaction.atomic
def do_mark_delivered(extension: Extension, conversation_id: object, up_to: object) -> bool:
    """The extension's browser has received the messages up to ``up_to``."""
    membership = lib.membership_of(extension, conversation_id)
    mark = _mark_id(up_to, required=True)
    assert mark is not None
    changed = _update_marks(membership, delivered=mark, read=None)
    if changed:
        publish_on_commit(lib.member_ids(membership.conversation_id),
                          events.receipt_event(membership))
    return changed


@transaction.atomic
def do_mark_read(extension: Extension, conversation_id: object,
                 up_to: object = None) -> int:
    """The extension has read the conversation up to ``up_to`` (default: everything).

    Returns the unread count left; the other members get ``chat.receipt``, the reader's own
    sockets ``chat.unread`` (menu badges in other tabs)."""
    membership = lib.membership_of(extension, conversation_id)
    mark = _mark_id(up_to, required=False)
    if mark is None:
        mark = 2**62
    changed = _update_marks(membership, delivered=0, read=mark)
    unread = lib.unread_in(membership)
    if changed:
        publish_on_commit(lib.member_ids(membership.conversation_id),
                          events.receipt_event(membership))
        total = sum(lib.unread_counts(extension).values())
        publish_on_commit([extension.pk], events.unread_event(membership.conversation_id,
                                                              unread, total))
    return unread


@transaction.atomic
def do_archive(extension: Extension, conversation_id: object) -> None:
    """Archive for this extension only: it leaves their active list; nothing is deleted."""
    _set_archived(extension, conversation_id, archived=True)


@transaction.atomic
def do_restore(extension: Extension, conversation_id: object) -> None:
    _set_archived(extension, conversation_id, archived=False)


def _set_archived(extension: Extension, conversation_id: object, *, archived: bool) -> None:
    membership = lib.membership_of(extension, conversation_id)
    membership.archived_at = timezone.now() if archived else None
    membership.save(update_fields=["archived_at"])
    conversation = membership.conversation_id
    publish_each_on_commit([extension.pk], lambda _id: events.conversation_event(
        lib.conversation_view(extension, conversation)))
