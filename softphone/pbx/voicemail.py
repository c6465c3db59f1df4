"""Taking a voicemail message: the engine answers the caller, plays the greeting and a beep,
records until the caller hangs up, presses ``#`` or the maximum length is reached.

The session's states (``VoicemailState``)::

    GREETING --greeting played--> BEEP --beep played--> RECORDING --#, hang-up, max--> DONE
        \\______________________ the caller hangs up ____________________________/

The message's row is created (state "recording") *before* the first frame is written, and the
recorder patches its WAV header every second (``RtpRecorder``), so a crash mid-recording
leaves a row and a playable file with everything up to the last second; the engine finishes
such rows at its next start (``PbxStore.recover_voicemail``). A message shorter than the
mailbox's minimum is a hang-up and is not kept.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from pathlib import Path

from softphone.media.g711 import SAMPLE_RATE
from softphone.media.player import RtpPlayer
from softphone.media.recorder import RtpRecorder
from softphone.media.relay import MediaRelay, RelayLeg
from softphone.media.tones import tone_pcm
from softphone.media.wav import WavError
from softphone.pbx.prompts import Prompts
from softphone.pbx.storage import MailboxInfo, PbxStore, VoicemailStart

__all__ = ["BEEP_HZ", "VoicemailSession", "VoicemailState"]

logger = logging.getLogger("softphone.voicemail")

BEEP_HZ = 1000.0
BEEP_SECONDS = 0.4
END_KEY = "#"
VOICE_LEVEL = 300  # peak sample (16-bit) above which a frame counts as speech, ~ -40 dBFS


async def play_until(relay: MediaRelay, media: RelayLeg, player: RtpPlayer,
                     interrupt: asyncio.Event) -> None:
    """Play ``player`` to ``media``'s phone until it ends or ``interrupt`` is set (a key, a
    hang-up); then the phone hears silence again."""
    if media.closed:
        return
    finished = asyncio.Event()
    player.on_finished = lambda _player: finished.set()
    relay.set_source(media, player)
    player.start()
    waiters = [asyncio.ensure_future(finished.wait()), asyncio.ensure_future(interrupt.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await player.stop()
        if not media.closed:
            relay.set_source(media, None)


class VoicemailState(enum.StrEnum):
    GREETING = "greeting"
    BEEP = "beep"
    RECORDING = "recording"
    DONE = "done"


class VoicemailSession:
    """One caller leaving one message. ``on_done(session)`` tells call control it is over
    (``kept``: a message was stored; ``caller_gone``: the caller hung up)."""

    def __init__(self, *, media: RelayLeg, relay: MediaRelay, mailbox: MailboxInfo,
                 prompts: Prompts, store: PbxStore, start: VoicemailStart,
                 on_done: Callable[[VoicemailSession], None]) -> None:
        self.media = media
        self.relay = relay
        self.mailbox = mailbox
        self.prompts = prompts
        self.store = store
        self.start = start
        self.on_done = on_done
        self.state = VoicemailState.GREETING
        self.kept = False
        self.caller_gone = False
        self.duration = 0.0
        self._stop = asyncio.Event()
        self._recorder: RtpRecorder | None = None
        self._tap: Callable[[bytes], None] | None = None
        self._heard_voice_at = 0.0

    # -- events from call control ---------------------------------------------------------------
    def digit(self, digit: str) -> None:
        """A key from the caller (RFC 4733 in the media, or SIP INFO): ``#`` ends it."""
        if digit == END_KEY:
            self._stop.set()

    def caller_left(self) -> None:
        self.caller_gone = True
        self._stop.set()

    # -- the dialogue -----------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._run()
        except Exception:
            logger.exception("voicemail for %s failed", self.mailbox.number)
        finally:
            self.state = VoicemailState.DONE
            self.on_done(self)

    async def _run(self) -> None:
        mailbox = self.mailbox
        if mailbox.full:
            await self._play_prompt("mailbox_full")
            return
        if not await self._play_greeting():
            return
        self.state = VoicemailState.BEEP
        await self._play(RtpPlayer.from_pcm(tone_pcm(BEEP_HZ, BEEP_SECONDS),
                                            self.media.format.codec))
        if self._stop.is_set():
            return
        self.state = VoicemailState.RECORDING
        await self._record()

    async def _play_greeting(self) -> bool:
        """The personal greeting, else the generated default naming the extension; False
        when the caller left meanwhile."""
        player = None
        if self.mailbox.greeting_path:
            player = self._player(Path(self.mailbox.greeting_path))
        if player is None:
            return await self._play_prompt("greeting")
        await self._play(player)
        return not self._stop.is_set()

    async def _play_prompt(self, name: str) -> bool:
        path = await self.prompts.get(name, self.mailbox.language, self.media.format.codec,
                                      number=self.mailbox.number)
        player = self._player(path) if path is not None else None
        if player is not None:
            await self._play(player)
        return not self._stop.is_set()

    def _player(self, path: Path) -> RtpPlayer | None:
        try:
            return RtpPlayer.from_wav(path, self.media.format.codec)
        except (OSError, WavError) as error:
            logger.warning("cannot play %s (%s)", path, error)
            return None

    async def _play(self, player: RtpPlayer) -> None:
        """Play to the caller until done or until the caller leaves / presses #."""
        await play_until(self.relay, self.media, player, self._stop)

    def _listen(self, packet: bytes) -> None:
        """Note when the caller last spoke: a 20 ms frame louder than ``VOICE_LEVEL``."""
        if len(packet) < 12 + 80 or packet[1] & 0x7F != self.media.format.audio_pt:
            return
        pcm = memoryview(self.media.format.codec.decode(packet[12:])).cast("h")
        if max(abs(min(pcm)), abs(max(pcm))) >= VOICE_LEVEL:
            self._heard_voice_at = asyncio.get_running_loop().time()

    async def _end_on_silence(self) -> None:
        """Silence for ``silence_seconds`` ends the message, as a hang-up or # would."""
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            quiet = loop.time() - self._heard_voice_at
            if quiet >= self.mailbox.silence_seconds:
                logger.info("voicemail for %s: %.0f s of silence ends the message",
                            self.mailbox.number, quiet)
                self._stop.set()
                return
            await asyncio.sleep(min(0.5, self.mailbox.silence_seconds - quiet))

    async def _record(self) -> None:
        slot = await self.store.open_voicemail(self.start)
        fmt = self.media.format
        recorder = RtpRecorder(slot.path, fmt.codec, payload_type=fmt.audio_pt)
        self._recorder, self._tap = recorder, recorder.write_packet
        self._heard_voice_at = asyncio.get_running_loop().time()
        if not self.media.closed:
            self.media.add_tap(self._tap)
            self.media.add_tap(self._listen)
        silence = asyncio.ensure_future(self._end_on_silence())
        logger.info("voicemail for %s: recording message %d", self.mailbox.number,
                    slot.message_id)
        try:
            if not self._stop.is_set():
                await asyncio.wait_for(self._stop.wait(), self.mailbox.max_seconds)
        except TimeoutError:
            logger.info("voicemail for %s: maximum length reached", self.mailbox.number)
        finally:
            silence.cancel()
            self.media.remove_tap(self._tap)
            self.media.remove_tap(self._listen)
            recorder.close()
            self.duration = recorder.frames_written / SAMPLE_RATE
            self.kept = self.duration >= self.mailbox.min_seconds
            # Committed before call control releases the caller (on_done comes after).
            await self.store.close_voicemail(slot.message_id, self.duration, self.kept)
            logger.info("voicemail for %s from %s: %.1f s, %s", self.mailbox.number,
                        self.start.caller_number, self.duration,
                        "kept" if self.kept else "too short, dropped")
