"""The ORM implementation of ``softphone.pbx.storage.PbxStore`` (Django stays at this edge)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from pbxweb.accounts.models import Extension
from pbxweb.history import models as history
from softphone.models import Registration, Trunk, TrunkDid
from softphone.pbx.cdr import CallRecord
from softphone.pbx.location import Binding
from softphone.pbx.storage import (
    PIN_LOCKOUT_FAILURES,
    ExtensionInfo,
    MailboxInfo,
    OutboundPermission,
    PinCheck,
    SipCredentials,
    StoredMessage,
    TrunkConfig,
    VoicemailSlot,
    VoicemailStart,
)
from voicemail.models import Message, MessageState
from voicemail.storage import voicemail_storage

WAV_HEADER_BYTES = 44  # the canonical RIFF/WAVE header our recorder writes
PIN_LOCKOUT_SECONDS = 15 * 60  # wrong voicemail PINs are counted over this window


class OrmStore:
    async def sip_credentials(self, username: str) -> SipCredentials | None:
        return await sync_to_async(self._sip_credentials, thread_sensitive=False)(username)

    def _sip_credentials(self, username: str) -> SipCredentials | None:
        row = (
            Extension.objects.filter(number=username, is_active=True)
            .values("number", "sip_realm", "sip_ha1_md5", "sip_ha1_sha256")
            .first()
        )
        if row is None or not row["sip_ha1_md5"]:
            return None
        return SipCredentials(row["number"], row["sip_realm"], row["sip_ha1_md5"],
                              row["sip_ha1_sha256"])

    async def all_sip_credentials(self) -> list[SipCredentials]:
        return await sync_to_async(self._all_sip_credentials, thread_sensitive=False)()

    def _all_sip_credentials(self) -> list[SipCredentials]:
        rows = (Extension.objects.filter(is_active=True).exclude(sip_ha1_md5="")
                .values_list("number", "sip_realm", "sip_ha1_md5", "sip_ha1_sha256"))
        return [SipCredentials(*row) for row in rows]

    async def extension_info(self, number: str) -> ExtensionInfo | None:
        return await sync_to_async(self._extension_info, thread_sensitive=False)(number)

    def _extension_info(self, number: str) -> ExtensionInfo | None:
        extension = (Extension.objects.filter(number=number, is_active=True)
                     .only("number", "first_name", "last_name", "ring_seconds",
                           "outbound_permission").first())
        if extension is None:
            return None
        return ExtensionInfo(number=extension.number, display_name=extension.display_name,
                             ring_seconds=extension.ring_seconds,
                             outbound=OutboundPermission(extension.outbound_permission))

    async def trunks(self) -> list[TrunkConfig]:
        return await sync_to_async(self._trunks, thread_sensitive=False)()

    def _trunks(self) -> list[TrunkConfig]:
        # A DID of a deactivated extension is left out: its calls would reach nobody anyway.
        dids: dict[int, dict[str, str]] = {}
        for trunk_id, did, extension in (
                TrunkDid.objects.filter(trunk__enabled=True, extension__is_active=True)
                .values_list("trunk_id", "number", "extension__number")):
            dids.setdefault(trunk_id, {})[did] = extension
        return [
            TrunkConfig(name=t.name, host=t.host, port=t.port, transport=t.transport,
                        username=t.username, password=t.password, realm=t.realm,
                        register=t.register, register_expires=t.register_expires,
                        outbound_caller_id=t.outbound_caller_id, from_domain=t.from_domain,
                        dids=dids.get(t.pk, {}))
            for t in Trunk.objects.filter(enabled=True)
        ]

    async def load_bindings(self) -> list[Binding]:
        return await sync_to_async(self._load_bindings, thread_sensitive=False)()

    def _load_bindings(self) -> list[Binding]:
        return [
            Binding(aor=r.aor, contact=r.contact, expires_at=r.expires_at, call_id=r.call_id,
                    cseq=r.cseq, q=r.q, source=r.source, user_agent=r.user_agent)
            for r in Registration.objects.all()
        ]

    async def save_bindings(self, upserts: Iterable[Binding],
                            removals: Iterable[tuple[str, str]]) -> None:
        await sync_to_async(self._save_bindings, thread_sensitive=False)(
            list(upserts), list(removals))

    def _save_bindings(self, upserts: list[Binding], removals: list[tuple[str, str]]) -> None:
        # One executemany upsert instead of the ORM's bulk_create: the registrar writes
        # hundreds of rows a second under a registration burst, and the ORM's per-row
        # compilation cost the engine's event loop a tenth of its CPU (GIL). Portable SQL:
        # ON CONFLICT ... DO UPDATE works on SQLite >= 3.24 and PostgreSQL.
        table = connection.ops.quote_name(Registration._meta.db_table)
        now = timezone.now()
        # Only the model's own table name is formatted in; every value is a parameter.
        delete = f"DELETE FROM {table} WHERE aor = %s AND contact = %s"  # noqa: S608
        upsert = (
            f"INSERT INTO {table} (aor, contact, expires_at, call_id, cseq, q, source,"  # noqa: S608
            " user_agent, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (aor, contact) DO UPDATE SET expires_at = excluded.expires_at,"
            " call_id = excluded.call_id, cseq = excluded.cseq, q = excluded.q,"
            " source = excluded.source, user_agent = excluded.user_agent,"
            " updated_at = excluded.updated_at")
        with transaction.atomic(), connection.cursor() as cursor:
            if removals:
                cursor.executemany(delete, removals)
            if upserts:
                cursor.executemany(
                    upsert,
                    [(b.aor, b.contact[:512], b.expires_at, b.call_id[:256], b.cseq, b.q,
                      b.source[:128], b.user_agent[:256], now) for b in upserts])

    async def save_call_record(self, record: CallRecord) -> None:
        await sync_to_async(self._save_call_record, thread_sensitive=False)(record)

    async def save_call_records(self, records: list[CallRecord]) -> None:
        await sync_to_async(self._save_call_records, thread_sensitive=False)(records)

    # -- voicemail ----------------------------------------------------------------------------
    async def mailbox(self, number: str) -> MailboxInfo | None:
        return await sync_to_async(self._mailbox, thread_sensitive=False)(number)

    def _mailbox(self, number: str) -> MailboxInfo | None:
        if not settings.VOICEMAIL_ENABLED:
            return None
        extension = Extension.objects.filter(number=number, is_active=True).first()
        if extension is None:
            return None
        kept = Message.objects.filter(mailbox=extension).exclude(
            state=MessageState.RECORDING).count()
        from voicemail.models import MailboxSettings, OrganisationGreeting

        return MailboxInfo(
            number=extension.number, display_name=extension.display_name,
            language=extension.language,
            # The personal greeting, else the organisation's, else (None) the generated one.
            greeting_path=(MailboxSettings.of(extension.pk).greeting_path()
                           or OrganisationGreeting.current_path()),
            max_seconds=settings.VOICEMAIL_MAX_SECONDS,
            min_seconds=settings.VOICEMAIL_MIN_SECONDS,
            silence_seconds=settings.VOICEMAIL_SILENCE_SECONDS,
            full=kept >= settings.VOICEMAIL_MAX_MESSAGES)

    async def open_voicemail(self, start: VoicemailStart) -> VoicemailSlot:
        return await sync_to_async(self._open_voicemail, thread_sensitive=False)(start)

    def _open_voicemail(self, start: VoicemailStart) -> VoicemailSlot:
        storage = voicemail_storage()
        name = f"messages/{uuid.uuid4().hex}.wav"  # generated: nothing of the caller's
        path = Path(storage.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        message = Message.objects.create(
            mailbox=Extension.objects.get(number=start.mailbox), call_id=start.call_id[:64],
            caller_number=start.caller_number[:128], caller_name=start.caller_name[:128],
            started_at=_aware(start.started_at), state=MessageState.RECORDING, audio=name)
        return VoicemailSlot(message.pk, str(path))

    async def close_voicemail(self, message_id: int, duration: float, keep: bool) -> None:
        await sync_to_async(self._close_voicemail, thread_sensitive=False)(
            message_id, duration, keep)

    def _close_voicemail(self, message_id: int, duration: float, keep: bool) -> None:
        message = Message.objects.filter(pk=message_id).first()
        if message is None:
            return
        if keep:
            message.duration_seconds = duration
            message.state = MessageState.NEW
            message.save(update_fields=["duration_seconds", "state"])
            from voicemail.actions import message_left

            message_left(message.pk)  # the owner's email, once committed
        else:
            message.audio.delete(save=False)
            message.delete()

    async def voicemail_counts(self, number: str) -> tuple[int, int]:
        counts = await sync_to_async(self._voicemail_counts, thread_sensitive=False)(number)
        return counts.get(number, (0, 0))

    async def all_voicemail_counts(self) -> dict[str, tuple[int, int]]:
        return await sync_to_async(self._voicemail_counts, thread_sensitive=False)(None)

    def _voicemail_counts(self, number: str | None) -> dict[str, tuple[int, int]]:
        """(new, saved) per mailbox number: of one mailbox, or of all (``None``)."""
        counts: dict[str, tuple[int, int]] = {}
        messages = Message.objects.exclude(state=MessageState.RECORDING)
        if number is not None:
            messages = messages.filter(mailbox__number=number)
        rows = messages.values_list("mailbox__number", "state").annotate(n=Count("id"))
        for number, state, n in rows:
            new, saved = counts.get(number, (0, 0))
            counts[number] = (new + n, saved) if state == MessageState.NEW else (new, saved + n)
        return counts

    async def check_voicemail_pin(self, number: str, pin: str) -> PinCheck:
        return await sync_to_async(self._check_voicemail_pin, thread_sensitive=False)(
            number, pin)

    def _check_voicemail_pin(self, number: str, pin: str) -> PinCheck:
        key = f"voicemail-pin-failures:{number}"
        failures = cache.get(key, 0)
        if failures >= PIN_LOCKOUT_FAILURES:
            return PinCheck.LOCKED
        extension = Extension.objects.filter(number=number, is_active=True).first()
        if extension is not None and pin.isdigit() and extension.check_pin(pin):
            cache.delete(key)
            return PinCheck.OK
        cache.set(key, failures + 1, PIN_LOCKOUT_SECONDS)
        return PinCheck.WRONG

    async def voicemail_messages(self, number: str) -> list[StoredMessage]:
        return await sync_to_async(self._voicemail_messages, thread_sensitive=False)(number)

    def _voicemail_messages(self, number: str) -> list[StoredMessage]:
        rows = Message.objects.listed().filter(mailbox__number=number)
        messages = [StoredMessage(m.pk, m.caller_number, m.caller_name,
                                  m.started_at.timestamp(), m.duration_seconds,
                                  m.audio.path, m.state == MessageState.NEW) for m in rows]
        return sorted(messages, key=lambda m: (not m.new, m.started_at))

    async def set_voicemail_saved(self, message_id: int) -> None:
        await sync_to_async(self._set_voicemail_saved, thread_sensitive=False)(message_id)

    def _set_voicemail_saved(self, message_id: int) -> None:
        message = Message.objects.filter(pk=message_id, state=MessageState.NEW).first()
        if message is not None:  # save(), not update(): the owner's browser hears of it
            message.state = MessageState.SAVED
            message.save(update_fields=["state"])

    async def save_greeting(self, number: str, wav: bytes) -> bool:
        return await sync_to_async(self._save_greeting, thread_sensitive=False)(number, wav)

    def _save_greeting(self, number: str, wav: bytes) -> bool:
        from voicemail.actions import do_set_greeting
        from voicemail.greetings import GreetingError

        extension = Extension.objects.filter(number=number, is_active=True).first()
        if extension is None:
            return False
        try:
            do_set_greeting(extension.pk, wav)  # the same checks and conversion as an upload
        except GreetingError:
            return False
        return True

    async def delete_voicemail(self, message_id: int) -> None:
        await sync_to_async(self._delete_voicemail, thread_sensitive=False)(message_id)

    def _delete_voicemail(self, message_id: int) -> None:
        message = Message.objects.filter(pk=message_id).first()
        if message is not None:
            message.audio.delete(save=False)
            message.delete()

    async def recover_voicemail(self) -> int:
        return await sync_to_async(self._recover_voicemail, thread_sensitive=False)()

    def _recover_voicemail(self) -> int:
        """Messages left "recording" by a crash: the recorder synced the WAV header at most a
        second before, and the data that reached the file counts (16-bit PCM, 8 kHz)."""
        recovered = 0
        for message in Message.objects.filter(state=MessageState.RECORDING):
            try:
                size = Path(message.audio.path).stat().st_size
            except (OSError, ValueError):
                size = 0
            duration = max(0, size - WAV_HEADER_BYTES) / (2 * 8000)
            self._close_voicemail(message.pk, duration,
                                  keep=duration >= settings.VOICEMAIL_MIN_SECONDS)
            recovered += 1
        return recovered

    def _save_call_records(self, records: list[CallRecord]) -> None:
        with transaction.atomic():
            for record in records:
                self._save_call_record(record)

    def _save_call_record(self, record: CallRecord) -> None:
        # Keyed on call_id: a call saved twice (a retry, a late BYE) stays one row, and the
        # user's ``seen`` mark survives. Strings are cut to their columns because PostgreSQL
        # refuses what SQLite would store, and a long User-Agent must not lose the record.
        history.CallRecord.objects.update_or_create(call_id=record.call_id, defaults={
            "direction": str(record.direction),
            "caller_number": record.caller_number[:128],
            "caller_name": record.caller_name[:128],
            "callee_number": record.callee_number[:128],
            "callee_name": record.callee_name[:128],
            "caller_extension": record.caller_extension,
            "callee_extension": record.callee_extension,
            "answered_by": record.answered_by[:128],
            "answered_device": record.answered_device[:256],
            "started_at": _aware(record.started_at),
            "answered_at": None if record.answered_at is None else _aware(record.answered_at),
            "ended_at": None if record.ended_at is None else _aware(record.ended_at),
            "duration_seconds": record.duration,
            "disposition": str(record.disposition),
            "status_code": record.status_code,
            "ended_by": record.ended_by[:32],
            "transfers": list(record.transfers),
        })


def _aware(epoch: float) -> datetime:
    """Wall-clock epoch seconds (the engine's clock) as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, tz=UTC)
