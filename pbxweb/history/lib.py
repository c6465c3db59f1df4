"""Reading one extension's call history (SPEC.md W7): filters, search, and the rows the page
and the API show. Writes stay with the engine (``softphone/store.py``) and the two
``CallRecord`` manager methods for the missed-call badge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbxweb.accounts.models import Extension
from pbxweb.directory.lookup import names_for_numbers
from pbxweb.directory.models import NUMBER_FIELDS, Contact
from pbxweb.history.models import (
    ABORTED_DISPOSITIONS,
    MISSED_DISPOSITIONS,
    CallRecord,
    CallRecordQuerySet,
    Disposition,
    HistoryFilter,
)
from softphone.pbx import dialplan

# Names matching a search word: at most this many numbers are looked for in the history.
_MAX_NAME_MATCHES = 200


class HistorySearchForm(forms.Form):
    """The history's filters, from the page's query string or the API's."""

    kind = forms.ChoiceField(label=_("Show"), required=False,
                             choices=[("", _("all calls")), *HistoryFilter.choices])
    q = forms.CharField(label=_("Name or number"), required=False, max_length=100)
    date_from = forms.DateField(label=_("From"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return cleaned


def calls_for(number: str, *, viewer: Any, kind: str = "", text: str = "",
              date_from: dt.date | None = None,
              date_to: dt.date | None = None) -> CallRecordQuerySet:
    """One extension's calls, newest first, narrowed by the history's filters."""
    calls = CallRecord.objects.for_extension(number, kind or None)
    if date_from:
        calls = calls.filter(started_at__gte=_start_of(date_from))
    if date_to:
        calls = calls.filter(started_at__lt=_start_of(date_to + dt.timedelta(days=1)))
    # A number is one term even with spaces in it ("0470 12 34 56"); names are word by word.
    terms = [text] if dialplan.clean(text).lstrip("+").isdigit() else text.split()[:5]
    for term in terms:
        calls = calls.filter(_matches(term, number=number, viewer=viewer))
    return calls


def _start_of(day: dt.date) -> dt.datetime:
    """Midnight of ``day`` where the office is (TIME_ZONE), not in UTC."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _matches(term: str, *, number: str, viewer: Any) -> Q:
    """A call whose other party has this name or number in it (never the viewer's own)."""
    outgoing, incoming = Q(caller_extension=number), Q(callee_extension=number)
    condition = ((outgoing & Q(callee_name__icontains=term))
                 | (incoming & Q(caller_name__icontains=term)))
    cleaned = dialplan.clean(term)
    if cleaned.lstrip("+").isdigit():
        # "0477 12" and "+32477…" must both find +32477123456: compare without the national
        # trunk prefix or the international prefix.
        core = cleaned.lstrip("+")
        core = core[2:] if core.startswith("00") else core.lstrip("0") or core
        return (outgoing & Q(callee_number__contains=core)) | (
            incoming & Q(caller_number__contains=core))
    numbers = _numbers_named(term, viewer=viewer)
    if numbers:
        condition |= (outgoing & Q(callee_number__in=numbers)) | (
            incoming & Q(caller_number__in=numbers))
    return condition


def _numbers_named(word: str, *, viewer: Any) -> list[str]:
    """The numbers of the viewer's contacts and colleagues whose name contains ``word``."""
    numbers: set[str] = set()
    key_fields = [f"{field}_key" for field in NUMBER_FIELDS.values()]
    contacts = (Contact.objects.visible_to(viewer)
                .filter(Q(name__icontains=word) | Q(company__icontains=word))
                .values_list(*key_fields)[:_MAX_NAME_MATCHES])
    for keys in contacts:
        numbers.update(key for key in keys if key)
    colleagues = (Extension.objects.filter(is_active=True)
                  .filter(Q(first_name__icontains=word) | Q(last_name__icontains=word))
                  .values_list("number", "mobile")[:_MAX_NAME_MATCHES])
    for extension_number, mobile in colleagues:
        numbers.add(extension_number)
        mobile_key = dialplan.normalise(mobile) if mobile else None
        if mobile_key:
            numbers.add(mobile_key)
    return sorted(numbers)


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One call as the history shows it to one extension."""

    record: CallRecord
    outgoing: bool
    kind: str  # "incoming", "outgoing", "missed", "aborted"
    other_number: str
    other_name: str
    other_known: bool  # the name comes from the contacts or the colleagues
    answered_by: str
    answered_by_name: str

    @property
    def status_label(self) -> str:
        return str(Disposition(self.record.disposition).label)

    @property
    def is_unseen_missed(self) -> bool:
        return self.kind == HistoryFilter.MISSED and not self.record.seen


def rows_for(records: Iterable[CallRecord], *, number: str, viewer: Any) -> list[HistoryRow]:
    """Rows for a page of records, with names from the caller-name lookup (three queries)."""
    records = list(records)
    wanted = set()
    for record in records:
        wanted.add(record.caller_number)
        wanted.add(record.callee_number)
        if record.answered_by:
            wanted.add(record.answered_by)
    names = names_for_numbers(wanted, viewer=viewer)
    rows = []
    for record in records:
        outgoing = record.caller_extension == number
        if outgoing:
            other_number, sip_name = record.callee_number, record.callee_name
            kind = (HistoryFilter.ABORTED if record.disposition in ABORTED_DISPOSITIONS
                    else HistoryFilter.OUTGOING)
        else:
            other_number, sip_name = record.caller_number, record.caller_name
            kind = (HistoryFilter.MISSED if record.disposition in MISSED_DISPOSITIONS
                    else HistoryFilter.INCOMING)
        answered_by = record.answered_by
        rows.append(HistoryRow(
            record=record, outgoing=outgoing, kind=str(kind), other_number=other_number,
            # The directory's name first (what the viewer calls them), else what the caller's
            # phone or the carrier sent along.
            other_name=names.get(other_number) or sip_name,
            other_known=other_number in names,
            answered_by=answered_by,
            answered_by_name=names.get(answered_by, "") if answered_by else ""))
    return rows
