"""One error hierarchy for the SIP layer, with the status code to answer (h11 ``_util.py``).

Strategy: every error carries ``status_hint``, the SIP status a server sends when the error
comes from a peer's message (400 bad syntax, 505 bad version, 513 too large, 416 unsupported
URI scheme, 420 bad extension, ...). The edge turns it into a response; nothing in ``sip/``
builds error responses by itself.

- ``RemoteProtocolError``: the peer sent something we cannot accept. The parser, the framer and
  every header accessor raise this and nothing else on wire input (a hypothesis test holds them
  to it).
- ``LocalProtocolError``: our own code misused the API (built an invalid message, asked a
  transaction for a transition it does not have). It is a bug here, not on the wire.

``FramingError`` is the stream-transport flavour of ``RemoteProtocolError``: the byte stream is
out of sync and the connection must be closed (RFC 3261 §18.3). ``can_answer`` says whether a
bare status line may be written before closing (413/513: the peer deserves to know why;
binary garbage: just close).
"""

from __future__ import annotations

__all__ = [
    "FramingError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "SipProtocolError",
]


class SipProtocolError(Exception):
    """Base class: ``str(error)`` says what is wrong, ``status_hint`` what to answer."""

    def __init__(self, msg: str, status_hint: int = 400) -> None:
        super().__init__(msg)
        self.msg = msg
        self.status_hint = status_hint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.msg!r}, status_hint={self.status_hint})"


class LocalProtocolError(SipProtocolError):
    """We tried to build or send something the protocol does not allow."""


class RemoteProtocolError(SipProtocolError):
    """The peer sent something the protocol does not allow (answer with ``status_hint``)."""


class FramingError(RemoteProtocolError):
    """A stream can no longer be cut into messages: the transport must close it (§18.3).

    ``can_answer``: whether writing a status line (``status_hint``) before closing makes sense.
    """

    def __init__(self, msg: str, status_hint: int = 400, *, can_answer: bool = True) -> None:
        super().__init__(msg, status_hint)
        self.can_answer = can_answer
