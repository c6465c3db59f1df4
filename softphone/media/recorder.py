"""Records received G.711 to a WAV file that survives a crash of the engine.

Frames reach the OS as they arrive (the file is unbuffered) and the WAV header's sizes are
patched within ``sync_interval`` (1 s) of any write, by a timer on the event loop, so a file
left behind by a crash plays in any player up to the last second, and in ours to the last frame.

Stored either as 16-bit PCM (decoded; what voicemail and most tools want) or as G.711 WAV
(format 7 µ-law / 6 A-law: half the size, no decoding at all).
"""

from __future__ import annotations

import asyncio
import os
import time

from softphone.media.g711 import Codec
from softphone.media.rtp import (
    PAYLOAD_TYPE_MASK,
    RTP_HEADER_SIZE,
    RtpError,
    payload_bounds,
    read_ssrc,
    read_timestamp,
)
from softphone.media.wav import WavFormat, WavWriter

__all__ = ["MAX_GAP_FILL", "RtpRecorder"]

DEFAULT_SYNC_INTERVAL = 1.0
MAX_GAP_FILL = 8000 * 5  # samples; longer gaps (hold, a stalled phone) are not padded


class RtpRecorder:
    """Writes G.711 payloads of one codec to ``path``.

    ``write_packet`` takes whole RTP packets, keeps only ``payload_type`` and fills lost packets
    with silence from the timestamps, so the recording keeps real time; ``write_payload`` takes
    bare frames. Use it on the event loop (the header-sync timer) or from plain code (the header
    is then synced from ``write`` when ``sync_interval`` has passed).
    """

    def __init__(self, path: str | os.PathLike[str], codec: Codec, *,
                 store: WavFormat = WavFormat.PCM, payload_type: int | None = None,
                 sync_interval: float = DEFAULT_SYNC_INTERVAL) -> None:
        self.codec = codec
        self.payload_type = codec.static_payload_type if payload_type is None else payload_type
        self.sync_interval = sync_interval
        stored_codec = {WavFormat.MULAW: Codec.PCMU, WavFormat.ALAW: Codec.PCMA}.get(store)
        # PCM: decode; same law: copy; other law: the µ-law/A-law table.
        self._transcode = None if stored_codec is None else codec.transcode_table(stored_codec)
        self._decode = stored_codec is None
        self._writer = WavWriter(path, store)
        self._timer: asyncio.TimerHandle | None = None
        self._last_sync = time.monotonic()
        self._next_ts: int | None = None
        self._ssrc: int | None = None

    @property
    def frames_written(self) -> int:
        return self._writer.frames_written

    @property
    def closed(self) -> bool:
        return self._writer.closed

    def write_payload(self, payload: bytes | bytearray | memoryview) -> None:
        if self._writer.closed:
            return
        if self._decode:
            self._writer.write(self.codec.decode(payload))
        elif self._transcode is not None:
            self._writer.write(bytes(payload).translate(self._transcode))
        else:
            self._writer.write(payload)
        self._schedule_sync()

    def write_packet(self, packet: bytes | bytearray) -> None:
        if len(packet) < RTP_HEADER_SIZE or packet[1] & PAYLOAD_TYPE_MASK != self.payload_type:
            return
        try:
            start, end = payload_bounds(packet)
        except RtpError:
            return
        ssrc, ts = read_ssrc(packet), read_timestamp(packet)
        if ssrc == self._ssrc and self._next_ts is not None:
            gap = (ts - self._next_ts) & 0xFFFFFFFF
            if gap >= 0x80000000:  # late or duplicate: already covered by silence or audio
                return
            if 0 < gap <= MAX_GAP_FILL:
                self.write_payload(bytes([self.codec.silence_code]) * gap)
        self._ssrc = ssrc
        self._next_ts = (ts + (end - start)) & 0xFFFFFFFF
        self.write_payload(memoryview(packet)[start:end])

    def _schedule_sync(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            now = time.monotonic()
            if now - self._last_sync >= self.sync_interval:
                self.sync()
            return
        if self._timer is None:
            self._timer = loop.call_later(self.sync_interval, self.sync)

    def sync(self) -> None:
        """Make the header describe everything written so far."""
        self._timer = None
        self._last_sync = time.monotonic()
        self._writer.sync()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._writer.close()

