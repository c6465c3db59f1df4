"""A short-lived cache of SIP credentials in front of the store.

Every authenticated request needs the extension's HA1 values; asking the database each time
would cap the registrar at the database's pace. Entries live ``ttl`` seconds. A verification
that fails against a cached entry older than ``recheck_after`` is retried once with a fresh
read (``fresh``), so a password set in the portal works at once; the old password keeps
working for at most ``ttl`` seconds. ``warm`` loads every extension in one query, so that a
burst of registrations (all phones after a power cut) does not become a burst of queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from softphone.pbx.storage import PbxStore, SipCredentials


@dataclass(slots=True)
class _Entry:
    credentials: SipCredentials | None
    fetched_at: float


class CredentialCache:
    def __init__(self, store: PbxStore, clock: Callable[[], float], *, ttl: float = 60.0,
                 recheck_after: float = 2.0, capacity: int = 50_000) -> None:
        self.store = store
        self.clock = clock
        self.ttl = ttl
        self.recheck_after = recheck_after
        self.capacity = capacity
        self._entries: dict[str, _Entry] = {}

    def peek(self, username: str) -> tuple[bool, SipCredentials | None]:
        """``(True, credentials)`` for a fresh entry (None: known not to exist); ``(False,
        None)`` when only ``get`` can say. Lets the engine answer without a task switch."""
        entry = self._entries.get(username)
        if entry is not None and self.clock() - entry.fetched_at < self.ttl:
            return True, entry.credentials
        return False, None

    async def get(self, username: str, *, fresh: bool = False) -> SipCredentials | None:
        known, cached = self.peek(username)
        if known and not fresh:
            return cached
        credentials = await self.store.sip_credentials(username)
        if len(self._entries) >= self.capacity:
            self._entries.clear()  # a scan of random names must not grow memory without end
        self._entries[username] = _Entry(credentials, self.clock())
        return credentials

    async def warm(self) -> int:
        """Load every extension's credentials in one go (at start, and each ``ttl``)."""
        loaded = await self.store.all_sip_credentials()
        now = self.clock()
        for credentials in loaded:
            self._entries[credentials.username] = _Entry(credentials, now)
        return len(loaded)

    def worth_rechecking(self, username: str) -> bool:
        entry = self._entries.get(username)
        return entry is not None and self.clock() - entry.fetched_at >= self.recheck_after
