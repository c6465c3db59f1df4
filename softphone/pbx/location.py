"""The location service: which contacts an address-of-record (an extension) is reachable at.

RFC 3261 §10.3 rules, kept pure: no I/O, time is passed in. One extension has several
bindings at once (desk phone + DECT + app, SPEC.md E1). A binding is keyed by its contact URI;
a refresh from the same Call-ID must carry a higher CSeq (§10.3 step 7), a binding from another
Call-ID replaces it (the phone rebooted).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Binding:
    aor: str  # the extension number
    contact: str  # the Contact URI as the phone sent it
    expires_at: float  # wall-clock epoch seconds (survives a restart, unlike monotonic time)
    call_id: str
    cseq: int
    q: float = 1.0
    source: str = ""  # "transport:host:port" the REGISTER really came from (RFC 3581)
    user_agent: str = ""

    def remaining(self, now: float) -> int:
        return max(0, round(self.expires_at - now))


class BindingOutcome(enum.StrEnum):
    ADDED = "added"
    REFRESHED = "refreshed"
    REMOVED = "removed"
    OUT_OF_ORDER = "out-of-order"  # §10.3 step 7: same Call-ID, CSeq not higher


@dataclass(frozen=True, slots=True)
class BindingUpdate:
    contact: str
    expires: int  # seconds; 0 removes
    q: float = 1.0


class Location:
    """In-memory bindings per AoR; the engine persists each change through its store."""

    def __init__(self) -> None:
        self._bindings: dict[str, dict[str, Binding]] = {}

    def load(self, bindings: Iterable[Binding], now: float) -> None:
        for binding in bindings:
            if binding.expires_at > now:
                self._bindings.setdefault(binding.aor, {})[binding.contact] = binding

    def lookup(self, aor: str, now: float) -> list[Binding]:
        """Live bindings, highest q first (§16.6 forking order; we fork to all at once)."""
        bindings = self._bindings.get(aor)
        if not bindings:
            return []
        live = [b for b in bindings.values() if b.expires_at > now]
        if len(live) > 1:
            live.sort(key=lambda b: -b.q)  # stable: equal q keep their order
        return live

    def check_order(self, aor: str, call_id: str, cseq: int) -> bool:
        """§10.3 step 7: a REGISTER older than a binding from the same Call-ID is refused."""
        return all(
            not (binding.call_id == call_id and cseq <= binding.cseq)
            for binding in self._bindings.get(aor, {}).values()
        )

    def apply(
        self,
        aor: str,
        updates: Iterable[BindingUpdate],
        *,
        call_id: str,
        cseq: int,
        now: float,
        source: str = "",
        user_agent: str = "",
    ) -> list[tuple[BindingOutcome, Binding]]:
        current = self._bindings.setdefault(aor, {})
        outcomes: list[tuple[BindingOutcome, Binding]] = []
        for update in updates:
            existing = current.get(update.contact)
            if existing is not None and existing.call_id == call_id and cseq <= existing.cseq:
                outcomes.append((BindingOutcome.OUT_OF_ORDER, existing))
                continue
            if update.expires == 0:
                if existing is not None:
                    del current[update.contact]
                    outcomes.append((BindingOutcome.REMOVED, existing))
                continue
            binding = Binding(
                aor=aor, contact=update.contact, expires_at=now + update.expires,
                call_id=call_id, cseq=cseq, q=update.q, source=source, user_agent=user_agent,
            )
            current[update.contact] = binding
            outcome = BindingOutcome.ADDED if existing is None else BindingOutcome.REFRESHED
            outcomes.append((outcome, binding))
        if not current:
            del self._bindings[aor]
        return outcomes

    def remove_all(self, aor: str, *, call_id: str, cseq: int) -> list[Binding]:
        """``Contact: *`` with ``Expires: 0`` (§10.2.2), still subject to Call-ID/CSeq order."""
        current = self._bindings.get(aor, {})
        removed = [b for b in current.values() if not (b.call_id == call_id and cseq <= b.cseq)]
        for binding in removed:
            del current[binding.contact]
        if not current:
            self._bindings.pop(aor, None)
        return removed

    def expire(self, now: float) -> list[Binding]:
        expired: list[Binding] = []
        for aor in list(self._bindings):
            current = self._bindings[aor]
            for contact, binding in list(current.items()):
                if binding.expires_at <= now:
                    expired.append(binding)
                    del current[contact]
            if not current:
                del self._bindings[aor]
        return expired

    def next_expiry(self) -> float | None:
        times = [b.expires_at for per in self._bindings.values() for b in per.values()]
        return min(times) if times else None

    def count(self) -> int:
        return sum(len(per) for per in self._bindings.values())
