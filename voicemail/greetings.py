"""A personal greeting upload (SPEC.md W13): checked by what the bytes are, not by the name or
the browser's content type, then converted by sox to what the engine plays (8 kHz, mono,
16-bit PCM WAV). The converted file is the only thing kept; the upload is thrown away."""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

SOX_TIMEOUT_SECONDS = 30
SAMPLE_RATE = 8000


class GreetingError(Exception):
    """The upload is not a usable greeting; the message is shown to the person (HTTP 400)."""

    status = 400


def sniff_audio_type(head: bytes) -> str | None:
    """sox's name for the container the bytes start with, or None for anything else."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    # An MP3 starts with an ID3v2 tag or straight with an MPEG audio frame (11 sync bits,
    # then a layer that is not "reserved").
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "mp3"
    return None


def convert_greeting(data: bytes) -> bytes:
    """The upload as an 8 kHz mono 16-bit WAV, or GreetingError saying why not."""
    max_bytes = settings.VOICEMAIL_GREETING_MAX_BYTES
    if len(data) > max_bytes:
        raise GreetingError(_("The greeting is too large (at most %(mb)s MB).")
                            % {"mb": round(max_bytes / 1024 / 1024, 1)})
    kind = sniff_audio_type(data[:16])
    if kind is None:
        raise GreetingError(_("This is not an audio file: upload a WAV, MP3 or OGG file."))
    max_seconds = settings.VOICEMAIL_GREETING_MAX_SECONDS
    with tempfile.TemporaryDirectory(prefix="greeting-") as folder:
        source, target = Path(folder) / f"upload.{kind}", Path(folder) / "greeting.wav"
        source.write_bytes(data)
        # `trim` bounds the work for a long upload: one second more than allowed is enough to
        # tell that it is too long.
        command = ["sox", "-q", "-t", kind, str(source), "-r", str(SAMPLE_RATE), "-c", "1",
                   "-b", "16", "-e", "signed-integer", "-t", "wav", str(target),
                   "trim", "0", str(max_seconds + 1)]
        try:
            subprocess.run(command, check=True, capture_output=True,
                           timeout=SOX_TIMEOUT_SECONDS)
            with wave.open(str(target), "rb") as audio:
                seconds = audio.getnframes() / audio.getframerate()
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, wave.Error, EOFError):
            raise GreetingError(_("This audio file cannot be read: upload a WAV, MP3 or OGG "
                                  "file.")) from None
        if seconds > max_seconds:
            raise GreetingError(_("The greeting is too long (at most %(seconds)s seconds).")
                                % {"seconds": f"{max_seconds:g}"})
        if seconds < 0.1:
            raise GreetingError(_("The greeting holds no sound."))
        return target.read_bytes()
