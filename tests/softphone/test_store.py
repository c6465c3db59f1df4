"""The ORM store behind the engine."""

from __future__ import annotations

import pytest

from pbxweb.accounts import actions
from softphone.sip.digest import ha1_md5
from softphone.store import OrmStore

pytestmark = pytest.mark.django_db(transaction=True)


async def test_all_sip_credentials_lists_active_extensions_with_a_sip_password() -> None:
    from asgiref.sync import sync_to_async

    def create() -> None:
        actions.do_create_extension(actions.NewExtension(number="301", sip_password="s-301"),
                                    send_welcome=False)
        gone = actions.do_create_extension(
            actions.NewExtension(number="302", sip_password="s-302"), send_welcome=False)
        gone.is_active = False
        gone.save()

    await sync_to_async(create)()
    store = OrmStore()
    loaded = {c.username: c for c in await store.all_sip_credentials()}
    assert set(loaded) == {"301"}
    assert loaded["301"].ha1_md5 == ha1_md5("301", loaded["301"].realm, "s-301")
    assert await store.sip_credentials("302") is None


async def test_save_bindings_upserts_and_removes() -> None:
    from softphone.models import Registration
    from softphone.pbx.location import Binding

    store = OrmStore()
    first = Binding("301", "sip:301@10.0.0.1", 2000.0, "call-a", 1, 0.5, "udp:10.0.0.1:5060",
                    "Phone/1.0")
    other = Binding("301", "sip:301@10.0.0.2", 2000.0, "call-b", 1)
    await store.save_bindings([first, other], [])
    refreshed = Binding("301", "sip:301@10.0.0.1", 3000.0, "call-a", 2, 0.5,
                        "udp:10.0.0.1:5060", "Phone/1.0")
    await store.save_bindings([refreshed], [("301", "sip:301@10.0.0.2")])
    assert await store.load_bindings() == [refreshed]
    row = await Registration.objects.aget(aor="301")
    assert row.updated_at is not None and row.cseq == 2


async def test_save_call_record_writes_one_row_per_call_and_updates_it() -> None:
    from datetime import UTC, datetime

    from pbxweb.history.models import CallRecord as CallRecordRow
    from softphone.pbx.cdr import CallDirection, CallRecord, Disposition

    store = OrmStore()
    record = CallRecord(
        call_id="c7-0a1b2c3d", direction=CallDirection.INBOUND, caller_number="+3250123456",
        callee_number="201", started_at=1_772_442_000.25, caller_name="Bibliotheek",
        callee_name="Onthaal", callee_extension="201", disposition=Disposition.MISSED,
        status_code=480, ended_by="timeout", ended_at=1_772_442_025.25,
        answered_device="x" * 300)
    await store.save_call_record(record)
    row = await CallRecordRow.objects.aget(call_id="c7-0a1b2c3d")
    assert (row.direction, row.disposition, row.status_code, row.ended_by) == (
        "inbound", "missed", 480, "timeout")
    assert (row.caller_number, row.caller_name, row.caller_extension) == (
        "+3250123456", "Bibliotheek", None)
    assert (row.callee_number, row.callee_name, row.callee_extension) == (
        "201", "Onthaal", "201")
    assert row.started_at == datetime(2026, 3, 2, 9, 0, 0, 250000, tzinfo=UTC)
    assert row.ended_at == datetime(2026, 3, 2, 9, 0, 25, 250000, tzinfo=UTC)
    assert row.answered_at is None and row.duration_seconds == 0.0
    assert row.answered_device == "x" * 256  # cut to the column, not refused
    assert row.transfers == [] and not row.seen

    # The same call saved again (answered after all, then transferred) updates the row; the
    # user's "seen" mark stays.
    row.seen = True
    await row.asave(update_fields=["seen"])
    record.disposition = Disposition.ANSWERED
    record.answered_by, record.answered_device = "203", "Yealink T54W"
    record.answered_at, record.ended_at = 1_772_442_010.0, 1_772_442_100.5
    record.transfers.append("203 -> 204 (blind)")
    await store.save_call_record(record)
    assert await CallRecordRow.objects.acount() == 1
    row = await CallRecordRow.objects.aget(call_id="c7-0a1b2c3d")
    assert (row.disposition, row.answered_by, row.answered_device) == (
        "answered", "203", "Yealink T54W")
    assert row.answered_at == datetime(2026, 3, 2, 9, 0, 10, tzinfo=UTC)
    assert row.duration_seconds == pytest.approx(90.5)
    assert row.transfers == ["203 -> 204 (blind)"] and row.seen


async def test_save_call_records_writes_a_batch_all_or_nothing() -> None:
    from pbxweb.history.models import CallRecord as CallRecordRow
    from softphone.pbx.cdr import CallDirection, CallRecord

    store = OrmStore()
    batch = [CallRecord(call_id=f"b{i}", direction=CallDirection.INTERNAL,
                        caller_number="201", callee_number="202", started_at=1_772_442_000.0)
             for i in range(3)]
    await store.save_call_records(batch)
    assert await CallRecordRow.objects.acount() == 3
    # A record that cannot be written (here: a transfer entry that is not JSON) fails the
    # whole batch: nothing of it is half-written, and the writer keeps the batch to retry.
    bad = [CallRecord(call_id="b9", direction=CallDirection.INTERNAL, caller_number="201",
                      callee_number="202", started_at=1_772_442_000.0),
           CallRecord(call_id="b10", direction=CallDirection.INTERNAL,
                      caller_number="201", callee_number="202",
                      started_at=1_772_442_000.0, transfers=[object()])]  # type: ignore[list-item]
    with pytest.raises(TypeError):
        await store.save_call_records(bad)
    assert not await CallRecordRow.objects.filter(call_id="b9").aexists()


# --- call settings and trunks (dialplan) ----------------------------------------------------

async def test_extension_info_gives_call_settings_of_active_extensions_only() -> None:
    from asgiref.sync import sync_to_async

    from pbxweb.accounts.models import Extension
    from softphone.pbx.storage import DEFAULT_RING_SECONDS, ExtensionInfo, OutboundPermission

    def create() -> None:
        actions.do_create_extension(actions.NewExtension(
            number="311", first_name="Burgerzaken", last_name="Loket"), send_welcome=False)
        Extension.objects.filter(number="311").update(
            ring_seconds=40, outbound_permission="international")
        actions.do_create_extension(actions.NewExtension(number="312"), send_welcome=False)
        gone = actions.do_create_extension(actions.NewExtension(number="313"),
                                           send_welcome=False)
        gone.is_active = False
        gone.save()

    await sync_to_async(create)()
    store = OrmStore()
    assert await store.extension_info("311") == ExtensionInfo(
        "311", "Burgerzaken Loket", 40, OutboundPermission.INTERNATIONAL)
    # No name: the number stands in; a new extension gets the defaults.
    assert await store.extension_info("312") == ExtensionInfo(
        "312", "312", DEFAULT_RING_SECONDS, OutboundPermission.NATIONAL)
    assert await store.extension_info("313") is None
    assert await store.extension_info("399") is None


async def test_trunks_lists_enabled_trunks_with_dids_of_active_extensions() -> None:
    from asgiref.sync import sync_to_async

    from softphone.models import Trunk, TrunkDid
    from softphone.pbx.storage import TrunkConfig

    def create() -> None:
        reception = actions.do_create_extension(actions.NewExtension(number="321"),
                                                send_welcome=False)
        gone = actions.do_create_extension(actions.NewExtension(number="322"),
                                           send_welcome=False)
        gone.is_active = False
        gone.save()
        trunk = Trunk.objects.create(
            name="carrier", host="sip.carrier.example", port=5061, transport="tls",
            username="3250123400", password="carrier-secret", realm="carrier.example",
            register_expires=600, outbound_caller_id="+3250123400",
            from_domain="carrier.example")
        TrunkDid.objects.create(trunk=trunk, number="+3250123400", extension=reception)
        TrunkDid.objects.create(trunk=trunk, number="+3250123422", extension=gone)
        spare = Trunk.objects.create(name="spare", host="sip.other.example", enabled=False)
        TrunkDid.objects.create(trunk=spare, number="+3250999999", extension=reception)

    await sync_to_async(create)()
    assert await OrmStore().trunks() == [TrunkConfig(
        name="carrier", host="sip.carrier.example", port=5061, transport="tls",
        username="3250123400", password="carrier-secret", realm="carrier.example",
        register=True, register_expires=600, outbound_caller_id="+3250123400",
        from_domain="carrier.example", dids={"+3250123400": "321"})]


async def test_no_trunk_configured_means_no_trunks() -> None:
    assert await OrmStore().trunks() == []
