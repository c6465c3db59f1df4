"""Calls through the SIP trunk: out to the carrier (answering its digest challenge), in from
the carrier by DID, and the outbound restrictions that keep toll fraud out. The carrier is a
scripted UA on another loopback address (127.0.0.2), as a real carrier is another machine."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from softphone.pbx.cdr import CallDirection, Disposition
from softphone.pbx.config import EngineConfig
from softphone.pbx.engine import Engine
from softphone.pbx.storage import ExtensionInfo, MemoryStore, OutboundPermission, TrunkConfig
from softphone.sip.digest import DigestAuthenticator, StoredHa1, ha1_md5, ha1_sha256
from softphone.sip.headers import parse_auth
from tests.softphone.pbx.conftest import config_with, credentials, udp_address
from tests.softphone.pbx.phone import Dialog, Phone, record_of, sdp_port

CARRIER_HOST = "127.0.0.2"
TRUNK_USER, TRUNK_PASSWORD, CARRIER_REALM = "trunk1", "carrier-s3cret", "carrier.example"


def _contact(value: str | None) -> str:
    match = re.search(r"<([^>]+)>", value or "")
    assert match, value
    return match[1]


@pytest.fixture
async def carrier() -> AsyncIterator[Phone]:
    async with Phone("carrier", ("127.0.0.1", 0), host=CARRIER_HOST) as phone:
        yield phone


@pytest.fixture
def store(carrier: Phone) -> MemoryStore:
    return MemoryStore(
        [credentials(n) for n in ("201", "202", "203")],
        [ExtensionInfo("201", "Onthaal", outbound=OutboundPermission.NATIONAL),
         ExtensionInfo("202", "Bib", outbound=OutboundPermission.INTERNATIONAL),
         ExtensionInfo("203", "Bevolking-Loket 1", outbound=OutboundPermission.INTERNAL)],
        trunks=[TrunkConfig("carrier", CARRIER_HOST, carrier.port, username=TRUNK_USER,
                            password=TRUNK_PASSWORD, register=False,
                            outbound_caller_id="+3250111111",
                            dids={"+3250123456": "202", "+3250111111": "201"})])


@pytest.fixture
def engine_config() -> EngineConfig:
    return config_with(rtp_port_first=21400, rtp_port_last=21599)


@pytest.fixture
def office(engine: Engine, carrier: Phone,
           three: tuple[Phone, Phone, Phone]) -> tuple[Phone, Phone, Phone]:
    carrier.engine = udp_address(engine)
    return three


async def test_an_outgoing_call_answers_the_carriers_challenge_and_connects(
        engine: Engine, store: MemoryStore, carrier: Phone,
        office: tuple[Phone, Phone, Phone]) -> None:
    a, _, _ = office
    dialog_a = await a.call("050/12.34-99")  # a national number as people key it in
    first = await carrier.expect_request("INVITE")
    assert first.uri.user == "+3250123499"  # type: ignore[union-attr]
    assert "<sip:+3250111111@" in (first.headers.get("From") or "")  # the trunk's caller ID
    server = DigestAuthenticator(CARRIER_REALM, b"c" * 32, now=1.0, algorithms=("MD5",))
    (challenge,) = server.challenges(1.0)
    carrier.reply(first, 407, to_tag="ch", extra=f"Proxy-Authenticate: "
                                                f"{challenge.header_value()}")
    await carrier.expect_request("ACK")
    second = await carrier.expect_request("INVITE")
    assert second.call_id == first.call_id and second.cseq.number == first.cseq.number + 1
    credentials_value = second.headers.get("Proxy-Authorization") or ""
    verdict = server.verify(parse_auth(credentials_value).as_dict(), "INVITE", StoredHa1(
        ha1_md5(TRUNK_USER, CARRIER_REALM, TRUNK_PASSWORD),
        ha1_sha256(TRUNK_USER, CARRIER_REALM, TRUNK_PASSWORD)), now=2.0)
    assert verdict.ok, verdict
    invite = second
    dialog_c = Dialog(call_id=invite.call_id, local_tag="carrier1",
                      remote_tag=invite.from_tag or "", cseq=100,
                      local_uri=invite.headers.get("To") or "",
                      remote_uri=(invite.headers.get("From") or "").split(";tag=")[0],
                      target=_contact(invite.headers.get("Contact")),
                      remote_media=sdp_port(invite.body))
    carrier.answer(invite, dialog_c)
    ok = await a.expect_response("INVITE")
    assert ok.status_code == 200
    a.confirmed(dialog_a, ok)
    await carrier.expect_request("ACK")
    assert dialog_a.remote_media and dialog_c.remote_media
    carrier.send_rtp(dialog_c.remote_media, 10, fill=0x61)
    await asyncio.sleep(0.2)
    assert any(p == bytes([0x61]) * 160 for p in a.payloads())
    await a.bye(dialog_a)
    carrier.reply(await carrier.expect_request("BYE"), 200)
    record = await record_of(store)
    assert record.direction is CallDirection.OUTBOUND
    assert record.callee_number == "+3250123499" and record.callee_extension is None
    assert record.disposition is Disposition.ANSWERED


async def test_an_inbound_did_call_rings_its_extension(
        engine: Engine, store: MemoryStore, carrier: Phone,
        office: tuple[Phone, Phone, Phone]) -> None:
    _, b, _ = office
    dialog = carrier.invite("+3250123456")  # no credentials: a carrier never has any
    invite, dialog_b = await b.ring()
    assert "+3250987654" not in (invite.headers.get("From") or "")
    b.answer(invite, dialog_b)
    ok = await carrier.expect_response("INVITE")
    assert ok.status_code == 200
    carrier.confirmed(dialog, ok)
    await b.expect_request("ACK")
    await carrier.bye(dialog)
    b.reply(await b.expect_request("BYE"), 200)
    record = await record_of(store)
    assert record.direction is CallDirection.INBOUND
    assert record.callee_extension == "202" and record.caller_extension is None
    assert record.caller_number == "carrier"


async def test_an_inbound_call_to_an_unknown_did_gets_404_and_a_record(
        engine: Engine, store: MemoryStore, carrier: Phone,
        office: tuple[Phone, Phone, Phone]) -> None:
    dialog = carrier.invite("+3250000000")
    response = await carrier.expect_response("INVITE")
    assert response.status_code == 404
    carrier.ack_failure(dialog, response)
    record = await record_of(store)
    assert record.direction is CallDirection.INBOUND and record.disposition is Disposition.FAILED


@pytest.mark.parametrize(("user", "dialled", "status"), [
    ("201", "0044 20 7946 0000", 403),  # national permission, international number
    ("201", "0900 12 345", 403),  # premium is never national
    ("203", "050 12 34 99", 403),  # internal only
])
async def test_forbidden_destinations_get_403_and_a_blocked_record(
        engine: Engine, store: MemoryStore, carrier: Phone,
        office: tuple[Phone, Phone, Phone], user: str, dialled: str, status: int) -> None:
    phone = {"201": office[0], "203": office[2]}[user]
    dialog = await phone.call(dialled.replace(" ", ""))
    response = await phone.expect_response("INVITE")
    assert response.status_code == status
    phone.ack_failure(dialog, response)
    assert await carrier.quiet(0.2) == []  # nothing reached the carrier
    record = await record_of(store)
    assert record.disposition is Disposition.BLOCKED and record.status_code == 403


async def test_an_international_extension_may_call_abroad(
        engine: Engine, store: MemoryStore, carrier: Phone,
        office: tuple[Phone, Phone, Phone]) -> None:
    _, b, _ = office
    dialog = await b.call("00442079460000")
    invite = await carrier.expect_request("INVITE")
    assert invite.uri.user == "+442079460000"  # type: ignore[union-attr]
    carrier.reply(invite, 486, to_tag="busy")
    response = await b.expect_response("INVITE")
    assert response.status_code == 486
    b.ack_failure(dialog, response)
    assert (await record_of(store)).disposition is Disposition.BUSY


async def test_a_number_that_is_neither_an_extension_nor_dialable_gets_404(
        engine: Engine, office: tuple[Phone, Phone, Phone]) -> None:
    a, _, _ = office
    dialog = await a.call("299")
    response = await a.expect_response("INVITE")
    assert response.status_code == 404
    a.ack_failure(dialog, response)
