"""A scriptable SIP phone for call-control tests: one UDP socket for SIP, one for RTP.

Messages are written as text here (not with ``softphone.sip``'s builders) so that the engine
is checked against an independent UA; parsing uses the project's parser for convenience.
The test drives it step by step: ``call``, ``expect_request``, ``answer``, ``bye``...
"""

from __future__ import annotations

import asyncio
import re
import secrets
import struct
from dataclasses import dataclass, field
from typing import cast

from softphone.pbx.cdr import CallRecord
from softphone.pbx.engine import Engine
from softphone.pbx.storage import MemoryStore
from softphone.sip.message import SipRequest, SipResponse
from softphone.sip.parser import parse_message
from softphone.sip.transport import TransportKind
from tests.softphone.pbx.sipclient import challenge_for, digest_authorization

DOMAIN = "127.0.0.1"


def sdp(port: int, *, direction: str = "sendrecv", address: str = "127.0.0.1",
        codecs: str = "0 8 101", extra: str = "") -> bytes:
    maps = {"0": "a=rtpmap:0 PCMU/8000", "8": "a=rtpmap:8 PCMA/8000",
            "101": "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16",
            "18": "a=rtpmap:18 G729/8000", "9": "a=rtpmap:9 G722/8000"}
    lines = ["v=0", f"o=phone {secrets.randbelow(10**6)} 1 IN IP4 {address}", "s=-",
             f"c=IN IP4 {address}", "t=0 0", f"m=audio {port} RTP/AVP {codecs}",
             *(maps[c] for c in codecs.split() if c in maps), "a=ptime:20", f"a={direction}"]
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n").encode()


def sdp_port(body: bytes) -> tuple[str, int]:
    text = body.decode()
    host = re.search(r"c=IN IP4 (\S+)", text)
    port = re.search(r"m=audio (\d+)", text)
    assert host and port, text
    return host[1], int(port[1])


class _Rtp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[tuple[bytes, tuple[str, int]]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # py3.11: not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append((data, addr))


class _Sip(asyncio.DatagramProtocol):
    def __init__(self, inbox: asyncio.Queue[SipRequest | SipResponse]) -> None:
        self.inbox = inbox

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data.strip():
            message = parse_message(data)
            self.inbox.put_nowait(message)


@dataclass
class Dialog:
    """What the phone remembers of one call (enough to ACK, BYE and re-INVITE)."""

    call_id: str
    local_tag: str
    remote_tag: str = ""
    local_uri: str = ""
    remote_uri: str = ""
    target: str = ""  # Request-URI for requests inside the dialog
    cseq: int = 1
    invite: bytes = b""
    remote_media: tuple[str, int] | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Phone:
    def __init__(self, user: str, engine: tuple[str, int], password: str | None = None, *,
                 host: str = "127.0.0.1") -> None:
        self.user = user
        self.host = host  # another loopback address plays another machine (the carrier)
        self.password = password or f"pw-{user}"
        self.engine = engine
        self.inbox: asyncio.Queue[SipRequest | SipResponse] = asyncio.Queue()
        self.sip: asyncio.DatagramTransport | None = None
        self.rtp = _Rtp()
        self.port = 0
        self.rtp_port = 0
        self.reg_call_id = f"{secrets.token_hex(6)}@{user}"
        self.reg_cseq = 0
        self.user_agent = f"test-phone-{user}"

    async def __aenter__(self) -> Phone:
        loop = asyncio.get_running_loop()
        self.sip, _ = await loop.create_datagram_endpoint(
            lambda: _Sip(self.inbox), local_addr=(self.host, 0))
        self.port = self.sip.get_extra_info("sockname")[1]
        await loop.create_datagram_endpoint(lambda: self.rtp, local_addr=(self.host, 0))
        assert self.rtp.transport is not None
        self.rtp_port = self.rtp.transport.get_extra_info("sockname")[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.sip is not None:
            self.sip.close()
        if self.rtp.transport is not None:
            self.rtp.transport.close()

    # -- raw I/O ------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        assert self.sip is not None
        self.sip.sendto(data, self.engine)

    async def next_message(self, timeout: float = 3.0) -> SipRequest | SipResponse:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def expect_request(self, method: str, timeout: float = 3.0) -> SipRequest:
        """The next request of ``method``; responses and other requests on the way are
        skipped (stray retransmissions), other requests are answered 200 to keep the
        engine's transactions calm."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.next_message(max(0.01, deadline - loop.time()))
            if isinstance(message, SipRequest):
                if message.method == method:
                    return message
                if message.method != "ACK":
                    self.reply(message, 200)

    async def expect_response(self, method: str, *, final: bool = True,
                              timeout: float = 3.0) -> SipResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.next_message(max(0.01, deadline - loop.time()))
            if isinstance(message, SipResponse) and message.cseq.method == method and (
                    message.is_final or not final):
                return message

    async def quiet(self, seconds: float) -> list[SipRequest | SipResponse]:
        """Everything that arrives within ``seconds``."""
        got: list[SipRequest | SipResponse] = []
        try:
            while True:
                got.append(await self.next_message(seconds))
        except TimeoutError:
            return got

    def via(self) -> str:
        return f"SIP/2.0/UDP {self.host}:{self.port};branch=z9hG4bK{secrets.token_hex(6)};rport"

    def contact(self) -> str:
        return f"<sip:{self.user}@{self.host}:{self.port}>"

    def reply(self, request: SipRequest, status: int, *, to_tag: str | None = None,
              body: bytes = b"", reason: str = "", extra: str = "") -> None:
        lines = [f"SIP/2.0 {status} {reason or 'Whatever'}"]
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            for value in request.headers.get_all(name):
                if name == "To" and to_tag and request.to_tag is None:
                    value = f"{value};tag={to_tag}"
                lines.append(f"{name}: {value}")
        lines.append(f"Contact: {self.contact()}")
        if extra:
            lines.append(extra)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    # -- registration --------------------------------------------------------------------------
    def _register(self, authorization: str = "") -> bytes:
        self.reg_cseq += 1
        lines = [f"REGISTER sip:{DOMAIN} SIP/2.0", f"Via: {self.via()}", "Max-Forwards: 70",
                 f"From: <sip:{self.user}@{DOMAIN}>;tag={secrets.token_hex(4)}",
                 f"To: <sip:{self.user}@{DOMAIN}>", f"Call-ID: {self.reg_call_id}",
                 f"CSeq: {self.reg_cseq} REGISTER", f"Contact: {self.contact()}",
                 "Expires: 600", f"User-Agent: {self.user_agent}"]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        lines.append("Content-Length: 0")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def register(self) -> None:
        self.send(self._register())
        challenge = await self.expect_response("REGISTER")
        assert challenge.status_code == 401, challenge
        self.send(self._register(digest_authorization(
            challenge_for(challenge), method="REGISTER", uri=f"sip:{DOMAIN}",
            username=self.user, password=self.password)))
        done = await self.expect_response("REGISTER")
        assert done.status_code == 200, done

    # -- calling -------------------------------------------------------------------------------
    def _invite(self, dialog: Dialog, body: bytes, authorization: str = "") -> bytes:
        lines = [f"INVITE {dialog.target} SIP/2.0", f"Via: {self.via()}", "Max-Forwards: 70",
                 f"From: {dialog.local_uri};tag={dialog.local_tag}",
                 f"To: {dialog.remote_uri}" + (f";tag={dialog.remote_tag}"
                                               if dialog.remote_tag else ""),
                 f"Call-ID: {dialog.call_id}", f"CSeq: {dialog.cseq} INVITE",
                 f"Contact: {self.contact()}", f"User-Agent: {self.user_agent}"]
        if authorization:
            lines.append(f"Proxy-Authorization: {authorization}")
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def invite(self, number: str, body: bytes | None = None) -> Dialog:
        """INVITE ``number`` without credentials (a carrier does that)."""
        dialog = Dialog(call_id=f"{secrets.token_hex(8)}@{self.user}",
                        local_tag=secrets.token_hex(4),
                        local_uri=f"<sip:{self.user}@{DOMAIN}>",
                        remote_uri=f"<sip:{number}@{DOMAIN}>",
                        target=f"sip:{number}@{DOMAIN}")
        dialog.invite = self._invite(
            dialog, sdp(self.rtp_port, address=self.host) if body is None else body)
        self.send(dialog.invite)
        return dialog

    async def call(self, number: str, body: bytes | None = None) -> Dialog:
        """INVITE ``number``, answering the 407 challenge; returns once the authenticated
        INVITE is sent (responses are for the test to expect)."""
        offer = sdp(self.rtp_port, address=self.host) if body is None else body
        dialog = self.invite(number, offer)
        challenge = await self.expect_response("INVITE")
        assert challenge.status_code == 407, challenge
        self.ack_failure(dialog, challenge)
        dialog.cseq += 1
        authorization = digest_authorization(
            challenge_for(challenge, header="Proxy-Authenticate"), method="INVITE",
            uri=dialog.target, username=self.user, password=self.password)
        dialog.invite = self._invite(dialog, offer, authorization)
        self.send(dialog.invite)
        return dialog

    def ack_failure(self, dialog: Dialog, response: SipResponse) -> None:
        """§17.1.1.3: the ACK to a non-2xx final response (same branch as the INVITE)."""
        to = response.headers.get("To")
        lines = [f"ACK {dialog.target} SIP/2.0", f"Via: {response.headers.get('Via')}",
                 "Max-Forwards: 70", f"From: {response.headers.get('From')}", f"To: {to}",
                 f"Call-ID: {dialog.call_id}", f"CSeq: {dialog.cseq} ACK", "Content-Length: 0"]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def confirmed(self, dialog: Dialog, response: SipResponse) -> None:
        """Our INVITE got a 2xx: remember the dialog and ACK it (§13.2.2.4)."""
        dialog.remote_tag = response.to_tag or ""
        contact = re.search(r"<([^>]+)>", response.headers.get("Contact") or "")
        assert contact, response
        dialog.target = contact[1]
        if response.body:
            dialog.remote_media = sdp_port(response.body)
        self.ack(dialog)

    def ack(self, dialog: Dialog) -> None:
        self.send(self.in_dialog(dialog, "ACK", cseq=dialog.cseq))

    def in_dialog(self, dialog: Dialog, method: str, *, cseq: int | None = None,
                  body: bytes = b"", content_type: str = "application/sdp",
                  extra: str = "") -> bytes:
        if cseq is None:
            dialog.cseq += 1
            cseq = dialog.cseq
        lines = [f"{method} {dialog.target} SIP/2.0", f"Via: {self.via()}", "Max-Forwards: 70",
                 f"From: {dialog.local_uri};tag={dialog.local_tag}",
                 f"To: {dialog.remote_uri};tag={dialog.remote_tag}",
                 f"Call-ID: {dialog.call_id}", f"CSeq: {cseq} {method}",
                 f"Contact: {self.contact()}"]
        if extra:
            lines.append(extra)
        if body:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def bye(self, dialog: Dialog) -> SipResponse:
        self.send(self.in_dialog(dialog, "BYE"))
        return await self.expect_response("BYE")

    async def reinvite(self, dialog: Dialog, direction: str,
                       address: str = "127.0.0.1") -> SipResponse:
        self.send(self.in_dialog(dialog, "INVITE", body=sdp(self.rtp_port, direction=direction,
                                                             address=address)))
        response = await self.expect_response("INVITE")
        if response.status_code < 300:
            self.ack(dialog)
        return response

    # -- being called ----------------------------------------------------------------------------
    async def ring(self, timeout: float = 3.0) -> tuple[SipRequest, Dialog]:
        """Wait for an INVITE, answer 180; returns it and the dialog we would form."""
        invite = await self.expect_request("INVITE", timeout)
        dialog = Dialog(call_id=invite.call_id, local_tag=secrets.token_hex(4),
                        remote_tag=invite.from_tag or "",
                        local_uri=invite.headers.get("To") or "",
                        remote_uri=(invite.headers.get("From") or "").split(";tag=")[0],
                        cseq=100)
        contact = re.search(r"<([^>]+)>", invite.headers.get("Contact") or "")
        assert contact, invite
        dialog.target = contact[1]
        dialog.remote_media = sdp_port(invite.body)
        self.reply(invite, 180, to_tag=dialog.local_tag)
        return invite, dialog

    def answer(self, invite: SipRequest, dialog: Dialog, body: bytes | None = None) -> None:
        self.reply(invite, 200, to_tag=dialog.local_tag,
                   body=sdp(self.rtp_port, address=self.host) if body is None else body)

    # -- RTP ----------------------------------------------------------------------------------
    def send_rtp(self, destination: tuple[str, int], count: int, *, payload_type: int = 0,
                 fill: int = 0x55, ssrc: int = 0x1234, first_seq: int = 1) -> None:
        assert self.rtp.transport is not None
        for i in range(count):
            header = struct.pack("!BBHII", 0x80, payload_type, (first_seq + i) & 0xFFFF,
                                 (first_seq + i) * 160, ssrc)
            self.rtp.transport.sendto(header + bytes([fill]) * 160, destination)

    def payloads(self) -> list[bytes]:
        return [data[12:] for data, _ in self.rtp.received]


async def phones(engine: Engine, *users: str) -> list[Phone]:
    """Phones for ``users``, registered to ``engine`` over UDP (close them when done)."""
    out = []
    for user in users:
        phone = await Phone(user, engine.addresses[TransportKind.UDP]).__aenter__()
        await phone.register()
        out.append(phone)
    return out


async def record_of(store: MemoryStore, timeout: float = 2.0, count: int = 1) -> CallRecord:
    """The last call record written, once ``count`` exist (records are written in batches,
    a moment after a call ends)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(store.call_records) < count:
        assert loop.time() < deadline, "no call record written"
        await asyncio.sleep(0.01)
    return store.call_records[-1]


async def connected(a: Phone, b: Phone, number: str = "202") -> tuple[Dialog, Dialog]:
    """``a`` calls ``number``, ``b`` rings and answers, both sides ACKed: a call in progress."""
    dialog_a = await a.call(number)
    invite, dialog_b = await b.ring()
    b.answer(invite, dialog_b)
    a.confirmed(dialog_a, await a.expect_response("INVITE"))
    await b.expect_request("ACK")
    return dialog_a, dialog_b
