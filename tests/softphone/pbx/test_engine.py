"""The engine over real loopback sockets: registrar, OPTIONS, auth, method handling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from softphone.pbx.engine import Engine
from softphone.pbx.storage import MemoryStore
from softphone.sip.headers import parse_auth
from tests.softphone.pbx.conftest import tcp_address, udp_address
from tests.softphone.pbx.sipclient import (
    Dialogue,
    SipTestClient,
    challenge_for,
    contact_expiries,
    digest_authorization,
)


@pytest.fixture(params=["udp", "tcp"])
async def client(request: pytest.FixtureRequest, engine: Engine) -> AsyncIterator[SipTestClient]:
    address = udp_address(engine) if request.param == "udp" else tcp_address(engine)
    async with SipTestClient(request.param, address) as client:
        yield client


async def test_options_answers_capabilities_and_stamps_via(client: SipTestClient) -> None:
    response = await client.request(client.simple("OPTIONS", "sip:127.0.0.1"))
    assert response.status_code == 200
    assert "REGISTER" in response.header("Allow")  # type: ignore[operator]
    assert response.header("Accept") == "application/sdp"
    assert "Supported" in response.headers
    assert response.to_tag  # a final response carries a To tag (§8.2.6.2)
    via = response.top_via
    assert via.rport == client.local_port and via.received == "127.0.0.1"  # RFC 3581


async def test_options_for_an_unknown_extension_is_404(client: SipTestClient) -> None:
    assert (await client.request(client.simple("OPTIONS", "sip:999@127.0.0.1"))).status_code \
        == 404
    assert (await client.request(client.simple("OPTIONS", "sip:202@127.0.0.1"))).status_code \
        == 200


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
async def test_register_with_digest_then_lookup(client: SipTestClient, engine: Engine,
                                                store: MemoryStore, algorithm: str) -> None:
    dialogue = Dialogue("201")
    first = await client.request(client.register(dialogue))
    assert first.status_code == 401
    offered = [parse_auth(v).as_dict()["algorithm"]
               for v in first.headers.get_all("WWW-Authenticate")]
    assert offered == ["SHA-256", "MD5"]  # RFC 8760 §2.4: preferred first

    response = await client.register_with_auth(dialogue, "pw-201", algorithm=algorithm)
    assert response.status_code == 200
    contact = f"sip:201@127.0.0.1:{client.local_port};transport={client.kind}"
    assert contact_expiries(response) == {contact: 600}
    assert response.header("Date")
    [binding] = engine.location.lookup("201", engine.wall_clock())
    assert binding.contact == contact
    assert binding.source == f"{client.kind}:127.0.0.1:{client.local_port}"
    await engine.writer.flush()
    assert ("201", contact) in store.bindings  # persisted (write-behind)


async def test_several_devices_refresh_and_unregister(client: SipTestClient,
                                                      engine: Engine) -> None:
    desk, dect = Dialogue("201"), Dialogue("201")
    assert (await client.register_with_auth(desk, "pw-201", contact="<sip:201@10.0.0.5>")
            ).status_code == 200
    second = await client.register_with_auth(dect, "pw-201", contact="<sip:201@10.0.0.6>",
                                             expires=300)
    assert contact_expiries(second) == {"sip:201@10.0.0.5": 600, "sip:201@10.0.0.6": 300}
    # A refresh from the same Call-ID with a higher CSeq keeps one binding per contact.
    refresh = await client.register_with_auth(desk, "pw-201", contact="<sip:201@10.0.0.5>",
                                              expires=120)
    assert contact_expiries(refresh)["sip:201@10.0.0.5"] == 120
    assert len(engine.location.lookup("201", engine.wall_clock())) == 2
    # Expires 0 for one contact, then "*" for the rest (§10.2.2).
    gone = await client.register_with_auth(desk, "pw-201", contact="<sip:201@10.0.0.5>",
                                           expires=0)
    assert contact_expiries(gone) == {"sip:201@10.0.0.6": 300}
    star = await client.register_with_auth(dect, "pw-201", contact="*", expires=0)
    assert star.status_code == 200 and not star.headers.get_all("Contact")
    assert engine.location.lookup("201", engine.wall_clock()) == []


async def test_register_without_contact_queries_bindings(client: SipTestClient) -> None:
    dialogue = Dialogue("202")
    await client.register_with_auth(dialogue, "pw-202", contact="<sip:202@10.1.1.1>")
    query = await client.register_with_auth(dialogue, "pw-202", contact="", expires=None)
    assert query.status_code == 200
    assert list(contact_expiries(query)) == ["sip:202@10.1.1.1"]


async def test_interval_too_brief_is_423_with_min_expires(client: SipTestClient,
                                                          engine: Engine) -> None:
    response = await client.register_with_auth(Dialogue("201"), "pw-201", expires=10)
    assert response.status_code == 423
    assert response.header("Min-Expires") == "60"
    assert engine.location.count() == 0


async def test_expires_above_max_is_shortened(client: SipTestClient) -> None:
    response = await client.register_with_auth(Dialogue("201"), "pw-201", expires=86400)
    assert list(contact_expiries(response).values()) == [3600]


async def test_out_of_order_cseq_is_refused(client: SipTestClient, engine: Engine) -> None:
    dialogue = Dialogue("201")
    assert (await client.register_with_auth(dialogue, "pw-201")).status_code == 200
    dialogue.cseq = 0  # a late, older REGISTER of the same Call-ID (§10.3 step 7)
    response = await client.register_with_auth(dialogue, "pw-201", expires=0)
    assert response.status_code == 500
    assert engine.location.count() == 1


@pytest.mark.parametrize("user,password", [("201", "wrong"), ("299", "pw-299")])
async def test_wrong_password_and_unknown_user_get_the_same_403(
        client: SipTestClient, engine: Engine, user: str, password: str) -> None:
    response = await client.register_with_auth(Dialogue(user), password)
    assert response.status_code == 403
    assert not response.headers.get_all("WWW-Authenticate")
    assert engine.location.count() == 0


async def test_credentials_for_another_extension_are_refused(client: SipTestClient,
                                                             engine: Engine) -> None:
    dialogue = Dialogue("201")
    first = await client.request(client.register(dialogue, aor="202"))
    authorization = digest_authorization(challenge_for(first), method="REGISTER",
                                         uri="sip:127.0.0.1", username="201",
                                         password="pw-201")
    response = await client.request(client.register(dialogue, aor="202",
                                                    authorization=authorization))
    assert response.status_code == 403
    assert engine.location.count() == 0


async def test_replayed_nonce_count_is_stale(client: SipTestClient) -> None:
    dialogue = Dialogue("201")
    first = await client.request(client.register(dialogue))
    authorization = digest_authorization(challenge_for(first), method="REGISTER",
                                         uri="sip:127.0.0.1", username="201",
                                         password="pw-201")
    assert (await client.request(client.register(dialogue, authorization=authorization))
            ).status_code == 200
    replay = await client.request(client.register(dialogue, authorization=authorization))
    assert replay.status_code == 401
    assert parse_auth(challenge_for(replay)).as_dict()["stale"].lower() == "true"


async def test_malformed_credentials_are_400(client: SipTestClient) -> None:
    dialogue = Dialogue("201")
    response = await client.request(client.register(
        dialogue, authorization='Digest username="201", realm="pbxweb", nonce="x"'))
    assert response.status_code == 400


async def test_repeated_failures_ban_the_address(engine: Engine) -> None:
    async with SipTestClient("udp", udp_address(engine)) as client:
        for _ in range(5):  # TEST_CONFIG bans after 5 failures
            assert (await client.register_with_auth(Dialogue("201"), "guess")).status_code \
                == 403
        client.send(client.simple("OPTIONS", "sip:127.0.0.1"))
        assert await client.nothing_within(0.5)  # dropped without an answer
        assert engine.stats["banned_drops"] >= 1


async def test_retransmitted_register_gets_the_same_answer(engine: Engine) -> None:
    async with SipTestClient("udp", udp_address(engine)) as client:
        dialogue = Dialogue("201")
        challenge = await client.request(client.register(dialogue))
        authorization = digest_authorization(challenge_for(challenge), method="REGISTER",
                                             uri="sip:127.0.0.1", username="201",
                                             password="pw-201")
        message = client.register(dialogue, authorization=authorization)
        first = await client.request(message)
        again = await client.request(message)  # same branch: absorbed by the transaction
        assert first.status_code == again.status_code == 200  # not re-verified (no replay)
        assert again.to_tag == first.to_tag


async def test_unauthenticated_register_is_challenged_statelessly(engine: Engine) -> None:
    async with SipTestClient("udp", udp_address(engine)) as client:
        message = client.register(Dialogue("201"))
        first = await client.request(message)
        again = await client.request(message)
        assert first.status_code == again.status_code == 401
        assert len(engine.layer) == 0  # no transaction kept for a challenge
        assert again.header("WWW-Authenticate") != first.header("WWW-Authenticate")


@pytest.mark.parametrize("method,status", [
    ("FOO", 501), ("MESSAGE", 405), ("PUBLISH", 405), ("SUBSCRIBE", 400), ("BYE", 481)])
async def test_methods_we_do_not_serve(client: SipTestClient, method: str,
                                       status: int) -> None:
    response = await client.request(client.simple(method, "sip:202@127.0.0.1"))
    assert response.status_code == status
    if status in (405, 501):
        assert "REGISTER" in (response.header("Allow") or "")


async def test_invite_is_challenged_then_routed(client: SipTestClient) -> None:
    invite = client.simple("INVITE", "sip:202@127.0.0.1", call_id="call-1")
    first = await client.receive_first_final(invite)
    assert first.status_code == 407
    challenge = challenge_for(first, header="Proxy-Authenticate")
    authorization = digest_authorization(challenge, method="INVITE", uri="sip:202@127.0.0.1",
                                         username="201", password="pw-201")
    authed = client.simple("INVITE", "sip:202@127.0.0.1",
                           extra=f"Proxy-Authorization: {authorization}")
    # Calls arrive with issue #5; until then a known, unregistered extension is 480.
    assert (await client.receive_first_final(authed)).status_code == 480
    nobody = client.simple("INVITE", "sip:777@127.0.0.1", extra=f"Proxy-Authorization: "
                           f"{digest_authorization(challenge, method='INVITE', uri='sip:777@127.0.0.1', username='201', password='pw-201', nc=2)}")  # noqa: E501
    assert (await client.receive_first_final(nobody)).status_code == 404


async def test_invite_with_someone_elses_from_is_403(client: SipTestClient) -> None:
    first = await client.receive_first_final(client.simple("INVITE", "sip:202@127.0.0.1"))
    authorization = digest_authorization(
        challenge_for(first, header="Proxy-Authenticate"), method="INVITE",
        uri="sip:202@127.0.0.1", username="201", password="pw-201")
    spoofed = client.simple("INVITE", "sip:202@127.0.0.1", from_user="202",
                            extra=f"Proxy-Authorization: {authorization}")
    assert (await client.receive_first_final(spoofed)).status_code == 403


async def test_registrations_survive_a_restart(store: MemoryStore, engine: Engine) -> None:
    async with SipTestClient("udp", udp_address(engine)) as client:
        assert (await client.register_with_auth(Dialogue("201"), "pw-201",
                                                contact="<sip:201@10.0.0.9>")).status_code \
            == 200
    await engine.stop()
    again = Engine(engine.config, store)
    await again.start()
    try:
        [binding] = again.location.lookup("201", again.wall_clock())
        assert binding.contact == "sip:201@10.0.0.9"
    finally:
        await again.stop()


async def test_expired_registration_is_removed(store: MemoryStore, engine: Engine) -> None:
    clock = [engine.wall_clock()]
    async with SipTestClient("udp", udp_address(engine)) as client:
        await client.register_with_auth(Dialogue("201"), "pw-201", expires=60)
    await engine.writer.flush()
    assert len(store.bindings) == 1
    clock[0] += 61
    engine.wall_clock = lambda: clock[0]
    await asyncio.sleep(1.3)  # one sweep
    await engine.writer.flush()
    assert engine.location.count() == 0 and store.bindings == {}
