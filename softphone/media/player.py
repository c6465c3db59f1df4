"""Plays pre-encoded G.711 frames as an RTP stream paced at one frame per ptime.

Pacing is drift-free: frame ``n`` is due at ``start + n * ptime`` on the loop's monotonic clock,
so timer jitter never accumulates. If the loop stalls, late frames go out back to back to catch
up; after a stall longer than ``MAX_CATCH_UP`` the schedule restarts from now rather than
bursting seconds of audio into a phone's jitter buffer.

A player sends to *sinks*: callables taking one RTP packet. An :class:`RtpEndpoint`'s ``send``
plays straight to a phone (a prompt); a relay leg's ``emit`` makes the player a relay source
(music on hold), with the leg rewriting SSRC/seq/timestamp into its own stream. One player can
feed many sinks: a single music-on-hold player serves every held call.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from softphone.media.g711 import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    Codec,
    encode_frames,
    frames_of_encoded,
)
from softphone.media.rtp import FIXED_HEADER, MARKER_BIT, VERSION_BITS
from softphone.media.tones import Tone, tone_frames
from softphone.media.transport import cancel_and_wait
from softphone.media.wav import WavError, read_wav_g711, read_wav_pcm16

__all__ = ["DEFAULT_PTIME", "RtpPlayer"]

log = logging.getLogger(__name__)

DEFAULT_PTIME = FRAME_SAMPLES / SAMPLE_RATE  # 20 ms
MAX_CATCH_UP = 0.2  # seconds of backlog sent in a burst at most after a stall

Sink = Callable[[bytes], None]


_ENCODED_CACHE_SIZE = 64  # prompts and greetings in use: a few hundred KiB each at most
_encoded: OrderedDict[tuple[str, int, int, Codec], tuple[bytes, ...]] = OrderedDict()


def encoded_wav_frames(path: str | os.PathLike[str], codec: Codec) -> tuple[bytes, ...]:
    """The frames of an 8 kHz WAV in ``codec``, from a small cache keyed by the file's
    identity (path, size, mtime): encoded at most once per codec while the file is unchanged.
    A WAV already in that G.711 law is cut into frames as it is."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise WavError(f"cannot read {path}: {exc}") from exc
    key = (os.fspath(path), stat.st_size, stat.st_mtime_ns, codec)
    frames = _encoded.get(key)
    if frames is None:
        raw = read_wav_g711(path, codec)
        if raw is not None:
            frames = tuple(frames_of_encoded(raw, codec))
        else:
            frames = tuple(encode_frames(read_wav_pcm16(path), codec))
        _encoded[key] = frames
        while len(_encoded) > _ENCODED_CACHE_SIZE:
            _encoded.popitem(last=False)
    else:
        _encoded.move_to_end(key)
    return frames


class RtpPlayer:
    """Streams ``frames`` (each one ptime of G.711) as RTP to its sinks.

    ``start()`` schedules the owned task; ``stop()`` cancels it and waits. When the frames run
    out (and ``loop_playback`` is false) the player ends by itself and calls
    ``on_finished(player)``; ``stop()`` does not call it.
    """

    def __init__(self, frames: Sequence[bytes], *, codec: Codec = Codec.PCMU,
                 payload_type: int | None = None, loop_playback: bool = False,
                 on_finished: Callable[[RtpPlayer], None] | None = None,
                 ptime: float = DEFAULT_PTIME, ssrc: int | None = None) -> None:
        if not frames:
            raise ValueError("nothing to play")
        self.frames = tuple(frames)
        self.codec = codec
        self.payload_type = codec.static_payload_type if payload_type is None else payload_type
        self.loop_playback = loop_playback
        self.on_finished = on_finished
        self.ptime = ptime
        self.ssrc = random.getrandbits(32) if ssrc is None else ssrc
        self.samples_per_frame = round(ptime * SAMPLE_RATE)
        self.packets_sent = 0
        self.finished = False
        self._sinks: tuple[Sink, ...] = ()
        self._task: asyncio.Task[None] | None = None
        self._seq = random.getrandbits(16)
        self._ts = random.getrandbits(32)

    @classmethod
    def from_pcm(cls, pcm: bytes, codec: Codec = Codec.PCMU, **kwargs: Any) -> RtpPlayer:
        """From 8 kHz s16le PCM (encoded once, here)."""
        return cls(encode_frames(pcm, codec), codec=codec, **kwargs)

    @classmethod
    def from_tone(cls, tone: Tone, codec: Codec = Codec.PCMU, *, loop_playback: bool = True,
                  **kwargs: Any) -> RtpPlayer:
        return cls(tone_frames(tone, codec), codec=codec, loop_playback=loop_playback,
                   **kwargs)

    @classmethod
    def from_wav(cls, path: str | os.PathLike[str], codec: Codec = Codec.PCMU,
                 **kwargs: Any) -> RtpPlayer:
        """From an 8 kHz WAV file (raises ``WavError``), as G.711 frames that are kept: a
        prompt or greeting is encoded once per codec, then every call plays the stored
        frames without transcoding (``encoded_wav_frames``)."""
        return cls(encoded_wav_frames(path, codec), codec=codec, **kwargs)

    # --- sinks --------------------------------------------------------------------------------

    def add_sink(self, sink: Sink) -> None:
        self._sinks = (*self._sinks, sink)

    def remove_sink(self, sink: Sink) -> None:
        # == rather than `is`: a bound method is a new object at each attribute access.
        self._sinks = tuple(s for s in self._sinks if s != sink)

    @property
    def sinks(self) -> tuple[Sink, ...]:
        return self._sinks

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self.finished = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rtp-player")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    # --- the pacing loop ----------------------------------------------------------------------

    def _packet(self, frame: bytes, marker: bool) -> bytes:
        header = FIXED_HEADER.pack(VERSION_BITS, self.payload_type | (MARKER_BIT if marker else 0),
                                   self._seq, self._ts, self.ssrc)
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + self.samples_per_frame) & 0xFFFFFFFF
        return header + frame

    def _send(self, packet: bytes) -> None:
        for sink in self._sinks:
            try:
                sink(packet)
            except Exception:  # one broken sink must not silence the others
                log.exception("RTP player sink %r failed", sink)
        self.packets_sent += 1

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        due_index = 0  # frames sent since `start`
        position = 0
        count = len(self.frames)
        while True:
            if position == count:
                if not self.loop_playback:
                    break
                position = 0
            lag = loop.time() - (start + due_index * self.ptime)
            if lag < 0:
                await asyncio.sleep(-lag)
            elif lag > MAX_CATCH_UP:
                # Stalled: restart the schedule; the timestamp still advances by the real gap
                # so receivers see a pause, not compressed audio.
                skipped = int(lag / self.ptime)
                self._ts = (self._ts + skipped * self.samples_per_frame) & 0xFFFFFFFF
                start, due_index = loop.time(), 0
            # Marker on the first packet after a (re)start: a talkspurt begins (RFC 3551 §4.1).
            self._send(self._packet(self.frames[position], marker=due_index == 0))
            position += 1
            due_index += 1
        self.finished = True
        self._task = None
        if self.on_finished is not None:
            try:
                self.on_finished(self)
            except Exception:
                log.exception("RTP player on_finished callback failed")
