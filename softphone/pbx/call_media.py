"""SDP for anchored calls: what a leg's SDP means for its relay leg (RFC 3264, RFC 4566).

Every call leg faces the engine's media relay, never the other phone: the engine answers the
caller's offer with its own address and a relay port, and offers the callees its own address
and another relay port. These helpers turn a peer's SDP into what the relay needs (where to
send, which codec and telephone-event payload types, whether the peer has put the call on hold)
and build the SDP we send, with the origin's version raised on every change (§8, RFC 4566 §5.2).
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass

from softphone.media.g711 import Codec
from softphone.media.relay import MediaFormat
from softphone.sip.sdp import (
    DEFAULT_CODECS,
    Direction,
    MediaDescription,
    SdpError,
    SessionDescription,
    build_answer,
    build_offer,
)

__all__ = ["MAX_MEDIA_LINES", "LegSdp", "RemoteMedia", "media_of"]

# Phones offer one or two m-lines (audio, maybe video); more than this is junk or an attack
# (issue #5: "1,000 m-lines" must get a clear 400, not a 1,000-line answer).
MAX_MEDIA_LINES = 8
_CODECS = {"pcmu": Codec.PCMU, "pcma": Codec.PCMA}


@dataclass(frozen=True, slots=True)
class RemoteMedia:
    """The audio stream a peer's SDP describes, from the relay's point of view."""

    address: tuple[str, int] | None  # None: the peer wants nothing sent (0.0.0.0 / port 0)
    format: MediaFormat
    direction: Direction  # the peer's direction, as it wrote it (sendonly = it holds)

    @property
    def holding(self) -> bool:
        """RFC 3264 §8.4: sendonly/inactive (or the RFC 2543 0.0.0.0) is "on hold"."""
        return not self.direction.receives


def parse_sdp(body: bytes) -> SessionDescription:
    """A peer's SDP, or ``SdpError`` (400; 488 when nothing in it is usable)."""
    return SessionDescription.parse(body, max_media=MAX_MEDIA_LINES)


def media_of(sdp: SessionDescription, chosen: SessionDescription | None = None) -> RemoteMedia:
    """The first accepted audio stream of ``sdp``. ``chosen``: the answer that settled the
    codecs (ours, when ``sdp`` is an offer); without it ``sdp`` is an answer and its first
    voice codec is the one in use (RFC 3264 §6.1)."""
    index, section = _first_audio(sdp)
    settled = section if chosen is None else _first_audio(chosen)[1]
    codec, audio_pt, event_pt = _format_of(settled)
    connection = sdp.media_connection(index)
    if connection is None:
        raise SdpError("no c= line for the audio stream")
    direction = sdp.media_direction(index)
    address: tuple[str, int] | None = None
    if not connection.is_hold_address and section.port != 0:
        try:
            host = str(ipaddress.ip_address(connection.address))
        except ValueError:
            raise SdpError(f"c= address {connection.address[:60]!r} is not an IP "
                           "address") from None
        address = (host, section.port)
    return RemoteMedia(address, MediaFormat(codec, audio_pt, event_pt), direction)


def _first_audio(sdp: SessionDescription) -> tuple[int, MediaDescription]:
    for index, section in enumerate(sdp.media):
        if section.media == "audio" and section.port != 0:
            return index, section
    raise SdpError("no audio stream", 488)


def _format_of(section: MediaDescription) -> tuple[Codec, int, int | None]:
    maps = section.rtpmaps
    voice: tuple[Codec, int] | None = None
    event_pt: int | None = None
    for fmt in section.formats:
        if not fmt.isdigit():
            continue
        rtpmap = maps.get(int(fmt))
        if rtpmap is None or rtpmap.clock_rate != 8000:
            continue
        name = rtpmap.encoding.lower()
        if name in _CODECS and voice is None:
            voice = (_CODECS[name], rtpmap.payload_type)
        elif name == "telephone-event" and event_pt is None:
            event_pt = rtpmap.payload_type
    if voice is None:
        raise SdpError("no PCMU or PCMA in the audio stream", 488)
    return voice[0], voice[1], event_pt


class LegSdp:
    """Our side of one leg's offer/answer: the relay port we announce, our origin line."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.session_id = str(secrets.randbelow(2**31))
        self.version = 0

    def offer(self, direction: Direction = Direction.SENDRECV) -> SessionDescription:
        self.version += 1
        return build_offer(self.host, self.port, session_id=self.session_id,
                           session_version=self.version, codecs=DEFAULT_CODECS,
                           direction=direction)

    def answer(self, offer: SessionDescription,
               direction: Direction = Direction.SENDRECV) -> SessionDescription:
        """Raises ``SdpError(488)`` when no voice codec is in common."""
        self.version += 1
        return build_answer(offer, self.host, self.port, session_id=self.session_id,
                            session_version=self.version, codecs=DEFAULT_CODECS,
                            direction=direction)
