"""Brute-force bans for SIP: an address that keeps failing digest authentication is ignored.

Scanners (sipvicious and friends) try thousands of extension/password pairs; a real phone with
a wrong password retries every few seconds. After ``max_failures`` failed authentications within
``window`` seconds an address is banned for ``ban_seconds``: its requests are dropped without an
answer, so the scan learns nothing and costs us nothing. Pure: time is passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class BanPolicy:
    max_failures: int = 10
    window: float = 60.0
    ban_seconds: float = 600.0
    max_tracked: int = 100_000  # addresses remembered at once (memory bound under a flood)


@dataclass(slots=True)
class AuthFailureBans:
    policy: BanPolicy = field(default_factory=BanPolicy)
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _banned_until: dict[str, float] = field(default_factory=dict)

    def is_banned(self, address: str, now: float) -> bool:
        until = self._banned_until.get(address)
        if until is None:
            return False
        if until <= now:
            del self._banned_until[address]
            return False
        return True

    def record_failure(self, address: str, now: float) -> bool:
        """Count one failed authentication; True when this failure bans the address."""
        failures = self._failures.get(address)
        if failures is None:
            if len(self._failures) >= self.policy.max_tracked:
                self._forget_oldest(now)
            failures = self._failures[address] = deque()
        failures.append(now)
        while failures and failures[0] <= now - self.policy.window:
            failures.popleft()
        if len(failures) >= self.policy.max_failures:
            self._banned_until[address] = now + self.policy.ban_seconds
            del self._failures[address]
            return True
        return False

    def record_success(self, address: str) -> None:
        self._failures.pop(address, None)

    def _forget_oldest(self, now: float) -> None:
        stale = [a for a, f in self._failures.items() if not f or f[-1] <= now - self.policy.window]
        for address in stale or list(self._failures)[: len(self._failures) // 10 + 1]:
            del self._failures[address]
