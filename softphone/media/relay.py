"""Media relay: forwards G.711 RTP between call legs without decoding it.

Each :class:`RelayLeg` is one RTP endpoint facing one phone (or trunk, or the WebRTC gateway)
and has one *source*: another leg, a player (music on hold, a tone) or nothing. Whatever the
source, the leg's outgoing stream is one continuous RTP stream (RFC 3550 §5.1): its own SSRC for
the leg's lifetime, sequence numbers that continue +1 and timestamps that jump by the real time
elapsed when the source changes, with the marker bit set on the first packet of a new source so
the phone's jitter buffer resynchronises instead of dropping "late" audio. That is why the relay
rewrites SSRC, sequence number and timestamp per outgoing leg, with offsets recomputed only when
the source (or the source's SSRC) changes.

The per-packet path is a single ``datagram_received`` call per packet: check the source address,
rewrite the 11 header octets after the first with one ``pack_into`` on a copy, ``sendto``. No
awaits, no objects beyond the copy and the unpacked tuple (measured: each extra Python call per
packet costs relay capacity; ``../shared/notes/media-and-sip-findings.md``).

The one exception to "no decoding": a PCMU leg bridged to a PCMA leg. The payload is transcoded
with a 256-entry ``bytes.translate`` table (G.711 µ-law ↔ A-law), one C call per packet.

Telephone-events (RFC 4733) are relayed with their payload type mapped to the one the outgoing
leg negotiated, and dropped towards a leg that negotiated none. A leg can also report the digits
it receives (``on_dtmf``) for call control (star codes during a call).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from softphone.media.dtmf import DEFAULT_EVENT_PAYLOAD_TYPE, DtmfReceiver
from softphone.media.g711 import FRAME_SAMPLES, SAMPLE_RATE, Codec
from softphone.media.player import RtpPlayer
from softphone.media.rtp import (
    MARKER_BIT,
    MPT_SEQ_TS_SSRC,
    PAYLOAD_TYPE_MASK,
    RTP_HEADER_SIZE,
    SEQ_TS_SSRC,
    VERSION_BITS,
    VERSION_MASK,
    RtpError,
    payload_bounds,
)
from softphone.media.tones import music_on_hold_frames
from softphone.media.transport import (
    Address,
    InactivityMonitor,
    PortAllocator,
    RtpEndpoint,
)

__all__ = ["MediaFormat", "MediaRelay", "RelayLeg"]

log = logging.getLogger(__name__)

DEFAULT_INACTIVITY_TIMEOUT = 30.0  # seconds without RTP before a leg is reported dead
_NO_SSRC = -1  # forces a resync on the next packet: no 32-bit SSRC equals it

# Bound once: module-global lookups are cheaper than attribute lookups on every packet.
_unpack_seq_ts_ssrc = SEQ_TS_SSRC.unpack_from
_pack_mpt_seq_ts_ssrc = MPT_SEQ_TS_SSRC.pack_into


@dataclass(slots=True, frozen=True)
class MediaFormat:
    """What the SDP offer/answer settled for one leg (RFC 3264)."""

    codec: Codec = Codec.PCMU
    audio_pt: int = 0
    event_pt: int | None = DEFAULT_EVENT_PAYLOAD_TYPE

    @classmethod
    def for_codec(cls, codec: Codec, event_pt: int | None = DEFAULT_EVENT_PAYLOAD_TYPE,
                  ) -> MediaFormat:
        return cls(codec, codec.static_payload_type, event_pt)

    @property
    def payload_types(self) -> frozenset[int]:
        return frozenset(pt for pt in (self.audio_pt, self.event_pt) if pt is not None)


def _payload_type_map(source: MediaFormat, target: MediaFormat) -> list[int]:
    """Second header octet in (M|PT) -> second octet out; -1 drops the packet."""
    table = [-1] * 256
    pairs = [(source.audio_pt, target.audio_pt)]
    if source.event_pt is not None and target.event_pt is not None:
        pairs.append((source.event_pt, target.event_pt))
    for src_pt, dst_pt in pairs:
        table[src_pt] = dst_pt
        table[src_pt | MARKER_BIT] = dst_pt | MARKER_BIT
    return table


class RelayLeg(RtpEndpoint):
    """One side of a relayed call. Create through :meth:`MediaRelay.open_leg`."""

    def __init__(self, relay: MediaRelay, fmt: MediaFormat, name: str,
                 on_dtmf: Callable[[RelayLeg, str], None] | None) -> None:
        super().__init__(payload_types=fmt.payload_types)
        self.relay = relay
        self.name = name
        self.format = fmt
        self.on_dtmf = on_dtmf
        self._dtmf = DtmfReceiver()
        self._event_pt = -1 if fmt.event_pt is None else fmt.event_pt
        # Receiving side: the legs whose source is this leg, and taps (a recorder) that see
        # every packet the phone sends.
        self._listeners: tuple[RelayLeg, ...] = ()
        self._taps: tuple[Callable[[bytes], None], ...] = ()
        # Sending side: our stream towards the phone, whatever its source.
        self.source: RelayLeg | RtpPlayer | None = None
        self.ssrc = random.getrandbits(32)
        self._pt_map: list[int] = [-1] * 256
        self._transcode: bytes | None = None
        self._transcode_pt = -1
        self._src_ssrc = _NO_SSRC
        self._seq_off = 0
        self._ts_off = 0
        self._last_seq = -1  # -1: nothing sent yet, start at random values (RFC 3550 §5.1)
        self._last_ts = 0
        self._mark = False
        self._quiet_since: float | None = None

    def __repr__(self) -> str:
        return f"RelayLeg({self.name!r}, port={self.local_address and self.local_port})"

    # --- the per-packet path ------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if addr != self.peer and not self._admit(data, addr):
            return
        if len(data) < RTP_HEADER_SIZE or data[0] & VERSION_MASK != VERSION_BITS:
            self.invalid_dropped += 1
            return
        self.packets_received += 1
        if data[1] & PAYLOAD_TYPE_MASK == self._event_pt and self.on_dtmf is not None:
            self._detect_dtmf(data)
        if self._taps:
            for tap in self._taps:
                tap(data)
        listeners = self._listeners
        if not listeners:
            return
        seq, ts, ssrc = _unpack_seq_ts_ssrc(data, 2)
        for out in listeners:
            out._forward(data, seq, ts, ssrc)

    def add_tap(self, tap: Callable[[bytes], None]) -> None:
        """``tap`` sees every RTP packet this leg receives (voicemail records through it)."""
        self._taps = (*self._taps, tap)

    def remove_tap(self, tap: Callable[[bytes], None]) -> None:
        self._taps = tuple(t for t in self._taps if t is not tap)

    def emit(self, data: bytes) -> None:
        """Send a packet from a non-leg source (a player) with the same rewrite as above."""
        if len(data) < RTP_HEADER_SIZE:
            return
        seq, ts, ssrc = _unpack_seq_ts_ssrc(data, 2)
        self._forward(data, seq, ts, ssrc)

    def _forward(self, data: bytes, seq: int, ts: int, ssrc: int) -> None:
        """Send ``data`` out of this leg, rewritten into the leg's own continuous stream."""
        mpt = self._pt_map[data[1]]
        if mpt < 0:
            if ssrc == self._src_ssrc:
                self._skip_sequence()
            return
        if ssrc != self._src_ssrc:
            self._resync(ssrc, seq, ts)
        if self._mark:
            mpt |= MARKER_BIT
            self._mark = False
        self._last_seq = out_seq = (seq + self._seq_off) & 0xFFFF
        self._last_ts = out_ts = (ts + self._ts_off) & 0xFFFFFFFF
        buf = bytearray(data)
        _pack_mpt_seq_ts_ssrc(buf, 1, mpt, out_seq, out_ts, self.ssrc)
        if self._transcode is not None and data[1] & PAYLOAD_TYPE_MASK == self._transcode_pt:
            self._transcode_payload(buf)
        if self.dest is not None and self.transport is not None:
            self.transport.sendto(buf, self.dest)

    # --- rare paths ---------------------------------------------------------------------------

    def _resync(self, ssrc: int, seq: int, ts: int) -> None:
        """A new source (or a new SSRC from the same source): continue our stream from here."""
        if self._last_seq < 0:
            next_seq = random.getrandbits(16)
            next_ts = random.getrandbits(32)
        else:
            next_seq = self._last_seq + 1
            gap = FRAME_SAMPLES  # same source, new SSRC: assume it carried on without a pause
            if self._quiet_since is not None:
                elapsed = asyncio.get_running_loop().time() - self._quiet_since
                gap = max(FRAME_SAMPLES, round(elapsed * SAMPLE_RATE))
            next_ts = self._last_ts + gap
        self._seq_off = (next_seq - seq) & 0xFFFF
        self._ts_off = (next_ts - ts) & 0xFFFFFFFF
        self._src_ssrc = ssrc
        self._quiet_since = None
        # RFC 3551 §4.1: marker on the first packet of a talkspurt; a new source is one.
        self._mark = True

    def _skip_sequence(self) -> None:
        """A packet of the current source is not for this leg (comfort noise or an event it did
        not negotiate): close the sequence gap, or the phone would count it as loss."""
        self._seq_off = (self._seq_off - 1) & 0xFFFF

    def _transcode_payload(self, buf: bytearray) -> None:
        try:
            start, end = payload_bounds(buf)
        except RtpError:
            return
        buf[start:end] = bytes(buf[start:end]).translate(self._transcode or b"")

    def _detect_dtmf(self, data: bytes) -> None:
        try:
            start, end = payload_bounds(data)
        except RtpError:
            return
        ts = _unpack_seq_ts_ssrc(data, 2)[1]
        for received in self._dtmf.feed(ts, data[start:end]):
            if self.on_dtmf is not None:
                self.on_dtmf(self, received.digit)

    def _route_from(self, source: RelayLeg | RtpPlayer | None) -> None:
        """Point the sending side at ``source``; continuity is handled by the next resync."""
        now = asyncio.get_running_loop().time()
        if self.source is not None and self._quiet_since is None:
            self._quiet_since = now  # our stream goes quiet now, until the next source speaks
        self.source = source
        self._src_ssrc = _NO_SSRC
        self._refresh_route()

    def _refresh_route(self) -> None:
        source = self.source
        if source is None:
            self._pt_map = [-1] * 256
            self._transcode, self._transcode_pt = None, -1
            return
        src_format = source.format if isinstance(source, RelayLeg) else MediaFormat(
            source.codec, source.payload_type, None)
        self._pt_map = _payload_type_map(src_format, self.format)
        self._transcode = src_format.codec.transcode_table(self.format.codec)
        self._transcode_pt = src_format.audio_pt

    def _set_listeners(self, listeners: tuple[RelayLeg, ...]) -> None:
        self._listeners = listeners


class MediaRelay:
    """Owns the relay legs of one engine, the shared music-on-hold player and the inactivity
    monitor. All methods run on the engine's event loop; switching is synchronous, so it is
    atomic with respect to packets.

    Call control drives it like this::

        relay = MediaRelay(PortAllocator(16000, 16999), host="203.0.113.7")
        await relay.start()
        a = await relay.open_leg(MediaFormat.for_codec(Codec.PCMU), name="caller")
        # a.local_port goes into our SDP; the peer's SDP address:
        a.set_remote(("192.0.2.10", 4000))
        b = await relay.open_leg(...); b.set_remote(...)
        relay.bridge(a, b)                             # answered: both directions
        relay.watch_inactivity(a, on_dead)             # once media is expected
        relay.set_source(a, relay.music_on_hold)       # b put a on hold
        relay.set_source(b, None)
        relay.bridge(a, c)                             # transfer: a now talks with c
        relay.close_leg(b); ...; await relay.stop()
    """

    def __init__(self, ports: PortAllocator, host: str, *,
                 inactivity_timeout: float = DEFAULT_INACTIVITY_TIMEOUT,
                 check_interval: float = 1.0) -> None:
        self.ports = ports
        self.host = host
        self.inactivity_timeout = inactivity_timeout
        self.legs: set[RelayLeg] = set()
        self.monitor = InactivityMonitor(check_interval)
        self._music: RtpPlayer | None = None

    async def start(self) -> None:
        """Start the inactivity monitor and the music-on-hold player (synthesised off-loop)."""
        self.monitor.start()
        if self._music is None:
            loop = asyncio.get_running_loop()
            frames = await loop.run_in_executor(None, music_on_hold_frames, Codec.PCMU)
            self._music = RtpPlayer(frames, codec=Codec.PCMU, loop_playback=True)
            self._music.start()

    @property
    def music_on_hold(self) -> RtpPlayer:
        if self._music is None:
            raise RuntimeError("MediaRelay.start() has not run")
        return self._music

    async def stop(self) -> None:
        for leg in list(self.legs):
            self.close_leg(leg)
        await self.monitor.stop()
        if self._music is not None:
            await self._music.stop()
            self._music = None

    async def open_leg(self, fmt: MediaFormat | None = None, *, name: str = "",
                       on_dtmf: Callable[[RelayLeg, str], None] | None = None) -> RelayLeg:
        leg = RelayLeg(self, fmt or MediaFormat(), name, on_dtmf)
        await leg.bind(self.ports, self.host)
        self.legs.add(leg)
        return leg

    def set_format(self, leg: RelayLeg, fmt: MediaFormat) -> None:
        """After a re-INVITE changed the codec or payload types of ``leg``."""
        leg.format = fmt
        leg.payload_types = fmt.payload_types
        leg._event_pt = -1 if fmt.event_pt is None else fmt.event_pt
        leg._refresh_route()
        for listener in leg._listeners:
            listener._refresh_route()

    def set_source(self, leg: RelayLeg, source: RelayLeg | RtpPlayer | None) -> None:
        """What ``leg``'s phone hears from now on: another leg, a player, or silence."""
        if source is leg:
            raise ValueError("a leg cannot be its own source")
        if source is leg.source:
            return
        old = leg.source
        if isinstance(old, RelayLeg):
            old._set_listeners(tuple(x for x in old._listeners if x is not leg))
        elif old is not None:
            old.remove_sink(leg.emit)
        leg._route_from(source)
        if isinstance(source, RelayLeg):
            source._set_listeners((*source._listeners, leg))
        elif source is not None:
            source.add_sink(leg.emit)

    def bridge(self, a: RelayLeg, b: RelayLeg) -> None:
        """Both directions: ``a`` hears ``b`` and ``b`` hears ``a``."""
        self.set_source(a, b)
        self.set_source(b, a)

    def watch_inactivity(self, leg: RelayLeg, on_inactive: Callable[[RelayLeg], None],
                         timeout: float | None = None) -> None:
        """Report ``leg`` once if it receives no RTP for ``timeout`` seconds (call it again to
        restart the clock, e.g. after a resume; stop watching while the phone is on hold with
        a=inactive, since it then rightly sends nothing)."""
        def fire(endpoint: RtpEndpoint) -> None:
            on_inactive(leg)

        self.monitor.watch(leg, timeout or self.inactivity_timeout, fire)

    def unwatch_inactivity(self, leg: RelayLeg) -> None:
        self.monitor.unwatch(leg)

    def close_leg(self, leg: RelayLeg) -> None:
        """Detach ``leg`` from everything (its listeners fall silent) and free its ports."""
        for listener in leg._listeners:
            self.set_source(listener, None)
        self.set_source(leg, None)
        leg._taps = ()
        self.monitor.unwatch(leg)
        leg.close()
        self.legs.discard(leg)
