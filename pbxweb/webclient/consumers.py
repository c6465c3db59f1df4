"""The browser's one WebSocket (``/ws/``): a small JSON protocol documented in docs/events.md.

Only logged-in extensions may connect (session auth); the Origin is checked by
``AllowedHostsOriginValidator`` in ``pbxweb/asgi.py``. Every inbound frame is validated; a bad
one gets an ``error`` event and changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from pbxweb.chat.socket import FRAME_TYPES as CHAT_FRAME_TYPES
from pbxweb.chat.socket import ChatSocket
from pbxweb.webclient.events import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    error_event,
    user_group,
)

# WebSocket close codes in the private range (RFC 6455 §7.4.2).
CLOSE_UNAUTHENTICATED = 4401


class WebclientConsumer(AsyncWebsocketConsumer):
    group: str = ""
    chat: ChatSocket | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        self.chat = ChatSocket(user)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_event({"type": "hello", "v": PROTOCOL_VERSION,
                               "extension": user.number})

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send_event(error_event("binary_not_supported",
                                              "Frames must be JSON text."))
            return
        if len(text_data.encode()) > MAX_FRAME_BYTES:
            await self.send_event(error_event("frame_too_large",
                                              f"Frames are limited to {MAX_FRAME_BYTES} bytes."))
            return
        try:
            message = json.loads(text_data)
        except json.JSONDecodeError:
            await self.send_event(error_event("bad_json", "The frame is not valid JSON."))
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.send_event(error_event("bad_message",
                                              "A message is a JSON object with a 'type'."))
            return
        await self.dispatch_message(message)

    async def dispatch_message(self, message: dict[str, Any]) -> None:
        if message["type"] == "ping":
            await self.send_event({"type": "pong", "v": PROTOCOL_VERSION,
                                   "id": message.get("id")})
            return
        if message["type"] in CHAT_FRAME_TYPES and self.chat is not None:
            for event in await self.chat.handle(message):
                await self.send_event(event)
            return
        await self.send_event(error_event("unknown_type",
                                          f"Unknown message type {message['type'][:40]!r}."))

    async def send_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event))

    async def webclient_event(self, message: dict[str, Any]) -> None:
        """Channel-layer handler: forward an event published to this user's group."""
        await self.send_event(message["event"])
