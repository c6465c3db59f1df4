"""The 999 voicemail menu: listening to one's messages from any phone, with DTMF only.

The dialogue (``MenuState``)::

    PIN --right PIN + #--> COUNTS --> MESSAGE(i) --1 repeat, 3 previous, 2/# next (saves it),
     |  * : another mailbox number first           7 delete, 9 save and next--> ... --> END
     +--3 wrong PINs (or a locked mailbox)--> BYE
    END --5 within 5 s--> RECORD GREETING (after the beep, until #) --> BYE

Keys arrive as RFC 4733 events or SIP INFO (call control hands them to ``digit``). Prompts are
spoken by ``Prompts`` (espeak-ng); without it the menu still works, silently, by keys alone.
Wrong PINs count towards the mailbox's lockout in the store (``PbxStore.check_voicemail_pin``).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from softphone.media.player import RtpPlayer
from softphone.media.recorder import RtpRecorder
from softphone.media.relay import MediaRelay, RelayLeg
from softphone.media.tones import tone_pcm
from softphone.media.wav import WavError
from softphone.pbx.prompts import Prompts
from softphone.pbx.storage import PbxStore, PinCheck, StoredMessage
from softphone.pbx.voicemail import BEEP_HZ, BEEP_SECONDS, play_until

__all__ = ["MAX_PIN_TRIES", "MenuState", "VoicemailMenu"]

logger = logging.getLogger("softphone.voicemail")

MAX_PIN_TRIES = 3
KEY_TIMEOUT = 15.0  # seconds to wait for a key before giving up
MAX_ENTRY = 16  # digits in a PIN or mailbox number
OFFER_TIMEOUT = 5.0  # the closing "press 5 to record your greeting" waits this long
GREETING_MAX_SECONDS = 60.0


class MenuState(enum.StrEnum):
    PIN = "pin"
    LISTENING = "listening"
    DONE = "done"


class VoicemailMenu:
    def __init__(self, *, media: RelayLeg, relay: MediaRelay, prompts: Prompts,
                 store: PbxStore, mailbox: str, language: str,
                 on_done: Callable[[VoicemailMenu], None],
                 on_change: Callable[[str], None] | None = None) -> None:
        self.media = media
        self.relay = relay
        self.prompts = prompts
        self.store = store
        self.mailbox = mailbox
        self.language = language
        self.on_done = on_done
        self.on_change = on_change  # the mailbox's counts changed (MWI)
        self.state = MenuState.PIN
        self.outcome = ""
        self._keys: asyncio.Queue[str] = asyncio.Queue()
        self._keyed = asyncio.Event()  # set while keys wait in the queue: prompts stop

    def digit(self, digit: str) -> None:
        self._keys.put_nowait(digit)
        self._keyed.set()

    def caller_left(self) -> None:
        self._keys.put_nowait("")  # "" = the caller is gone
        self._keyed.set()

    async def run(self) -> None:
        try:
            await self._run()
        except _CallerGone:
            self.outcome = self.outcome or "caller left"
        except Exception:
            logger.exception("the 999 menu of %s failed", self.mailbox)
        finally:
            self.state = MenuState.DONE
            self.on_done(self)

    async def _run(self) -> None:
        if not await self._login():
            await self._say("goodbye")
            return
        self.state = MenuState.LISTENING
        messages = await self.store.voicemail_messages(self.mailbox)
        new = sum(1 for m in messages if m.new)
        await self._say("counts", new=str(new), saved=str(len(messages) - new))
        index = 0
        while 0 <= index < len(messages):
            index = await self._message(messages, index)
        await self._say("no_more")
        self.outcome = self.outcome or "listened"
        if await self._key(timeout=OFFER_TIMEOUT, required=False) == "5":
            await self._record_greeting()
        await self._say("goodbye")

    async def _login(self) -> bool:
        for _ in range(MAX_PIN_TRIES):
            await self._say("pin")
            entry = await self._entry()
            if entry.startswith("*"):  # another mailbox: its number, then its PIN
                await self._say("mailbox_number")
                self.mailbox = (await self._entry()).lstrip("*") or self.mailbox
                await self._say("pin")
                entry = await self._entry()
            check = await self.store.check_voicemail_pin(self.mailbox, entry)
            if check is PinCheck.OK:
                return True
            if check is PinCheck.LOCKED:
                self.outcome = "locked"
                await self._say("locked")
                return False
            await self._say("wrong_pin")
        self.outcome = "wrong PIN"
        return False

    async def _message(self, messages: list[StoredMessage], index: int) -> int:
        """Play message ``index`` and act on the key; the next index (-1/len: the end)."""
        message = messages[index]
        when = time.strftime("%H:%M", time.localtime(message.started_at))
        await self._say("message", index=str(index + 1),
                        caller=" ".join(message.caller_number) or "?", time=when)
        await self._play(Path(message.path))
        await self._say("message_menu")
        key = await self._key()
        if key == "1":
            return index
        if key == "3":
            return max(0, index - 1)
        if key == "7":
            await self.store.delete_voicemail(message.message_id)
            del messages[index]
            self._changed()
            await self._say("deleted")
            return index
        if message.new:  # 2, 9, # or anything else: heard, so saved; on to the next
            await self.store.set_voicemail_saved(message.message_id)
            self._changed()
        return index + 1

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.mailbox)

    # -- input ---------------------------------------------------------------------------------
    async def _key(self, timeout: float = KEY_TIMEOUT, *, required: bool = True) -> str:
        try:
            key = await asyncio.wait_for(self._keys.get(), timeout)
            if self._keys.empty():
                self._keyed.clear()
        except TimeoutError:
            if not required:
                return ""
            self.outcome = "no key"
            raise _CallerGone from None
        if key == "":
            raise _CallerGone
        return key

    async def _record_greeting(self) -> None:
        """5 at the end: a new personal greeting, recorded after the beep until #."""
        await self._say("record_greeting")
        await self._play_pcm(tone_pcm(BEEP_HZ, BEEP_SECONDS))
        fmt = self.media.format
        with tempfile.TemporaryDirectory(prefix="greeting-") as folder:
            path = Path(folder) / "greeting.wav"
            recorder = RtpRecorder(path, fmt.codec, payload_type=fmt.audio_pt)
            tap = recorder.write_packet
            self.media.add_tap(tap)
            try:
                while await self._key(timeout=GREETING_MAX_SECONDS, required=False) not in (
                        "#", ""):
                    pass
            finally:
                self.media.remove_tap(tap)
                recorder.close()
            saved = recorder.frames_written > 0 and await self.store.save_greeting(
                self.mailbox, path.read_bytes())
        self.outcome = "greeting recorded" if saved else "greeting refused"
        await self._say("greeting_saved" if saved else "greeting_refused")

    async def _entry(self) -> str:
        """Digits up to ``#`` (or ``*`` first: a request for another mailbox)."""
        digits = ""
        while len(digits) < MAX_ENTRY:
            key = await self._key()
            if key == "#":
                break
            if key == "*" and not digits:
                return "*"
            digits += key
        return digits

    # -- output ----------------------------------------------------------------------------------
    async def _say(self, name: str, **values: str) -> None:
        path = await self.prompts.get(name, self.language, self.media.format.codec,
                                      number=self.mailbox, **values)
        if path is not None:
            await self._play(path)

    async def _play_pcm(self, pcm: bytes) -> None:
        await self._play_player(RtpPlayer.from_pcm(pcm, self.media.format.codec))

    async def _play(self, path: Path) -> None:
        """Play ``path``; a key pressed meanwhile cuts it short (and is kept for the menu)."""
        try:
            player = RtpPlayer.from_wav(path, self.media.format.codec)
        except (OSError, WavError) as error:
            logger.warning("cannot play %s (%s)", path, error)
            return
        await self._play_player(player)

    async def _play_player(self, player: RtpPlayer) -> None:
        if self.media.closed:
            raise _CallerGone
        await play_until(self.relay, self.media, player, self._keyed)


class _CallerGone(Exception):
    pass
