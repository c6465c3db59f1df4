"""Chat frames on the browser WebSocket (``chat.send``, ``chat.delivered``, ``chat.read``).

``pbxweb.webclient.consumers.WebclientConsumer`` hands every ``chat.*`` frame to the
:class:`ChatSocket` it made for the connection. Each frame costs a token from a per-socket
bucket (``CHAT_SOCKET_RATE`` frames/s, bursts of ``CHAT_SOCKET_BURST``): a socket that floods
gets one ``error`` event with code ``rate_limited`` per second and its extra frames are
dropped before they reach the database, so other sockets never wait behind it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from pbxweb.accounts.models import Extension
from pbxweb.chat import actions, events
from pbxweb.chat.errors import ChatError
from pbxweb.webclient.events import error_event

FRAME_TYPES = frozenset({events.SEND, events.DELIVERED, events.READ})
DEFAULT_RATE = 20.0
DEFAULT_BURST = 40
RATE_LIMIT_NOTICE_SECONDS = 1.0


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.updated = self.clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ChatSocket:
    """The chat side of one browser socket; :meth:`handle` returns events for that socket."""

    def __init__(self, extension: Extension, clock: Callable[[], float] = time.monotonic) -> None:
        self.extension = extension
        self.clock = clock
        self.bucket = TokenBucket(
            rate=float(getattr(settings, "CHAT_SOCKET_RATE", DEFAULT_RATE)),
            burst=float(getattr(settings, "CHAT_SOCKET_BURST", DEFAULT_BURST)), clock=clock)
        self.last_notice = float("-inf")

    async def handle(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.bucket.take():
            now = self.clock()
            if now - self.last_notice < RATE_LIMIT_NOTICE_SECONDS:
                return []
            self.last_notice = now
            return [_error("rate_limited", "Too many chat frames; slow down. Frames beyond "
                           "the limit were dropped and nothing was stored for them.", frame)]
        try:
            return await database_sync_to_async(self._apply)(frame)
        except ChatError as error:
            return [_error(error.code, error.message, frame)]

    def _apply(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        kind = frame["type"]
        if kind == events.SEND:
            message, created = actions.do_send_message(
                self.extension, frame.get("conversation"), frame.get("text"),
                frame.get("client_id"))
            # A resend of a stored message: the echo went out the first time; answer this
            # socket alone so it can stop waiting.
            return [] if created else [events.message_event(message)]
        if kind == events.DELIVERED:
            actions.do_mark_delivered(self.extension, frame.get("conversation"),
                                      frame.get("message"))
            return []
        actions.do_mark_read(self.extension, frame.get("conversation"), frame.get("message"))
        return []


def _error(code: str, message: str, frame: dict[str, Any]) -> dict[str, Any]:
    event = error_event(code, message)
    ref = frame.get("client_id")
    if isinstance(ref, str) and len(ref) <= 64:
        event["ref"] = ref
    return event
