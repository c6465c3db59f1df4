"""SIP trunks to the carrier: registration, recognising the carrier's requests, routes out.

A trunk is configured in the admin (``softphone.models.Trunk``) and reaches the engine as a
``TrunkConfig``. At runtime each is a ``TrunkLink``:

- **Registration** (RFC 3261 §10.2, when the carrier wants it): the engine REGISTERs as the
  trunk's user, answers the 401/407 with digest (``digest.answer_challenge``), refreshes at
  80 % of the granted expiry, and retries after ``RETRY_SECONDS`` when refused or unreachable.
- **Inbound**: a request whose source address is one of the trunk host's addresses comes from
  the carrier. Carriers do not answer challenges, so such an INVITE is trusted by address
  (what every PBX does with a carrier) and routed by its DID; any other source must
  authenticate as an extension — there are no anonymous calls.
- **Outbound**: ``route_for`` turns a dialled number (already E.164) into the INVITE's target,
  identities and credentials (the carrier's 401/407 to the INVITE is answered once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from softphone.pbx.storage import TrunkConfig
from softphone.sip.digest import answer_challenge
from softphone.sip.errors import RemoteProtocolError
from softphone.sip.headers import CSeq, parse_auth
from softphone.sip.message import Headers, SipRequest, SipResponse
from softphone.sip.transport import Peer, TransportKind
from softphone.sip.uri import NameAddr, SipUri

__all__ = ["RETRY_SECONDS", "TrunkAuth", "TrunkLink", "TrunkRoute", "Trunks", "with_auth"]

logger = logging.getLogger("softphone.trunks")

RETRY_SECONDS = 30.0
REFRESH_SHARE = 0.8  # refresh a registration at 80 % of its expiry
_CHALLENGES = {401: ("WWW-Authenticate", "Authorization"),
               407: ("Proxy-Authenticate", "Proxy-Authorization")}


@dataclass(frozen=True, slots=True)
class TrunkAuth:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class TrunkRoute:
    """Where and as whom an outgoing call goes out."""

    trunk: str
    destination: Peer
    request_uri: SipUri
    from_uri: SipUri
    auth: TrunkAuth | None


@dataclass(slots=True)
class TrunkLink:
    config: TrunkConfig
    addresses: frozenset[str] = frozenset()
    registered: bool = False
    call_id: str = field(default_factory=lambda: f"{secrets.token_hex(10)}@pbxweb")
    cseq: int = 0

    @property
    def peer(self) -> Peer:
        host = next(iter(sorted(self.addresses)), self.config.host)
        return Peer(TransportKind(self.config.transport), host, self.config.port)

    @property
    def domain(self) -> str:
        return self.config.from_domain or self.config.host

    @property
    def auth(self) -> TrunkAuth | None:
        if not self.config.username:
            return None
        return TrunkAuth(self.config.username, self.config.password)


def with_auth(request: SipRequest, response: SipResponse, auth: TrunkAuth, via: str,
              ) -> SipRequest | None:
    """``request`` again with credentials answering ``response``'s challenge (401/407), a new
    Via branch and the next CSeq (§22.2); None when it cannot be answered."""
    names = _CHALLENGES.get(response.status_code)
    if names is None:
        return None
    challenge_name, credentials_name = names
    for value in response.headers.get_all(challenge_name):
        try:
            challenge = parse_auth(value)
            if challenge.scheme.lower() != "digest":
                continue
            answer = answer_challenge(challenge.as_dict(), method=request.method,
                                      uri=str(request.uri), username=auth.username,
                                      password=auth.password)
        except RemoteProtocolError:
            continue
        cseq = request.cseq
        headers = request.headers.with_header("Via", via).with_header(
            "CSeq", str(CSeq(cseq.number + 1, cseq.method))).with_header(
            credentials_name, answer)
        return SipRequest(request.method, request.uri, headers, request.body)
    return None


class Trunks:
    """The engine's trunks. ``send`` is the engine's ``send_request`` (final response)."""

    def __init__(self, send: Callable[[SipRequest, Peer], asyncio.Future[SipResponse | None]],
                 via: Callable[[TransportKind], str],
                 contact: Callable[[TransportKind, str], NameAddr]) -> None:
        self.send = send
        self.via = via
        self.contact = contact
        self.links: list[TrunkLink] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def load(self, configs: list[TrunkConfig]) -> None:
        """Know the trunks (their addresses resolved): before the transports listen, so that
        no carrier request arrives unrecognised."""
        loop = asyncio.get_running_loop()
        for config in configs:
            addresses: set[str] = set()
            with contextlib.suppress(OSError):
                for info in await loop.getaddrinfo(config.host, config.port,
                                                   type=socket.SOCK_DGRAM):
                    addresses.add(str(info[4][0]))
            self.links.append(TrunkLink(config, frozenset(addresses) or frozenset({config.host})))
        if self.links:
            logger.info("trunks: %s", ", ".join(
                f"{link.config.name} ({link.config.host}:{link.config.port})"
                for link in self.links))

    def start_registering(self) -> None:
        """Once the transports listen: keep every trunk that wants it registered."""
        for link in self.links:
            if link.config.register and link.config.username:
                self._tasks.append(asyncio.create_task(self._keep_registered(link),
                                                       name=f"trunk-{link.config.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def from_carrier(self, source: Peer) -> TrunkLink | None:
        """The trunk whose carrier sent a request from ``source``, if any."""
        for link in self.links:
            if source.host in link.addresses:
                return link
        return None

    def route_for(self, e164: str, caller_id: Callable[[TrunkConfig], str]) -> TrunkRoute | None:
        """The route of an outgoing call to ``e164`` (the first trunk; one per site today)."""
        if not self.links:
            return None
        link = self.links[0]
        number = caller_id(link.config) or link.config.username or "anonymous"
        return TrunkRoute(link.config.name, link.peer,
                          SipUri(link.config.host, user=e164, port=link.config.port),
                          SipUri(link.domain, user=number), link.auth)

    # -- registration (§10.2) -------------------------------------------------------------------
    async def _keep_registered(self, link: TrunkLink) -> None:
        while True:
            try:
                expires = await self.register(link)
            except Exception:  # a bug must not end the loop silently: log, retry later
                logger.exception("trunk %s: registration failed", link.config.name)
                expires = None
            link.registered = expires is not None
            await asyncio.sleep(expires * REFRESH_SHARE if expires else RETRY_SECONDS)

    async def register(self, link: TrunkLink) -> int | None:
        """One registration (with its challenge); the granted expiry, or None."""
        config = link.config
        kind = TransportKind(config.transport)
        aor = NameAddr(SipUri(link.domain, user=config.username))
        link.cseq += 1
        request = SipRequest("REGISTER", SipUri(link.domain), Headers([
            ("Via", self.via(kind)), ("Max-Forwards", "70"),
            ("From", str(aor.with_tag(secrets.token_hex(6)))), ("To", str(aor)),
            ("Call-ID", link.call_id), ("CSeq", str(CSeq(link.cseq, "REGISTER"))),
            ("Contact", str(self.contact(kind, config.username))),
            ("Expires", str(config.register_expires)), ("User-Agent", "pbxweb")]))
        response = await self.send(request, link.peer)
        if response is not None and response.status_code in _CHALLENGES and link.auth:
            retry = with_auth(request, response, link.auth, self.via(kind))
            if retry is not None:
                link.cseq += 1
                response = await self.send(retry, link.peer)
        if response is None or response.status_code != 200:
            status = response.status_code if response is not None else "no answer"
            logger.warning("trunk %s: REGISTER -> %s", config.name, status)
            return None
        granted = _granted_expiry(response, config.register_expires)
        logger.info("trunk %s: registered for %d s", config.name, granted)
        return granted


def _granted_expiry(response: SipResponse, asked: int) -> int:
    """§10.2.4: the expiry the registrar granted (Contact ``expires``, else Expires)."""
    for contact in response.contacts:
        value = contact.param("expires")
        if value is not None and value.isdigit():
            return max(1, int(value))
    expires = response.expires
    return max(1, expires if expires is not None else asked)
