"""A tiny SIP client for engine tests: raw messages over real UDP/TCP sockets on loopback.

Digest responses are computed here with ``hashlib`` straight from RFC 7616 §3.4.1, not with
``softphone.sip.digest``, so the engine's verification is checked against an independent
implementation.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import secrets
from dataclasses import dataclass, field

from softphone.sip.framing import StreamFramer
from softphone.sip.headers import parse_auth
from softphone.sip.message import SipResponse
from softphone.sip.parser import parse_message

_counter = itertools.count(1)


def digest_authorization(challenge: str, *, method: str, uri: str, username: str,
                         password: str, nc: int = 1, cnonce: str = "0a4f113b",
                         header_realm: str | None = None) -> str:
    """The Authorization value answering one ``WWW-Authenticate: Digest ...`` challenge."""
    params = parse_auth(challenge).as_dict()
    algorithm = params.get("algorithm", "MD5")
    hasher = hashlib.sha256 if algorithm.upper() == "SHA-256" else hashlib.md5
    realm = header_realm or params["realm"]

    def h(text: str) -> str:
        return hasher(text.encode()).hexdigest()

    ha1 = h(f"{username}:{params['realm']}:{password}")
    ha2 = h(f"{method}:{uri}")
    nc_text = f"{nc:08x}"
    response = h(f"{ha1}:{params['nonce']}:{nc_text}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{username}", realm="{realm}", nonce="{params["nonce"]}", '
            f'uri="{uri}", response="{response}", algorithm={algorithm}, qop=auth, '
            f'nc={nc_text}, cnonce="{cnonce}"')


def challenge_for(response: SipResponse, algorithm: str = "MD5",
                  header: str = "WWW-Authenticate") -> str:
    for value in response.headers.get_all(header):
        if parse_auth(value).as_dict().get("algorithm", "MD5").upper() == algorithm:
            return value
    raise AssertionError(f"no {algorithm} challenge in {response}")


@dataclass
class Dialogue:
    """Headers a UA keeps across the requests of one registration (§10.2)."""

    user: str
    domain: str = "127.0.0.1"
    call_id: str = field(default_factory=lambda: f"{secrets.token_hex(8)}@test")
    from_tag: str = field(default_factory=lambda: secrets.token_hex(4))
    cseq: int = 0


class SipTestClient:
    """One socket (UDP, or one TCP connection) to the engine."""

    def __init__(self, kind: str, engine_address: tuple[str, int]) -> None:
        self.kind = kind
        self.engine_address = engine_address
        self.local_port = 0
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._udp: asyncio.DatagramTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    async def __aenter__(self) -> SipTestClient:
        loop = asyncio.get_running_loop()
        if self.kind == "udp":
            queue = self._queue

            class Protocol(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: object) -> None:
                    queue.put_nowait(data)

            transport, _ = await loop.create_datagram_endpoint(
                Protocol, local_addr=("127.0.0.1", 0), remote_addr=self.engine_address)
            self._udp = transport
            self.local_port = transport.get_extra_info("sockname")[1]
        else:
            reader, writer = await asyncio.open_connection(*self.engine_address)
            self._writer = writer
            self.local_port = writer.get_extra_info("sockname")[1]
            self._reader_task = asyncio.create_task(self._read(reader))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        framer = StreamFramer()
        try:
            while chunk := await reader.read(65536):
                for message in framer.feed(chunk):
                    self._queue.put_nowait(message)
        finally:
            self.closed.set()

    def send(self, data: bytes) -> None:
        if self._udp is not None:
            self._udp.sendto(data)
        else:
            assert self._writer is not None
            self._writer.write(data)

    async def receive_raw(self, timeout: float = 2.0) -> bytes:
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def receive(self, timeout: float = 2.0) -> SipResponse:
        message = parse_message(await self.receive_raw(timeout))
        assert isinstance(message, SipResponse), message
        return message

    async def nothing_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._queue.get(), seconds)
        except TimeoutError:
            return True
        return False

    async def request(self, data: bytes, timeout: float = 2.0) -> SipResponse:
        self.send(data)
        return await self.receive(timeout)

    async def receive_first_final(self, data: bytes, timeout: float = 2.0) -> SipResponse:
        """Send ``data`` and return the first final response (skipping 1xx)."""
        self.send(data)
        while True:
            response = await self.receive(timeout)
            if response.is_final:
                return response

    # -- message builders ---------------------------------------------------------------------
    def via(self, branch: str | None = None) -> str:
        branch = branch or f"z9hG4bK{secrets.token_hex(6)}"
        return f"SIP/2.0/{self.kind.upper()} 127.0.0.1:{self.local_port};branch={branch};rport"

    def register(self, dialogue: Dialogue, *, contact: str | None = None,
                 expires: int | None = 600, authorization: str | None = None,
                 extra: str = "", aor: str | None = None) -> bytes:
        dialogue.cseq += 1
        aor = aor or dialogue.user
        contact = contact if contact is not None else (
            f"<sip:{dialogue.user}@127.0.0.1:{self.local_port};transport={self.kind}>")
        lines = [
            f"REGISTER sip:{dialogue.domain} SIP/2.0",
            f"Via: {self.via()}",
            "Max-Forwards: 70",
            f"From: <sip:{aor}@{dialogue.domain}>;tag={dialogue.from_tag}",
            f"To: <sip:{aor}@{dialogue.domain}>",
            f"Call-ID: {dialogue.call_id}",
            f"CSeq: {dialogue.cseq} REGISTER",
            f"Contact: {contact}" if contact else "",
            f"Expires: {expires}" if expires is not None else "",
            f"Authorization: {authorization}" if authorization else "",
            extra,
            "User-Agent: pbxweb-tests",
            "Content-Length: 0",
        ]
        return ("\r\n".join(line for line in lines if line) + "\r\n\r\n").encode()

    def simple(self, method: str, uri: str, *, from_user: str = "201", to_tag: str = "",
               extra: str = "", body: bytes = b"", call_id: str | None = None) -> bytes:
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: {self.via()}",
            "Max-Forwards: 70",
            f"From: <sip:{from_user}@127.0.0.1>;tag={secrets.token_hex(4)}",
            f"To: <{uri}>" + (f";tag={to_tag}" if to_tag else ""),
            f"Call-ID: {call_id or secrets.token_hex(8)}",
            f"CSeq: {next(_counter)} {method}",
            f"Contact: <sip:{from_user}@127.0.0.1:{self.local_port}>",
            extra,
            f"Content-Length: {len(body)}",
        ]
        return ("\r\n".join(line for line in lines if line) + "\r\n\r\n").encode() + body

    async def register_with_auth(self, dialogue: Dialogue, password: str, *,
                                 algorithm: str = "MD5", **kwargs: object) -> SipResponse:
        """REGISTER, answer the 401 challenge, return the final response."""
        first = await self.request(self.register(dialogue, **kwargs))  # type: ignore[arg-type]
        if first.status_code != 401:
            return first
        authorization = digest_authorization(
            challenge_for(first, algorithm), method="REGISTER",
            uri=f"sip:{dialogue.domain}", username=dialogue.user, password=password)
        return await self.request(self.register(dialogue, authorization=authorization,
                                                **kwargs))  # type: ignore[arg-type]


def contact_expiries(response: SipResponse) -> dict[str, int]:
    """Contact URI -> expires from a 200 to REGISTER."""
    out: dict[str, int] = {}
    for value in response.headers.get_all("Contact"):
        for match in re.finditer(r"<([^>]+)>;expires=(\d+)", value):
            out[match[1]] = int(match[2])
    return out
