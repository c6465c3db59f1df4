"""Chat errors: a machine-readable ``code`` and an HTTP status; the edges (REST views, the
WebSocket) turn them into a response or an ``error`` event."""

from __future__ import annotations


class ChatError(Exception):
    code = "bad_request"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(ChatError):
    """No such conversation, message or file *for this extension*: a conversation someone else
    is in answers exactly like one that does not exist."""

    code = "not_found"
    status = 404


class Invalid(ChatError):
    code = "bad_message"
    status = 400
