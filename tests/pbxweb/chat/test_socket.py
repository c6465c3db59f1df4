"""Chat over the browser WebSocket: live delivery, receipts, refused frames, flood limits,
and that no frame or subscription reaches another extension's conversation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from pbxweb.accounts.models import Extension
from pbxweb.asgi import application
from pbxweb.chat import actions
from pbxweb.chat.models import Membership, Message
from pbxweb.chat.socket import TokenBucket
from tests.factories import make_extension

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def _cookie(extension: Extension) -> tuple[bytes, bytes]:
    session = SessionStore()
    session[SESSION_KEY] = str(extension.pk)
    session[BACKEND_SESSION_KEY] = "pbxweb.accounts.backends.ExtensionBackend"
    session[HASH_SESSION_KEY] = extension.get_session_auth_hash()
    session.save()
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode())


@database_sync_to_async
def _people() -> dict[str, Any]:
    onthaal = make_extension("201", first_name="Onthaal")
    bib = make_extension("202", first_name="Bib")
    outsider = make_extension("203", first_name="Bevolking-Loket 1")
    conversation = actions.do_start_direct(onthaal, "202")
    return {"onthaal": onthaal, "bib": bib, "outsider": outsider,
            "conversation": conversation.pk,
            "cookies": {n: _cookie(e) for n, e in
                        (("onthaal", onthaal), ("bib", bib), ("outsider", outsider))}}


async def _socket(cookie: tuple[bytes, bytes]) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/", headers=[ORIGIN, cookie])
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "hello"
    return communicator


async def _next(communicator: WebsocketCommunicator, kind: str,
                timeout: float = 3) -> dict[str, Any]:
    while True:
        event = await communicator.receive_json_from(timeout=timeout)
        if event["type"] == kind:
            return event


@pytest.fixture
async def chat():
    people = await _people()
    sockets = {name: await _socket(cookie) for name, cookie in people["cookies"].items()}
    yield people, sockets
    for communicator in sockets.values():
        await communicator.disconnect()


async def test_a_message_reaches_both_members_live_and_only_them(chat) -> None:
    people, sockets = chat
    await sockets["onthaal"].send_json_to({"type": "chat.send",
                                           "conversation": people["conversation"],
                                           "text": "Bezoeker aan de balie", "client_id": "k1"})
    for name in ("bib", "onthaal"):
        event = await _next(sockets[name], "chat.message")
        assert event["message"]["text"] == "Bezoeker aan de balie"
        assert event["message"]["client_id"] == "k1"
    assert await sockets["outsider"].receive_nothing(timeout=0.3)
    stored = await database_sync_to_async(lambda: list(Message.objects.values_list("text",
                                                                                   flat=True)))()
    assert stored == ["Bezoeker aan de balie"]


async def test_delivered_and_read_receipts_reach_the_sender(chat) -> None:
    people, sockets = chat
    conversation = people["conversation"]
    await sockets["onthaal"].send_json_to({"type": "chat.send", "conversation": conversation,
                                           "text": "Getekend?"})
    message = (await _next(sockets["bib"], "chat.message"))["message"]
    await sockets["bib"].send_json_to({"type": "chat.delivered", "conversation": conversation,
                                       "message": message["id"]})
    receipt = await _next(sockets["onthaal"], "chat.receipt")
    assert receipt["extension"] == people["bib"].pk
    assert receipt["delivered_up_to"] == message["id"] and receipt["read_up_to"] == 0
    await sockets["bib"].send_json_to({"type": "chat.read", "conversation": conversation,
                                       "message": message["id"]})
    receipt = await _next(sockets["onthaal"], "chat.receipt")
    assert receipt["read_up_to"] == message["id"]
    unread = await _next(sockets["bib"], "chat.unread")
    assert unread["unread"] == 0 and unread["total"] == 0


@pytest.mark.parametrize("frame,code", [
    ({"type": "chat.send", "conversation": "x", "text": "hallo"}, "not_found"),
    ({"type": "chat.send", "text": "hallo"}, "not_found"),
    ({"type": "chat.send", "conversation": "{c}", "text": ""}, "bad_message"),
    ({"type": "chat.send", "conversation": "{c}", "text": {"html": "<b>"}}, "bad_message"),
    ({"type": "chat.send", "conversation": "{c}", "text": "x" * 5000}, "bad_message"),
    ({"type": "chat.send", "conversation": "{c}", "text": "x", "client_id": 7}, "bad_message"),
    ({"type": "chat.read", "conversation": "{c}", "message": "alles"}, "bad_message"),
    ({"type": "chat.delivered", "conversation": "{c}"}, "bad_message"),
    ({"type": "chat.delivered", "conversation": [1], "message": 1}, "not_found"),
])
async def test_malformed_chat_frames_get_an_error_and_change_nothing(chat, frame, code) -> None:
    people, sockets = chat
    frame = json.loads(json.dumps(frame).replace('"{c}"', str(people["conversation"])))
    before = await database_sync_to_async(_snapshot)()
    await sockets["onthaal"].send_json_to(frame)
    error = await _next(sockets["onthaal"], "error")
    assert error["code"] == code and error["message"]
    assert await database_sync_to_async(_snapshot)() == before
    assert await sockets["bib"].receive_nothing(timeout=0.2)
    # The socket lives on.
    await sockets["onthaal"].send_json_to({"type": "ping", "id": 3})
    assert (await _next(sockets["onthaal"], "pong"))["id"] == 3


def _snapshot() -> tuple:
    return (list(Message.objects.values()), list(Membership.objects.values()))


@pytest.mark.parametrize("kind", ["chat.send", "chat.delivered", "chat.read"])
async def test_an_outsider_cannot_reach_a_conversation_with_frames(chat, kind) -> None:
    people, sockets = chat
    await sockets["onthaal"].send_json_to({"type": "chat.send",
                                           "conversation": people["conversation"],
                                           "text": "geheim"})
    message = (await _next(sockets["bib"], "chat.message"))["message"]
    await _next(sockets["onthaal"], "chat.message")
    before = await database_sync_to_async(_snapshot)()
    await sockets["outsider"].send_json_to({"type": kind, "conversation": people["conversation"],
                                            "text": "ingebroken", "message": message["id"]})
    error = await _next(sockets["outsider"], "error")
    # The same answer as for a conversation that does not exist.
    assert error["code"] == "not_found"
    assert "geheim" not in json.dumps(error)
    assert await database_sync_to_async(_snapshot)() == before
    assert await sockets["onthaal"].receive_nothing(timeout=0.2)
    assert await sockets["bib"].receive_nothing(timeout=0.2)


async def test_a_flooding_socket_is_rate_limited_and_others_are_unaffected(chat) -> None:
    people, sockets = chat
    conversation = people["conversation"]
    frames = [json.dumps({"type": "chat.send", "conversation": conversation, "text": f"spam {n}"})
              for n in range(10_000)]
    for frame in frames:
        await sockets["onthaal"].send_to(text_data=frame)
    seen: list[dict[str, Any]] = []
    # (receive_nothing does not cancel the application on a timeout as receive_json_from does)
    while not await sockets["onthaal"].receive_nothing(timeout=1, interval=0.05):
        seen.append(await sockets["onthaal"].receive_json_from())
    errors = [e for e in seen if e["type"] == "error"]
    assert errors and {e["code"] for e in errors} == {"rate_limited"}
    assert "slow down" in errors[0]["message"]
    assert len(errors) <= 5  # one notice per second, not one per dropped frame
    stored = await database_sync_to_async(Message.objects.count)()
    assert 0 < stored <= settings.CHAT_SOCKET_BURST + settings.CHAT_SOCKET_RATE * 10
    # Another member's socket is not held up by the flood.
    await sockets["bib"].send_json_to({"type": "chat.send", "conversation": conversation,
                                       "text": "Ik ben er nog", "client_id": "b1"})
    while True:
        event = await _next(sockets["bib"], "chat.message", timeout=3)
        if event["message"]["client_id"] == "b1":
            break


def test_the_token_bucket_refills_with_time() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5
    assert bucket.take() and not bucket.take()
    now[0] += 10
    assert sum(bucket.take() for _ in range(10)) == 3
