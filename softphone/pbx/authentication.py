"""Who sent this request: digest authentication of SIP requests (RFC 3261 §22, RFC 7616/8760).

A registrar challenges with 401/WWW-Authenticate, everything else with 407/Proxy-Authenticate
(§22.3, what phones expect from a PBX). Decisions, the same for unknown and known extensions
so that a scanner learns nothing:

- no credentials for our realm: challenge (not a failure: every phone starts this way);
- a stale or foreign nonce with the right password: challenge with ``stale=true``;
- wrong password or unknown user: 403 Forbidden — we do not re-challenge, a phone with a
  wrong password should stop rather than loop — and one failure towards a ban;
- credentials we cannot parse: 400, and one failure towards a ban.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from softphone.pbx.bans import AuthFailureBans
from softphone.pbx.credentials import CredentialCache
from softphone.pbx.storage import SipCredentials
from softphone.sip.digest import DigestAuthenticator, DigestOutcome, StoredHa1
from softphone.sip.errors import RemoteProtocolError
from softphone.sip.headers import parse_auth
from softphone.sip.message import SipRequest

logger = logging.getLogger("softphone.auth")

MAX_USERNAME = 64
_RECHECK = 0  # internal: verification failed against a cached entry worth re-reading


@dataclass(frozen=True, slots=True)
class AuthDecision:
    """``user`` when authenticated; otherwise the response to send instead."""

    user: str | None
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    detail: str = ""


class RequestAuthenticator:
    def __init__(self, digest: DigestAuthenticator, credentials: CredentialCache,
                 bans: AuthFailureBans, wall_clock: Callable[[], float]) -> None:
        self.digest = digest
        self.credentials = credentials
        self.bans = bans
        self.wall_clock = wall_clock

    def challenge(self, *, proxy: bool, stale: bool = False, detail: str = "") -> AuthDecision:
        return AuthDecision(None, 407 if proxy else 401,
                            self.digest.challenge_headers(self.wall_clock(), stale=stale,
                                                          proxy=proxy), detail)

    def authenticate_now(self, request: SipRequest, source_host: str, *,
                         proxy: bool) -> AuthDecision | None:
        """The decision when it needs nothing but the cache (the usual case), else None."""
        params = self._credentials_params(request, source_host, proxy)
        if isinstance(params, AuthDecision):
            return params
        return self._decide_from_cache(params, request.method, source_host, proxy)

    async def authenticate(self, request: SipRequest, source_host: str, *,
                           proxy: bool) -> AuthDecision:
        params = self._credentials_params(request, source_host, proxy)
        if isinstance(params, AuthDecision):
            return params
        decision = self._decide_from_cache(params, request.method, source_host, proxy)
        if decision is not None:
            return decision
        username = params.get("username", "")
        # A miss, or a failure against a cached entry old enough to re-read (password changed).
        known, _ = self.credentials.peek(username)
        credentials = await self.credentials.get(username, fresh=known)
        return self._decide(params, request.method, self._ha1(credentials), source_host, proxy)

    def _decide_from_cache(self, params: dict[str, str], method: str, source_host: str,
                           proxy: bool) -> AuthDecision | None:
        username = params.get("username", "")
        if not username or len(username) > MAX_USERNAME:
            return self._decide(params, method, None, source_host, proxy)
        known, credentials = self.credentials.peek(username)
        if not known:
            return None
        decision = self._decide(params, method, self._ha1(credentials), source_host, proxy,
                                may_recheck=credentials is not None)
        return None if decision.status == _RECHECK else decision

    def _credentials_params(self, request: SipRequest, source_host: str,
                            proxy: bool) -> dict[str, str] | AuthDecision:
        name = "Proxy-Authorization" if proxy else "Authorization"
        try:
            for value in request.headers.get_all(name):
                credentials = parse_auth(value)
                fields = credentials.as_dict()
                if credentials.scheme.lower() == "digest" and \
                        fields.get("realm") == self.digest.realm:
                    return fields
        except RemoteProtocolError as error:
            self._failed(source_host)
            return AuthDecision(None, 400, [], f"unparsable {name}: {error}")
        return self.challenge(proxy=proxy, detail="challenged")

    def _decide(self, params: dict[str, str], method: str, stored: StoredHa1 | None,
                source_host: str, proxy: bool, *, may_recheck: bool = False) -> AuthDecision:
        username = params.get("username", "")
        result = self.digest.verify(params, method, stored, self.wall_clock())
        match result.outcome:
            case DigestOutcome.OK:
                self.bans.record_success(source_host)
                return AuthDecision(result.username)
            case DigestOutcome.STALE:
                return self.challenge(proxy=proxy, stale=True, detail=result.detail)
            case DigestOutcome.BAD_CREDENTIALS:
                if may_recheck and self.credentials.worth_rechecking(username):
                    return AuthDecision(None, _RECHECK)  # the caller re-reads the store
                self._failed(source_host)
                return AuthDecision(None, 403, [], f"bad credentials for {username[:32]!r}")
            case _:
                self._failed(source_host)
                return AuthDecision(None, 400, [], f"malformed credentials: {result.detail}")

    def _ha1(self, credentials: SipCredentials | None) -> StoredHa1 | None:
        if credentials is None or credentials.realm != self.digest.realm:
            return None
        return StoredHa1(credentials.ha1_md5, credentials.ha1_sha256)

    def _failed(self, source_host: str) -> None:
        if self.bans.record_failure(source_host, self.wall_clock()):
            logger.warning("banning %s for %.0f s after repeated authentication failures",
                           source_host, self.bans.policy.ban_seconds)
