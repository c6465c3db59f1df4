"""Live voicemail counts for the browser: whenever a message is stored, listened to or
deleted — by the engine, the 999 menu, the web page or the retention task — the owner's
sockets get ``voicemail.count`` (docs/events.md), after the change is committed.

Signals rather than calls at each place: every path that changes a message goes through the
model, so none can forget to publish.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from pbxweb.webclient.events import PROTOCOL_VERSION, layer_message, user_group


def count_event(new: int, saved: int) -> dict[str, Any]:
    return {"type": "voicemail.count", "v": PROTOCOL_VERSION, "new": new, "saved": saved}


def publish_count(extension_id: int) -> None:
    from voicemail.models import Message, MessageState

    listed = Message.objects.listed().filter(mailbox_id=extension_id)
    new = listed.filter(state=MessageState.NEW).count()
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(user_group(extension_id),
                                    layer_message(count_event(new, listed.count() - new)))


def message_changed(sender: object, instance: Any, **kwargs: object) -> None:
    """post_save / post_delete of a Message: publish its owner's counts once committed."""
    if getattr(instance, "state", None) == "recording":
        return  # being recorded (or dropped as too short): never counted
    mailbox_id = instance.mailbox_id
    transaction.on_commit(lambda: publish_count(mailbox_id))
