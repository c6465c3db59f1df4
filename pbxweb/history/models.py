"""Call records (CDR): one row per call attempt, written by the engine when the call ends.

The engine hands a ``softphone.pbx.cdr.CallRecord`` to ``softphone/store.py``, which writes it
here (SPEC.md C10, W7). The history page reads one extension's calls newest first, filtered
like 3CX's call history: incoming, outgoing, missed, aborted.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Direction(models.TextChoices):
    # The values are softphone.pbx.cdr.CallDirection's (a test holds them equal).
    INTERNAL = "internal", _("internal")
    INBOUND = "inbound", _("inbound")
    OUTBOUND = "outbound", _("outbound")


class Disposition(models.TextChoices):
    # The values are softphone.pbx.cdr.Disposition's (a test holds them equal).
    ANSWERED = "answered", _("answered")
    MISSED = "missed", _("missed")
    BUSY = "busy", _("busy")
    CANCELLED = "cancelled", _("cancelled")
    FAILED = "failed", _("failed")
    BLOCKED = "blocked", _("blocked")


class HistoryFilter(models.TextChoices):
    """The history page's filters, seen from one extension."""

    INCOMING = "incoming", _("incoming")
    OUTGOING = "outgoing", _("outgoing")
    MISSED = "missed", _("missed")
    ABORTED = "aborted", _("aborted")


# An incoming call that nobody at the extension took: it rang out, every device was busy, it
# could not be delivered, or the caller gave up while it rang (3CX and every desk phone list
# that one as missed for the callee; for the caller it is "aborted").
MISSED_DISPOSITIONS = (Disposition.MISSED, Disposition.BUSY, Disposition.FAILED,
                       Disposition.CANCELLED)
# An outgoing call the caller gave up on before anyone answered.
ABORTED_DISPOSITIONS = (Disposition.CANCELLED,)


class CallRecordQuerySet(models.QuerySet["CallRecord"]):
    def for_extension(self, number: str,
                      kind: HistoryFilter | str | None = None) -> CallRecordQuerySet:
        """One extension's calls, newest first; ``kind`` narrows to one history filter.

        Raises ``ValueError`` for a ``kind`` that is not a ``HistoryFilter`` value.
        """
        incoming = Q(callee_extension=number)
        outgoing = Q(caller_extension=number)
        view = HistoryFilter(kind) if kind is not None else None
        if view is None:
            condition = incoming | outgoing
        elif view == HistoryFilter.INCOMING:
            condition = incoming
        elif view == HistoryFilter.OUTGOING:
            condition = outgoing
        elif view == HistoryFilter.MISSED:
            condition = incoming & Q(disposition__in=MISSED_DISPOSITIONS)
        else:
            condition = outgoing & Q(disposition__in=ABORTED_DISPOSITIONS)
        return self.filter(condition).order_by("-started_at", "-id")

    def unseen_missed(self, number: str) -> CallRecordQuerySet:
        return self.for_extension(number, HistoryFilter.MISSED).filter(seen=False)

    def unseen_missed_count(self, number: str) -> int:
        """How many missed calls the extension has not looked at yet (the menu's badge)."""
        return self.unseen_missed(number).count()

    def mark_missed_seen(self, number: str) -> int:
        """Mark every missed call of the extension as seen; returns how many changed."""
        # The newest-first ordering means nothing to an UPDATE: drop it.
        return self.unseen_missed(number).order_by().update(seen=True)


class CallRecord(models.Model):
    """One call attempt as it ended (``softphone.pbx.cdr.CallRecord``, field for field)."""

    call_id = models.CharField(_("call ID"), max_length=64, unique=True)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    caller_number = models.CharField(_("caller number"), max_length=128)
    caller_name = models.CharField(_("caller name"), max_length=128, blank=True)
    callee_number = models.CharField(_("callee number"), max_length=128)
    callee_name = models.CharField(_("callee name"), max_length=128, blank=True)
    # Set when that side is one of our extensions: what the history filters look up. NULL, not
    # "", for an outside party, as in the engine's record (None). No single-column index: the
    # composite indexes in Meta start with these columns and serve lookups by them alone.
    caller_extension = models.CharField(  # noqa: DJ001
        _("caller extension"), max_length=32, null=True, blank=True)
    callee_extension = models.CharField(  # noqa: DJ001
        _("callee extension"), max_length=32, null=True, blank=True)
    answered_by = models.CharField(_("answered by"), max_length=128, blank=True)
    answered_device = models.CharField(_("answering device"), max_length=256, blank=True)
    started_at = models.DateTimeField(_("started at"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    duration_seconds = models.FloatField(_("duration (seconds)"), default=0.0)
    disposition = models.CharField(
        _("disposition"), max_length=10, choices=Disposition.choices, default=Disposition.FAILED)
    status_code = models.PositiveSmallIntegerField(_("SIP status"), null=True, blank=True)
    ended_by = models.CharField(_("ended by"), max_length=32, blank=True)
    transfers = models.JSONField(_("transfers"), default=list, blank=True)
    # Missed calls count on the menu's badge until the extension has looked at them.
    seen = models.BooleanField(_("seen"), default=False)

    objects = CallRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("call record")
        verbose_name_plural = _("call records")
        ordering = ["-started_at", "-id"]
        indexes = [
            # "One extension's calls, newest first", from either side of the call.
            models.Index(fields=["caller_extension", "-started_at"],
                         name="history_caller_started"),
            models.Index(fields=["callee_extension", "-started_at"],
                         name="history_callee_started"),
        ]

    def __str__(self) -> str:
        return f"{self.caller_number} -> {self.callee_number} ({self.disposition})"
