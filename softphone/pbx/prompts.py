"""Spoken prompts, generated from text with Debian's espeak-ng (no audio asset is shipped).

Each prompt is synthesised once into ``folder`` as an 8 kHz mono 16-bit WAV (espeak-ng's 22 kHz
output resampled with sox) and reused; the player encodes it to G.711 when it is loaded. When
espeak-ng or sox is missing the prompt is ``None`` and callers fall back to tones only — the
PBX keeps working, it only says less.

Texts are in Dutch and English (the extension's language decides); the default voicemail
greeting names the extension (SPEC.md S4).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import subprocess
from pathlib import Path

from softphone.media.g711 import Codec
from softphone.media.wav import WavError, WavFormat, WavWriter, read_wav_pcm16

__all__ = ["PROMPT_TEXTS", "Prompts"]

logger = logging.getLogger("softphone.prompts")

PROMPT_TEXTS: dict[str, dict[str, str]] = {
    "greeting": {
        "nl": "U bent verbonden met de voicemail van toestel {number}. Spreek uw bericht in "
              "na de toon. Druk hekje als u klaar bent.",
        "en": "You have reached the voicemail of extension {number}. Please leave a message "
              "after the tone. Press hash when you are done.",
    },
    "pin": {
        "nl": "Voicemail van toestel {number}. Geef uw pincode, gevolgd door hekje.",
        "en": "Voicemail of extension {number}. Enter your PIN, followed by hash.",
    },
    "mailbox_number": {
        "nl": "Geef het nummer van de voicemailbox, gevolgd door hekje.",
        "en": "Enter the mailbox number, followed by hash.",
    },
    "wrong_pin": {"nl": "Deze pincode is niet juist.", "en": "That PIN is not right."},
    "locked": {
        "nl": "Deze voicemailbox is tijdelijk geblokkeerd.",
        "en": "This mailbox is locked for a while.",
    },
    "goodbye": {"nl": "Tot ziens.", "en": "Goodbye."},
    "counts": {
        "nl": "U heeft {new} nieuwe en {saved} opgeslagen berichten.",
        "en": "You have {new} new and {saved} saved messages.",
    },
    "message": {
        "nl": "Bericht {index}, van {caller}, om {time}.",
        "en": "Message {index}, from {caller}, at {time}.",
    },
    "message_menu": {
        "nl": "Druk 1 om te herhalen, 2 voor het volgende bericht, 3 voor het vorige, "
              "7 om te wissen, 9 om te bewaren.",
        "en": "Press 1 to repeat, 2 for the next message, 3 for the previous one, "
              "7 to delete, 9 to save.",
    },
    "deleted": {"nl": "Bericht gewist.", "en": "Message deleted."},
    "no_more": {
        "nl": "Geen berichten meer. Druk 5 om uw begroeting op te nemen.",
        "en": "No more messages. Press 5 to record your greeting.",
    },
    "record_greeting": {
        "nl": "Spreek uw begroeting in na de toon. Druk hekje als u klaar bent.",
        "en": "Record your greeting after the tone. Press hash when you are done.",
    },
    "greeting_saved": {"nl": "Uw begroeting is bewaard.", "en": "Your greeting is saved."},
    "greeting_refused": {
        "nl": "Deze begroeting kon niet bewaard worden.",
        "en": "This greeting could not be saved.",
    },
    "mailbox_full": {
        "nl": "De voicemail van toestel {number} is vol. Probeer later opnieuw.",
        "en": "The voicemail of extension {number} is full. Please try again later.",
    },
}
_VOICES = {"nl": "nl", "en": "en"}
_SYNTH_TIMEOUT = 20.0


class Prompts:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.available = bool(shutil.which("espeak-ng") and shutil.which("sox"))
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, name: str, language: str, codec: Codec | None = None,
                  **values: str) -> Path | None:
        """The WAV of prompt ``name`` in ``language`` (nl/en), synthesised on first use;
        with ``codec``, the copy stored pre-encoded in that G.711 law (no transcoding when
        it is played)."""
        texts = PROMPT_TEXTS[name]
        language = language if language in texts else "nl"
        text = texts[language].format(**values)
        key = hashlib.sha256(f"{language}:{text}".encode()).hexdigest()[:16]
        path = self.folder / f"{name}-{language}-{key}.wav"
        if path.exists():
            return _variant(path, codec)
        if not self.available:
            return None
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if not path.exists():
                loop = asyncio.get_running_loop()
                ok = await loop.run_in_executor(None, _synthesise, text, _VOICES[language],
                                                path)
                if not ok:
                    return None
        return _variant(path, codec)


def _variant(path: Path, codec: Codec | None) -> Path:
    if codec is None:
        return path
    encoded = path.with_suffix(f".{codec.encoding_name.lower()}.wav")
    return encoded if encoded.exists() else path


def _synthesise(text: str, voice: str, path: Path) -> bool:
    """espeak-ng → sox (8 kHz, mono, 16-bit) → ``path``, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.wav")
    try:
        speech = subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "--stdout", text],
                                capture_output=True, timeout=_SYNTH_TIMEOUT, check=True).stdout
        subprocess.run(["sox", "-t", "wav", "-", "-r", "8000", "-c", "1", "-b", "16",
                        str(partial)], input=speech, capture_output=True,
                       timeout=_SYNTH_TIMEOUT, check=True)
        pcm = read_wav_pcm16(partial)
        for codec, fmt in ((Codec.PCMU, WavFormat.MULAW), (Codec.PCMA, WavFormat.ALAW)):
            encoded = path.with_suffix(f".{codec.encoding_name.lower()}.wav")
            writer = WavWriter(encoded.with_suffix(".partial"), fmt)
            writer.write(codec.encode(pcm))
            writer.close()
            encoded.with_suffix(".partial").replace(encoded)
        partial.replace(path)  # last: its existence says the prompt is complete
        return True
    except (OSError, subprocess.SubprocessError, WavError) as error:
        logger.warning("could not synthesise a prompt (%s); tones only", error)
        partial.unlink(missing_ok=True)
        return False
