"""One extension's call history: the four filters, newest first, and the missed-call badge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from pbxweb.history.models import CallRecord, Direction, Disposition, HistoryFilter
from softphone.pbx import cdr

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_ids = count(1)


def call(caller: str, callee: str, disposition: Disposition = Disposition.ANSWERED, *,
         minute: int, seen: bool = False) -> CallRecord:
    """A call between two parties; three-digit numbers are our extensions, others external."""
    caller_extension = caller if len(caller) == 3 else None
    callee_extension = callee if len(callee) == 3 else None
    if caller_extension and callee_extension:
        direction = Direction.INTERNAL
    elif callee_extension:
        direction = Direction.INBOUND
    else:
        direction = Direction.OUTBOUND
    return CallRecord.objects.create(
        call_id=f"c{next(_ids)}", direction=direction, caller_number=caller,
        callee_number=callee, caller_extension=caller_extension,
        callee_extension=callee_extension, started_at=T0 + timedelta(minutes=minute),
        disposition=disposition, seen=seen)


def ids(records: object) -> list[str]:
    return [r.call_id for r in records]  # type: ignore[attr-defined]


@pytest.fixture
def calls() -> dict[str, CallRecord]:
    """Extension 201's morning, plus calls of others that must never show up in it."""
    return {
        "in_answered": call("202", "201", minute=1),
        "out_answered": call("201", "203", minute=2),
        "in_external_missed": call("+3250123456", "201", Disposition.MISSED, minute=3),
        "out_external_cancelled": call("201", "+32470123456", Disposition.CANCELLED, minute=4),
        "in_busy": call("203", "201", Disposition.BUSY, minute=5),
        "in_failed": call("+3221234567", "201", Disposition.FAILED, minute=6),
        "out_blocked": call("201", "+44900123456", Disposition.BLOCKED, minute=7),
        "out_missed": call("201", "202", Disposition.MISSED, minute=8),
        "others": call("202", "203", Disposition.MISSED, minute=9),
        "others_external": call("+3250999999", "202", Disposition.CANCELLED, minute=10),
        "others_out": call("203", "+3250999999", Disposition.CANCELLED, minute=11),
    }


def test_choices_mirror_the_engine_enums() -> None:
    assert set(Direction.values) == {d.value for d in cdr.CallDirection}
    assert set(Disposition.values) == {d.value for d in cdr.Disposition}


def test_all_calls_of_an_extension_from_either_side_newest_first(calls) -> None:
    assert ids(CallRecord.objects.for_extension("201")) == [
        calls[name].call_id for name in ("out_missed", "out_blocked", "in_failed", "in_busy",
                                          "out_external_cancelled", "in_external_missed",
                                          "out_answered", "in_answered")]


def test_incoming_are_the_calls_to_the_extension_internal_or_external(calls) -> None:
    assert ids(CallRecord.objects.for_extension("201", "incoming")) == [
        calls[name].call_id
        for name in ("in_failed", "in_busy", "in_external_missed", "in_answered")]


def test_outgoing_are_the_calls_from_the_extension_internal_or_external(calls) -> None:
    assert ids(CallRecord.objects.for_extension("201", HistoryFilter.OUTGOING)) == [
        calls[name].call_id for name in ("out_missed", "out_blocked",
                                          "out_external_cancelled", "out_answered")]


def test_missed_are_incoming_calls_nobody_took(calls) -> None:
    # The callee's view: a call 201 placed that 202 did not answer is 202's missed call.
    assert ids(CallRecord.objects.for_extension("201", "missed")) == [
        calls[name].call_id for name in ("in_failed", "in_busy", "in_external_missed")]
    # A caller who gave up while 202 rang: 202 missed it (and for the caller it is aborted).
    assert ids(CallRecord.objects.for_extension("202", "missed")) == [
        calls["others_external"].call_id, calls["out_missed"].call_id]


def test_aborted_are_outgoing_calls_the_caller_gave_up(calls) -> None:
    assert ids(CallRecord.objects.for_extension("201", "aborted")) == [
        calls["out_external_cancelled"].call_id]
    assert ids(CallRecord.objects.for_extension("203", "aborted")) == [
        calls["others_out"].call_id]
    # A caller from outside has no history here; the cancelled call is 202's, incoming.
    assert ids(CallRecord.objects.for_extension("202", "aborted")) == []
    assert calls["others_external"].call_id in ids(
        CallRecord.objects.for_extension("202", "incoming"))


def test_an_extension_without_calls_has_an_empty_history(calls) -> None:
    assert not CallRecord.objects.for_extension("299").exists()
    assert not CallRecord.objects.for_extension("+3250123456").exists()


def test_an_unknown_filter_is_refused() -> None:
    with pytest.raises(ValueError, match="voicemail"):
        CallRecord.objects.for_extension("201", "voicemail")


def test_same_start_time_keeps_a_stable_newest_first_order() -> None:
    first = call("202", "201", minute=0)
    second = call("203", "201", minute=0)
    assert ids(CallRecord.objects.for_extension("201")) == [second.call_id, first.call_id]


def test_unseen_missed_calls_are_counted_until_marked_seen(calls) -> None:
    call("204", "201", Disposition.MISSED, minute=12, seen=True)
    assert CallRecord.objects.unseen_missed_count("201") == 3
    assert CallRecord.objects.unseen_missed_count("202") == 2
    assert CallRecord.objects.mark_missed_seen("201") == 3
    assert CallRecord.objects.unseen_missed_count("201") == 0
    # Only 201's missed calls were marked: 202's badge and 201's other calls are untouched.
    assert CallRecord.objects.unseen_missed_count("202") == 2
    assert not CallRecord.objects.get(pk=calls["in_answered"].pk).seen
    assert not CallRecord.objects.get(pk=calls["out_missed"].pk).seen
    call("+3250123456", "201", Disposition.MISSED, minute=13)
    assert CallRecord.objects.unseen_missed_count("201") == 1


def test_names_are_translated_to_dutch() -> None:
    from django.utils import translation

    with translation.override("nl"):
        assert str(CallRecord._meta.verbose_name_plural) == "oproepen"
        assert str(HistoryFilter.MISSED.label) == "gemist"
        assert str(HistoryFilter.ABORTED.label) == "afgebroken"
        assert str(CallRecord._meta.get_field("caller_number").verbose_name) == "nummer beller"
    with translation.override("en"):
        assert str(HistoryFilter.MISSED.label) == "missed"
