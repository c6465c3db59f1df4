"""Messages and audio files for the voicemail tests (role names only)."""

from __future__ import annotations

import wave
from datetime import UTC, datetime
from pathlib import Path

from pbxweb.accounts.models import Extension
from voicemail.models import Message, MessageState
from voicemail.storage import voicemail_storage


def wav_bytes(path: Path, *, seconds: float, rate: int = 8000, channels: int = 1) -> bytes:
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(channels)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"\x10\x00" * channels * int(rate * seconds))
    return path.read_bytes()


def stored_message(owner: Extension, *, seconds: float = 1.0, state: str = MessageState.NEW,
                   started_at: datetime | None = None, caller: str = "+3250123456") -> Message:
    index = Message.objects.count()
    name = f"messages/test-{owner.number}-{index}.wav"
    path = Path(voicemail_storage().path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    wav_bytes(path, seconds=seconds)
    return Message.objects.create(
        mailbox=owner, call_id=f"call-{owner.number}-{index}", caller_number=caller,
        caller_name="Caller outside",
        started_at=started_at or datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        duration_seconds=seconds, state=state, audio=name)
