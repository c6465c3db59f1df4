"""SDP (RFC 4566) as values, and the offer/answer rules we need (RFC 3264). Sans-IO.

Strategy: ``SessionDescription.parse(body)`` reads a body into frozen dataclasses; lines we do
not interpret are kept (in their section, in order) so ``bytes()`` writes them back. Bad SDP
raises ``SdpError`` (a ``RemoteProtocolError``) whose ``status_hint`` is 400 for bad syntax
and 488 Not Acceptable Here when nothing in an offer can be accepted (RFC 3261 §13.3.1.1).

Offer/answer (RFC 3264) is for a PBX that speaks G.711 and RFC 4733 events only:
``build_answer`` keeps every offered m-line in order (§6), accepts the first audio stream
that has a codec in common (the *offerer's* order decides, §6.1, with the offerer's payload
type numbers), rejects every other stream with port 0, and turns the offered direction around
(§6.1; legacy ``c=0.0.0.0`` hold, §8.4, counts as the offerer not wanting to receive).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from softphone.sip.errors import RemoteProtocolError

__all__ = [
    "PCMA",
    "PCMU",
    "TELEPHONE_EVENT",
    "Codec",
    "Connection",
    "Direction",
    "MediaDescription",
    "Origin",
    "RtpMap",
    "SdpError",
    "SessionDescription",
    "answer_direction",
    "build_answer",
    "build_offer",
]

_BAD_REQUEST = 400
_NOT_ACCEPTABLE_HERE = 488
DEFAULT_MAX_SIZE = 16_384
DEFAULT_MAX_MEDIA = 16
_MAX_LINES = 1_024
_RTP_PROTOCOLS = ("RTP/AVP", "RTP/AVPF")
# RFC 3551 Table 4: static payload types a peer may use without an rtpmap.
_STATIC_PAYLOAD_TYPES = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}
# RFC 3264 §8.4: the RFC 2543 way to put a stream on hold (compared as text, never bound).
_HOLD_ADDRESSES = frozenset({"0.0.0.0", "::"})  # noqa: S104


class SdpError(RemoteProtocolError):
    """Bad or unacceptable SDP: 400 (syntax) or 488 (no common media)."""


class Direction(enum.StrEnum):
    """RFC 4566 §6 / RFC 3264 §5.1 direction attributes (default ``sendrecv``)."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def of(cls, sends: bool, receives: bool) -> Direction:
        if sends:
            return cls.SENDRECV if receives else cls.SENDONLY
        return cls.RECVONLY if receives else cls.INACTIVE


_DIRECTIONS = {d.value: d for d in Direction}


@dataclass(frozen=True, slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>``."""

    username: str
    session_id: str
    session_version: int
    address: str
    net_type: str = "IN"
    addr_type: str = "IP4"

    def __str__(self) -> str:
        return (f"{self.username} {self.session_id} {self.session_version} "
                f"{self.net_type} {self.addr_type} {self.address}")


@dataclass(frozen=True, slots=True)
class Connection:
    """``c=<nettype> <addrtype> <connection-address>``; IPv6 without brackets (RFC 5118 §4.6)."""

    address: str
    addr_type: str = "IP4"
    net_type: str = "IN"

    @property
    def is_hold_address(self) -> bool:
        """RFC 2543 hold: ``c=IN IP4 0.0.0.0`` (RFC 3264 §8.4 tells answerers to accept it)."""
        return self.address in _HOLD_ADDRESSES

    def __str__(self) -> str:
        return f"{self.net_type} {self.addr_type} {self.address}"


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]``."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None

    def __str__(self) -> str:
        channels = f"/{self.channels}" if self.channels is not None else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{channels}"


Attribute = tuple[str, str | None]  # a=<name>[:<value>]


def _attr(attributes: Sequence[Attribute], name: str) -> str | None:
    for key, value in attributes:
        if key == name:
            return value if value is not None else ""
    return None


def _direction_of(attributes: Sequence[Attribute]) -> Direction | None:
    for key, value in attributes:
        if value is None and key in _DIRECTIONS:
            return _DIRECTIONS[key]
    return None


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One ``m=`` section: ``m=<media> <port>[/<count>] <proto> <fmt> ...`` and its lines."""

    media: str
    port: int
    protocol: str
    formats: tuple[str, ...]
    connection: Connection | None = None
    attributes: tuple[Attribute, ...] = ()
    port_count: int | None = None
    other: tuple[tuple[str, str], ...] = ()  # i=, b=, k= lines, kept in order

    @property
    def rejected(self) -> bool:
        return self.port == 0

    @property
    def direction(self) -> Direction | None:
        """This section's direction attribute; None when it has none (session's applies)."""
        return _direction_of(self.attributes)

    @property
    def ptime(self) -> int | None:
        value = _attr(self.attributes, "ptime")
        return int(value) if value and value.isdigit() and len(value) <= 6 else None

    def attribute(self, name: str) -> str | None:
        return _attr(self.attributes, name)

    @property
    def rtpmaps(self) -> dict[int, RtpMap]:
        """Payload type -> rtpmap for every format, static types filled in (RFC 3551)."""
        maps: dict[int, RtpMap] = {}
        for key, value in self.attributes:
            if key == "rtpmap" and value:
                parsed = _parse_rtpmap(value)
                if parsed is not None:
                    maps.setdefault(parsed.payload_type, parsed)
        for fmt in self.formats:
            if fmt.isdigit() and int(fmt) in _STATIC_PAYLOAD_TYPES and int(fmt) not in maps:
                name, rate = _STATIC_PAYLOAD_TYPES[int(fmt)]
                maps[int(fmt)] = RtpMap(int(fmt), name, rate)
        return maps

    def fmtp(self, payload_type: int) -> str | None:
        prefix = f"{payload_type} "
        for key, value in self.attributes:
            if key == "fmtp" and value and value.startswith(prefix):
                return value[len(prefix):].strip()
        return None

    def lines(self) -> list[str]:
        count = f"/{self.port_count}" if self.port_count is not None else ""
        out = [f"m={self.media} {self.port}{count} {self.protocol} {' '.join(self.formats)}"]
        out.extend(f"{t}={v}" for t, v in self.other if t == "i")
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out.extend(f"{t}={v}" for t, v in self.other if t != "i")
        out.extend(f"a={k}" if v is None else f"a={k}:{v}" for k, v in self.attributes)
        return out


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A whole SDP body (RFC 4566 §5). ``times`` holds the t=/r= values, in order."""

    origin: Origin
    session_name: str = "-"
    connection: Connection | None = None
    times: tuple[tuple[str, str], ...] = (("t", "0 0"),)
    attributes: tuple[Attribute, ...] = ()
    media: tuple[MediaDescription, ...] = ()
    other: tuple[tuple[str, str], ...] = field(default=())  # i= u= e= p= b= z= k=
    version: int = 0

    @classmethod
    def parse(cls, data: bytes, *, max_size: int = DEFAULT_MAX_SIZE,
              max_media: int = DEFAULT_MAX_MEDIA) -> SessionDescription:
        return _parse(data, max_size, max_media)

    @property
    def direction(self) -> Direction | None:
        return _direction_of(self.attributes)

    def media_direction(self, index: int) -> Direction:
        """The direction that applies to m-line ``index`` (RFC 3264 §5.1, §8.4).

        Its own attribute, else the session's, else sendrecv; a ``0.0.0.0`` connection (RFC
        2543 hold) removes the "receive" half: the offerer does not want media sent to it.
        """
        section = self.media[index]
        direction = section.direction or self.direction or Direction.SENDRECV
        connection = section.connection or self.connection
        if connection is not None and connection.is_hold_address:
            direction = Direction.of(direction.sends, False)
        return direction

    def media_connection(self, index: int) -> Connection | None:
        return self.media[index].connection or self.connection

    def __bytes__(self) -> bytes:
        lines = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        lines.extend(f"{t}={v}" for t, v in self.other if t in "iuep")
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines.extend(f"{t}={v}" for t, v in self.other if t == "b")
        lines.extend(f"{t}={v}" for t, v in self.times)
        lines.extend(f"{t}={v}" for t, v in self.other if t in "zk")
        lines.extend(f"a={k}" if v is None else f"a={k}:{v}" for k, v in self.attributes)
        for section in self.media:
            lines.extend(section.lines())
        text = "\r\n".join(lines) + "\r\n"
        if any(ch in text.replace("\r\n", "") for ch in "\r\n\x00"):
            raise SdpError("CR, LF or NUL inside an SDP line")
        return text.encode("utf-8")


def _parse_rtpmap(value: str) -> RtpMap | None:
    pt, _, rest = value.partition(" ")
    parts = rest.strip().split("/")
    if not pt.isdigit() or len(pt) > 3 or len(parts) not in (2, 3):
        return None
    if not parts[1].isdigit() or len(parts[1]) > 9:
        return None
    channels = None
    if len(parts) == 3:
        if not parts[2].isdigit() or len(parts[2]) > 3:
            return None
        channels = int(parts[2])
    return RtpMap(int(pt), parts[0], int(parts[1]), channels)


def _parse_connection(value: str) -> Connection:
    parts = value.split()
    if len(parts) != 3:
        raise SdpError(f"bad c= line {value[:60]!r}")
    net_type, addr_type, address = parts
    if addr_type == "IP6" and "/" not in address:
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            raise SdpError(f"bad IPv6 address in c= {address[:60]!r}") from None
    return Connection(address, addr_type, net_type)


def _parse_origin(value: str) -> Origin:
    parts = value.split()
    if len(parts) != 6 or not parts[2].isdigit() or len(parts[2]) > 20:
        raise SdpError(f"bad o= line {value[:60]!r}")
    return Origin(parts[0], parts[1], int(parts[2]), parts[5], parts[3], parts[4])


def _parse_media_line(value: str) -> MediaDescription:
    parts = value.split()
    if len(parts) < 3:
        raise SdpError(f"bad m= line {value[:60]!r}")
    media, port_text, protocol, *formats = parts
    port_part, slash, count_part = port_text.partition("/")
    if not port_part.isdigit() or len(port_part) > 5 or int(port_part) > 65535:
        raise SdpError(f"bad m= port {port_text[:20]!r}")
    count = None
    if slash:
        if not count_part.isdigit() or len(count_part) > 5 or int(count_part) == 0:
            raise SdpError(f"bad m= port count {port_text[:20]!r}")
        count = int(count_part)
    if protocol in _RTP_PROTOCOLS and not all(
            f.isdigit() and len(f) <= 3 and int(f) <= 127 for f in formats):
        raise SdpError("RTP payload types must be 0..127")
    return MediaDescription(media, int(port_part), protocol, tuple(formats), port_count=count)


def _parse_attribute(value: str) -> Attribute:
    name, colon, rest = value.partition(":")
    if not name or " " in name:
        raise SdpError(f"bad a= line {value[:60]!r}")
    return (name, rest if colon else None)


@dataclass(slots=True)
class _Section:
    """Lines of one section while parsing (the session, or one m= section)."""

    head: MediaDescription | None = None
    connection: Connection | None = None
    attributes: list[Attribute] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)

    def build(self, head: MediaDescription) -> MediaDescription:
        return replace(head, connection=self.connection, attributes=tuple(self.attributes),
                       other=tuple(self.other))


def _parse(data: bytes, max_size: int, max_media: int) -> SessionDescription:
    if len(data) > max_size:
        raise SdpError(f"SDP of {len(data)} octets is too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError("SDP is not UTF-8") from None
    # RFC 4566 §5: lines end in CRLF, but parsers "SHOULD be tolerant and also accept" LF.
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > _MAX_LINES:
        raise SdpError("too many SDP lines")
    if not lines or lines[0] != "v=0":
        raise SdpError("SDP must start with v=0")
    origin: Origin | None = None
    name: str | None = None
    times: list[tuple[str, str]] = []
    session = _Section()
    media: list[_Section] = []
    for line in lines[1:]:
        if len(line) < 2 or line[1] != "=" or not "a" <= line[0] <= "z":
            raise SdpError(f"bad SDP line {line[:40]!r}")
        kind, value = line[0], line[2:]
        if kind == "m":
            if len(media) >= max_media:
                raise SdpError(f"more than {max_media} m= lines")
            media.append(_Section(head=_parse_media_line(value)))
            continue
        target = media[-1] if media else session
        if kind == "c":
            if target.connection is not None:
                raise SdpError("more than one c= line in a section")
            target.connection = _parse_connection(value)
        elif kind == "a":
            target.attributes.append(_parse_attribute(value))
        elif not media and kind == "o":
            if origin is not None:
                raise SdpError("more than one o= line")
            origin = _parse_origin(value)
        elif not media and kind == "s":
            name = value
        elif not media and kind in "tr":
            times.append((kind, value))
        elif kind in ("iuepbzk" if not media else "ibk"):
            target.other.append((kind, value))
        else:
            raise SdpError(f"unexpected SDP line type {kind!r}")
    if origin is None or name is None:
        raise SdpError("SDP without o= or s=")
    sections = tuple(part.build(part.head) for part in media if part.head is not None)
    return SessionDescription(origin, name, session.connection, tuple(times),
                              tuple(session.attributes), sections, tuple(session.other))


# --- offer / answer (RFC 3264) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Codec:
    """A codec we support: matched by encoding name (case-insensitive) and clock rate."""

    name: str
    clock_rate: int
    payload_type: int  # the number we use in our own offers
    fmtp: str | None = None

    def matches(self, rtpmap: RtpMap) -> bool:
        return (rtpmap.encoding.lower() == self.name.lower()
                and rtpmap.clock_rate == self.clock_rate)


PCMU = Codec("PCMU", 8000, 0)
PCMA = Codec("PCMA", 8000, 8)
# RFC 4733 §7.1.1: events 0-15 are the DTMF digits; 16 (flash) is widely offered too.
TELEPHONE_EVENT = Codec("telephone-event", 8000, 101, "0-16")
DEFAULT_CODECS = (PCMU, PCMA, TELEPHONE_EVENT)


def answer_direction(offered: Direction, wanted: Direction = Direction.SENDRECV) -> Direction:
    """RFC 3264 §6.1: we may send only if the offerer receives, receive only if it sends;
    ``wanted`` narrows it further (``sendonly`` when we put the call on hold)."""
    return Direction.of(offered.receives and wanted.sends, offered.sends and wanted.receives)


def _is_event(codec: Codec) -> bool:
    return codec.name.lower() == "telephone-event"


def build_offer(address: str, port: int, *, session_id: str, session_version: int,
                codecs: Sequence[Codec] = DEFAULT_CODECS,
                direction: Direction = Direction.SENDRECV, ptime: int | None = 20,
                username: str = "pbxweb") -> SessionDescription:
    """An audio offer from us: one m-line with ``codecs`` in our preference order."""
    addr_type = "IP6" if ":" in address else "IP4"
    attributes: list[Attribute] = []
    for codec in codecs:
        attributes.append(("rtpmap", f"{codec.payload_type} {codec.name}/{codec.clock_rate}"))
        if codec.fmtp is not None:
            attributes.append(("fmtp", f"{codec.payload_type} {codec.fmtp}"))
    if ptime is not None:
        attributes.append(("ptime", str(ptime)))
    attributes.append((direction.value, None))
    section = MediaDescription("audio", port, "RTP/AVP",
                               tuple(str(c.payload_type) for c in codecs),
                               attributes=tuple(attributes))
    return SessionDescription(Origin(username, session_id, session_version, address,
                                     addr_type=addr_type), "-",
                              Connection(address, addr_type), media=(section,))


def build_answer(offer: SessionDescription, address: str, port: int, *, session_id: str,
                 session_version: int, codecs: Sequence[Codec] = DEFAULT_CODECS,
                 direction: Direction = Direction.SENDRECV,
                 username: str = "pbxweb") -> SessionDescription:
    """Our answer to ``offer`` (RFC 3264 §6). Raises ``SdpError(488)`` when no audio stream
    has a voice codec in common with ``codecs`` (telephone-event alone is not enough)."""
    addr_type = "IP6" if ":" in address else "IP4"
    sections: list[MediaDescription] = []
    accepted = False
    for index, offered in enumerate(offer.media):
        answer = None
        if not accepted and offered.media == "audio" and offered.port != 0 \
                and offered.protocol in _RTP_PROTOCOLS:
            answer = _answer_audio(offered, offer.media_direction(index), port, codecs,
                                   direction)
        if answer is None:
            # §6: a rejected stream keeps its m-line with port 0 (formats as offered).
            answer = MediaDescription(offered.media, 0, offered.protocol, offered.formats)
        else:
            accepted = True
        sections.append(answer)
    if not accepted:
        raise SdpError("no audio stream with a codec in common", _NOT_ACCEPTABLE_HERE)
    return SessionDescription(Origin(username, session_id, session_version, address,
                                     addr_type=addr_type), "-",
                              Connection(address, addr_type), media=tuple(sections))


def _answer_audio(offered: MediaDescription, offered_direction: Direction, port: int,
                  codecs: Sequence[Codec], wanted: Direction) -> MediaDescription | None:
    maps = offered.rtpmaps
    voice: tuple[int, Codec] | None = None
    event: tuple[int, Codec] | None = None
    for fmt in offered.formats:  # the offerer's preference order decides (§6.1)
        rtpmap = maps.get(int(fmt))
        if rtpmap is None:
            continue
        for codec in codecs:
            if codec.matches(rtpmap):
                if _is_event(codec):
                    event = event or (rtpmap.payload_type, codec)
                elif voice is None:
                    voice = (rtpmap.payload_type, codec)
    if voice is None:
        return None
    attributes: list[Attribute] = []
    formats: list[str] = []
    for pt, codec in (voice, event) if event is not None else (voice,):
        formats.append(str(pt))
        attributes.append(("rtpmap", f"{pt} {codec.name}/{codec.clock_rate}"))
        fmtp = offered.fmtp(pt) if _is_event(codec) else None
        if fmtp is not None or (_is_event(codec) and codec.fmtp is not None):
            attributes.append(("fmtp", f"{pt} {fmtp if fmtp is not None else codec.fmtp}"))
    if offered.ptime is not None:
        attributes.append(("ptime", str(offered.ptime)))
    attributes.append((answer_direction(offered_direction, wanted).value, None))
    return MediaDescription("audio", port, offered.protocol, tuple(formats),
                            attributes=tuple(attributes))
