"""What call control needs from storage, as a small interface (ARCHITECTURE.md).

``softphone/store.py`` implements it with the Django ORM; tests may use ``MemoryStore``.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from softphone.pbx.cdr import CallRecord
from softphone.pbx.location import Binding


@dataclass(frozen=True, slots=True)
class SipCredentials:
    """What digest authentication needs: HA1 values only (RFC 7616 §3.4.2)."""

    username: str
    realm: str
    ha1_md5: str
    ha1_sha256: str


class OutboundPermission(enum.StrEnum):
    """How far an extension may call out through the trunk (toll-fraud guard, SPEC.md E2)."""

    INTERNAL = "internal"  # extensions only
    NATIONAL = "national"  # + Belgian numbers (no premium 090x)
    INTERNATIONAL = "international"  # + everything


DEFAULT_RING_SECONDS = 25
PIN_LOCKOUT_FAILURES = 6  # wrong voicemail PINs (two calls' worth) before a mailbox locks


@dataclass(frozen=True, slots=True)
class ExtensionInfo:
    """What call control needs to know of an extension besides its credentials."""

    number: str
    display_name: str = ""
    ring_seconds: int = DEFAULT_RING_SECONDS  # no answer after this: 480 (voicemail later)
    outbound: OutboundPermission = OutboundPermission.NATIONAL


@dataclass(frozen=True, slots=True)
class TrunkConfig:
    """One SIP trunk to the carrier, as plain values (``softphone.models.Trunk``).

    ``password`` is the carrier's digest password in clear: we are the digest *client* on a
    trunk and the carrier chooses the realm, so an HA1 cannot be prepared in advance.
    """

    name: str
    host: str
    port: int = 5060
    transport: str = "udp"  # "udp", "tcp" or "tls"
    username: str = ""
    password: str = ""
    realm: str = ""  # empty: answer whichever realm the carrier challenges with
    register: bool = True
    register_expires: int = 300
    outbound_caller_id: str = ""  # E.164, presented on outgoing calls without a DID of their own
    from_domain: str = ""  # empty: the trunk's host
    dids: dict[str, str] = field(default_factory=dict)  # E.164 DID -> extension number


@dataclass(frozen=True, slots=True)
class MailboxInfo:
    """An extension's voicemail box, as call control needs it (``voicemail.models``)."""

    number: str
    display_name: str = ""
    language: str = "nl"
    greeting_path: str | None = None  # the personal greeting (8 kHz mono WAV), if any
    max_seconds: float = 120.0  # a message is cut off after this
    min_seconds: float = 1.0  # shorter ones are hang-ups and are not kept
    full: bool = False  # the quota is reached: callers hear "mailbox full"
    silence_seconds: float = 10.0  # this long without speech ends a message


@dataclass(frozen=True, slots=True)
class VoicemailStart:
    mailbox: str
    call_id: str
    caller_number: str
    caller_name: str
    started_at: float  # wall-clock epoch seconds


@dataclass(frozen=True, slots=True)
class VoicemailSlot:
    """Where a message being recorded goes: its row (state "recording") and its file."""

    message_id: int
    path: str


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message in a mailbox, as the 999 menu reads it out."""

    message_id: int
    caller_number: str
    caller_name: str
    started_at: float  # wall-clock epoch seconds
    duration: float
    path: str
    new: bool


class PinCheck(enum.StrEnum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"  # too many wrong PINs for this mailbox lately


class PbxStore(Protocol):
    async def sip_credentials(self, username: str) -> SipCredentials | None: ...

    async def all_sip_credentials(self) -> list[SipCredentials]:
        """Every active extension's credentials at once (warms the engine's cache)."""
        ...

    async def load_bindings(self) -> list[Binding]: ...

    async def save_bindings(self, upserts: Iterable[Binding],
                            removals: Iterable[tuple[str, str]]) -> None:
        """Persist changed bindings and removed ``(aor, contact)`` pairs in one go."""
        ...

    async def extension_info(self, number: str) -> ExtensionInfo | None:
        """An active extension's call settings, or None if there is no such extension."""
        ...

    async def save_call_record(self, record: CallRecord) -> None:
        """Write one finished call attempt (``cdr.py``)."""
        ...

    async def save_call_records(self, records: list[CallRecord]) -> None:
        """Write finished call attempts in one transaction (all or none)."""
        ...

    async def trunks(self) -> list[TrunkConfig]:
        """Every enabled SIP trunk with its DIDs (inbound routing by called number)."""
        ...

    async def mailbox(self, number: str) -> MailboxInfo | None:
        """The voicemail box of an extension, or None (no such extension or switched off)."""
        ...

    async def open_voicemail(self, start: VoicemailStart) -> VoicemailSlot:
        """Create the message row (state "recording") and reserve its file, before the first
        frame is written: a crash mid-recording leaves a row to recover."""
        ...

    async def close_voicemail(self, message_id: int, duration: float, keep: bool) -> None:
        """The recording ended: the message becomes new (or is removed if not ``keep``)."""
        ...

    async def voicemail_counts(self, number: str) -> tuple[int, int]:
        """(new, saved) messages in ``number``'s mailbox."""
        ...

    async def all_voicemail_counts(self) -> dict[str, tuple[int, int]]:
        """(new, saved) of every mailbox that holds messages, in one query."""
        ...

    async def check_voicemail_pin(self, number: str, pin: str) -> PinCheck:
        """The mailbox PIN (hashed on the extension); wrong ones count towards a lockout."""
        ...

    async def voicemail_messages(self, number: str) -> list[StoredMessage]:
        """New messages first, then saved ones; oldest first within each."""
        ...

    async def set_voicemail_saved(self, message_id: int) -> None: ...

    async def save_greeting(self, number: str, wav: bytes) -> bool:
        """Keep a greeting recorded by phone as ``number``'s personal one; False if refused
        (too long, not audio)."""
        ...

    async def delete_voicemail(self, message_id: int) -> None: ...

    async def recover_voicemail(self) -> int:
        """At engine start: finish messages a crash left "recording" (their file holds what
        was recorded up to the last second); returns how many."""
        ...


class MemoryStore:
    """A PbxStore in memory, for tests of call control without a database."""

    def __init__(self, credentials: Iterable[SipCredentials] = (),
                 extensions: Iterable[ExtensionInfo] = (),
                 trunks: Iterable[TrunkConfig] = (),
                 mailboxes: Iterable[MailboxInfo] = (), spool: str | None = None) -> None:
        self.trunk_configs = list(trunks)
        self.mailboxes = {m.number: m for m in mailboxes}
        self.spool = spool  # folder for message files (tests: a tmp_path)
        self.voicemails: dict[int, dict[str, object]] = {}
        self.pins: dict[str, str] = {}
        self.greetings: dict[str, bytes] = {}
        self.pin_failures: dict[str, int] = {}
        self.credentials = {c.username: c for c in credentials}
        self.bindings: dict[tuple[str, str], Binding] = {}
        self.extensions = {e.number: e for e in extensions}
        self.call_records: list[CallRecord] = []

    async def sip_credentials(self, username: str) -> SipCredentials | None:
        return self.credentials.get(username)

    async def all_sip_credentials(self) -> list[SipCredentials]:
        return list(self.credentials.values())

    async def load_bindings(self) -> list[Binding]:
        return list(self.bindings.values())

    async def save_bindings(self, upserts: Iterable[Binding],
                            removals: Iterable[tuple[str, str]]) -> None:
        for aor, contact in removals:
            self.bindings.pop((aor, contact), None)
        for binding in upserts:
            self.bindings[(binding.aor, binding.contact)] = binding

    async def extension_info(self, number: str) -> ExtensionInfo | None:
        info = self.extensions.get(number)
        if info is None and number in self.credentials:
            return ExtensionInfo(number)
        return info

    async def save_call_record(self, record: CallRecord) -> None:
        self.call_records.append(record)

    async def save_call_records(self, records: list[CallRecord]) -> None:
        self.call_records.extend(records)

    async def trunks(self) -> list[TrunkConfig]:
        return list(self.trunk_configs)

    async def mailbox(self, number: str) -> MailboxInfo | None:
        return self.mailboxes.get(number)

    async def open_voicemail(self, start: VoicemailStart) -> VoicemailSlot:
        message_id = len(self.voicemails) + 1
        path = os.path.join(self.spool or ".", f"message-{message_id}.wav")
        self.voicemails[message_id] = {"start": start, "path": path, "state": "recording"}
        return VoicemailSlot(message_id, path)

    async def close_voicemail(self, message_id: int, duration: float, keep: bool) -> None:
        message = self.voicemails[message_id]
        message["duration"] = duration
        message["state"] = "new" if keep else "dropped"

    async def recover_voicemail(self) -> int:
        stale = [m for m in self.voicemails.values() if m["state"] == "recording"]
        for message in stale:
            message["state"] = "new"
        return len(stale)

    async def voicemail_counts(self, number: str) -> tuple[int, int]:
        return (await self.all_voicemail_counts()).get(number, (0, 0))

    async def all_voicemail_counts(self) -> dict[str, tuple[int, int]]:
        counts: dict[str, tuple[int, int]] = {}
        for message in self.voicemails.values():
            start = message["start"]
            assert isinstance(start, VoicemailStart)
            new, saved = counts.get(start.mailbox, (0, 0))
            if message["state"] == "new":
                counts[start.mailbox] = (new + 1, saved)
            elif message["state"] == "saved":
                counts[start.mailbox] = (new, saved + 1)
        return counts

    async def check_voicemail_pin(self, number: str, pin: str) -> PinCheck:
        if self.pin_failures.get(number, 0) >= PIN_LOCKOUT_FAILURES:
            return PinCheck.LOCKED
        if number in self.pins and self.pins[number] == pin:
            self.pin_failures.pop(number, None)
            return PinCheck.OK
        self.pin_failures[number] = self.pin_failures.get(number, 0) + 1
        return PinCheck.WRONG

    async def voicemail_messages(self, number: str) -> list[StoredMessage]:
        out = []
        for message_id, message in self.voicemails.items():
            start = message["start"]
            assert isinstance(start, VoicemailStart)
            if start.mailbox != number or message["state"] not in ("new", "saved"):
                continue
            out.append(StoredMessage(message_id, start.caller_number, start.caller_name,
                                     start.started_at, float(message.get("duration", 0.0)),  # type: ignore[arg-type]
                                     str(message["path"]), message["state"] == "new"))
        return sorted(out, key=lambda m: (not m.new, m.started_at))

    async def set_voicemail_saved(self, message_id: int) -> None:
        if message_id in self.voicemails:
            self.voicemails[message_id]["state"] = "saved"

    async def delete_voicemail(self, message_id: int) -> None:
        if message_id in self.voicemails:
            self.voicemails[message_id]["state"] = "deleted"

    async def save_greeting(self, number: str, wav: bytes) -> bool:
        self.greetings[number] = wav
        return True
