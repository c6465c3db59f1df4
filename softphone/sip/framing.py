"""Cutting a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3, RFC 5626 §3.5.1). Sans-IO.

Strategy (h11 ``_receivebuffer.py``): ``feed(data)`` appends to a buffer and returns every
message now complete, as the exact bytes to hand to ``parser.parse_message``. It never looks
at a message's meaning: only at where its header block ends and at ``Content-Length``, which
§18.3 makes mandatory on streams. The work is O(n) in the bytes received: the search for the
end of the header block resumes where it stopped, never rescanning.

Keep-alives (RFC 5626 §3.5.1): a "ping" is CRLFCRLF between messages; ``feed`` returns it as
the item ``KEEPALIVE_PING`` so the transport can answer the "pong" (a single CRLF). A lone
CRLF between messages (a pong, or a stray line end, §7.5) is skipped silently.

Limits: the header block and the body are capped (``max_header_size``, ``max_body_size``).
Any framing problem raises ``FramingError``; after it the framer stays broken, because the
stream is out of sync and cannot be trusted again: the transport writes the status line when
``error.can_answer`` and closes the connection (RFC 4475 §3.1.2.3, §3.3.9).
"""

from __future__ import annotations

from softphone.sip.errors import FramingError, RemoteProtocolError
from softphone.sip.parser import content_length

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_HEADER_SIZE",
    "KEEPALIVE_PING",
    "KEEPALIVE_PONG",
    "StreamFramer",
]

KEEPALIVE_PING = b"\r\n\r\n"
KEEPALIVE_PONG = b"\r\n"
DEFAULT_MAX_HEADER_SIZE = 16_384
DEFAULT_MAX_BODY_SIZE = 65_536

_BAD_REQUEST = 400
_ENTITY_TOO_LARGE = 413
_MESSAGE_TOO_LARGE = 513
_CRLF = b"\r\n"
_END_OF_HEADERS = b"\r\n\r\n"


class StreamFramer:
    """One per connection: bytes in, whole messages (and pings) out."""

    def __init__(self, *, max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
                 max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self._buffer = bytearray()
        self._scanned = 0  # where the search for the end of the header block resumes
        self._needed: int | None = None  # total size of the current message, once known
        self._error: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Octets received but not yet returned as a message."""
        return len(self._buffer)

    @property
    def at_message_boundary(self) -> bool:
        """True when nothing partial is buffered (EOF here is a clean close)."""
        return not self._buffer.strip(b"\r\n")

    def feed(self, data: bytes) -> list[bytes]:
        """Every message completed by ``data``; ``KEEPALIVE_PING`` items stand for pings.

        Raises ``FramingError`` when the stream is broken and no message precedes the break.
        """
        if self._error is not None:
            raise self._error
        self._buffer += data
        out: list[bytes] = []
        try:
            while True:
                item = self._next()
                if item is None:
                    break
                out.append(item)
        except FramingError as error:
            self._error = error
            if not out:
                raise
            # Messages completed before the broken part are whole and are delivered; the
            # error surfaces on the next call (``feed(b"")`` asks for it at once).
        return out

    def eof(self) -> None:
        """The peer closed; raises ``FramingError`` if a message was cut short."""
        if not self.at_message_boundary:
            raise FramingError("connection closed in the middle of a message",
                               can_answer=False)

    def _next(self) -> bytes | None:
        buffer = self._buffer
        if self._needed is None:
            # Between messages: pings and stray CRLFs.
            while buffer.startswith(_CRLF):
                if buffer.startswith(_END_OF_HEADERS):
                    del buffer[:4]
                    return KEEPALIVE_PING
                if len(buffer) < 4 and _END_OF_HEADERS.startswith(bytes(buffer)):
                    return None  # maybe the start of a ping: wait
                del buffer[:2]
            if not buffer or buffer == b"\r":
                return None
            if not 0x21 <= buffer[0] < 0x7F:
                # A start line begins with a method (a token) or "SIP/". Binary here (a TLS
                # handshake on the TCP port, garbage) means the peer does not speak SIP.
                raise FramingError("stream does not start with a SIP message",
                                   can_answer=False)
            end = buffer.find(_END_OF_HEADERS, max(0, self._scanned - 3))
            if end < 0:
                self._scanned = len(buffer)
                if len(buffer) > self.max_header_size:
                    raise FramingError("header block too large", _MESSAGE_TOO_LARGE)
                return None
            if end > self.max_header_size:
                raise FramingError("header block too large", _MESSAGE_TOO_LARGE)
            self._needed = end + 4 + self._content_length(bytes(buffer[:end]))
        needed = self._needed
        if len(buffer) < needed:
            return None
        message = bytes(buffer[:needed])
        del buffer[:needed]
        self._needed = None
        self._scanned = 0
        return message

    def _content_length(self, head: bytes) -> int:
        values: list[str] = []
        for line in head.split(_CRLF)[1:]:
            if line[:1] in (b" ", b"\t"):
                if values and not values[-1]:
                    values[-1] = line.strip(b" \t").decode("latin-1")  # folded value
                continue
            name, colon, value = line.partition(b":")
            if colon and name.rstrip(b" \t").lower() in (b"content-length", b"l"):
                values.append(value.strip(b" \t").decode("latin-1"))
        if not values:
            raise FramingError("Content-Length is mandatory on a stream (§18.3)", _BAD_REQUEST)
        try:
            length = content_length(values)
        except RemoteProtocolError as error:
            raise FramingError(error.msg, _BAD_REQUEST) from error
        if length > self.max_body_size:
            raise FramingError(f"body of {length} octets is too large", _ENTITY_TOO_LARGE)
        return length
