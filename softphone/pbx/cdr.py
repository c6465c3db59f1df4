"""Call detail records: what call control hands to storage when a call attempt ends.

One ``CallRecord`` per call attempt (SPEC.md C10, W7), written when the call ends — whatever
ended it, an error included. Pure data: ``softphone/store.py`` writes it with the ORM
(``pbxweb.history``), ``MemoryStore`` keeps it in a list for tests.

Per extension, the history page's filters read: *incoming* — ``callee_extension`` is the
extension; *outgoing* — ``caller_extension`` is; *missed* — incoming and not answered
(``MISSED``, ``BUSY``, ``FAILED``, and ``CANCELLED``: the caller gave up while it rang);
*aborted* — outgoing and the caller gave up (``CANCELLED``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class CallDirection(enum.StrEnum):
    INTERNAL = "internal"  # extension to extension
    INBOUND = "inbound"  # from the trunk to an extension
    OUTBOUND = "outbound"  # from an extension to the trunk


class Disposition(enum.StrEnum):
    ANSWERED = "answered"
    MISSED = "missed"  # rang, nobody answered in time (or the callee declined)
    BUSY = "busy"  # every device busy (486/600)
    CANCELLED = "cancelled"  # the caller hung up before an answer ("aborted")
    FAILED = "failed"  # unreachable, no devices, an error on the way
    BLOCKED = "blocked"  # refused by policy (outbound restriction, unknown number)


@dataclass(slots=True)
class CallRecord:
    call_id: str  # our own id of the call (not a SIP Call-ID: a call has several legs)
    direction: CallDirection
    caller_number: str
    callee_number: str  # as dialled (after normalisation for external numbers)
    started_at: float  # wall-clock epoch seconds
    caller_name: str = ""
    callee_name: str = ""
    caller_extension: str | None = None  # set when the caller is one of our extensions
    callee_extension: str | None = None  # set when the callee is one of our extensions
    answered_by: str = ""  # the extension (or external number) that answered
    answered_device: str = ""  # its device: User-Agent or contact of the answering phone
    answered_at: float | None = None
    ended_at: float | None = None
    disposition: Disposition = Disposition.FAILED
    status_code: int | None = None  # the final SIP status given to the caller, if any
    ended_by: str = ""  # "caller", "callee", "timeout", "error"...
    transfers: list[str] = field(default_factory=list)  # e.g. "201 -> 203 (blind)"

    @property
    def duration(self) -> float:
        """Seconds of conversation (0 when never answered)."""
        if self.answered_at is None or self.ended_at is None:
            return 0.0
        return max(0.0, self.ended_at - self.answered_at)
