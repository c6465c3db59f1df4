"""Shapes of the events the browser WebSocket carries (documented in docs/events.md)."""

from __future__ import annotations

from typing import Any

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024


def user_group(user_id: int) -> str:
    """The Channels group every socket of one extension joins."""
    return f"user.{user_id}"


def error_event(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "v": PROTOCOL_VERSION, "code": code, "message": message}


def layer_message(event: dict[str, Any]) -> dict[str, Any]:
    """Wrap an event for ``channel_layer.group_send`` to reach ``WebclientConsumer``."""
    return {"type": "webclient.event", "event": event}
