"""The ORM implementation of ``softphone.pbx.storage.PbxStore`` (Django stays at this edge)."""

from __future__ import annotations

from collections.abc import Iterable

from asgiref.sync import sync_to_async
from django.db import transaction

from pbxweb.accounts.models import Extension
from softphone.models import Registration
from softphone.pbx.location import Binding
from softphone.pbx.storage import SipCredentials


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
        with transaction.atomic():
            for aor, contact in removals:
                Registration.objects.filter(aor=aor, contact=contact).delete()
            if upserts:
                Registration.objects.bulk_create(
                    [Registration(aor=b.aor, contact=b.contact, expires_at=b.expires_at,
                                  call_id=b.call_id, cseq=b.cseq, q=b.q, source=b.source[:128],
                                  user_agent=b.user_agent[:256]) for b in upserts],
                    update_conflicts=True,
                    unique_fields=["aor", "contact"],
                    update_fields=["expires_at", "call_id", "cseq", "q", "source", "user_agent"],
                )
