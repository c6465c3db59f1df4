"""The browser WebSocket: session auth, Origin check, validated frames."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from pbxweb.accounts.models import Extension
from pbxweb.asgi import application
from pbxweb.webclient.consumers import CLOSE_UNAUTHENTICATED
from pbxweb.webclient.events import MAX_FRAME_BYTES, layer_message, user_group
from tests.factories import make_extension

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@database_sync_to_async
def session_cookie_for(number: str) -> tuple[bytes, bytes]:
    extension = make_extension(number)
    session = SessionStore()
    session[SESSION_KEY] = str(extension.pk)
    session[BACKEND_SESSION_KEY] = "pbxweb.accounts.backends.ExtensionBackend"
    session[HASH_SESSION_KEY] = extension.get_session_auth_hash()
    session.save()
    cookie = f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()
    return (b"cookie", cookie)


async def connect(headers: list[tuple[bytes, bytes]]) -> tuple[WebsocketCommunicator, bool, int]:
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_logged_in_extension_connects_and_is_greeted() -> None:
    cookie = await session_cookie_for("201")
    communicator, connected, _ = await connect([ORIGIN, cookie])
    assert connected
    hello = await communicator.receive_json_from()
    assert hello == {"type": "hello", "v": 1, "extension": "201"}
    await communicator.send_json_to({"type": "ping", "id": 7})
    assert await communicator.receive_json_from() == {"type": "pong", "v": 1, "id": 7}
    await communicator.disconnect()


async def test_websocket_without_session_is_closed() -> None:
    _communicator, connected, code = await connect([ORIGIN])
    assert not connected
    assert code == CLOSE_UNAUTHENTICATED


async def test_websocket_from_a_foreign_origin_is_refused() -> None:
    cookie = await session_cookie_for("201")
    _communicator, connected, _ = await connect([(b"origin", b"https://evil.example"), cookie])
    assert not connected


@pytest.mark.parametrize("frame,code", [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_message"),
    ('{"no": "type"}', "bad_message"),
    ('{"type": 5}', "bad_message"),
    ('{"type": "launch_missiles"}', "unknown_type"),
    (json.dumps({"type": "ping", "pad": "x" * MAX_FRAME_BYTES}), "frame_too_large"),
])
async def test_malformed_frames_get_an_error_event_and_the_socket_lives_on(
        frame: str, code: str) -> None:
    cookie = await session_cookie_for("201")
    communicator, connected, _ = await connect([ORIGIN, cookie])
    assert connected
    await communicator.receive_json_from()
    await communicator.send_to(text_data=frame)
    error = await communicator.receive_json_from()
    assert error["type"] == "error" and error["code"] == code and error["message"]
    await communicator.send_json_to({"type": "ping", "id": 1})
    assert (await communicator.receive_json_from())["type"] == "pong"
    await communicator.disconnect()


async def test_binary_frames_are_refused_with_an_error() -> None:
    cookie = await session_cookie_for("201")
    communicator, _, _ = await connect([ORIGIN, cookie])
    await communicator.receive_json_from()
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await communicator.receive_json_from())["code"] == "binary_not_supported"
    await communicator.disconnect()


async def test_events_for_a_user_reach_only_that_users_sockets() -> None:
    mine = await session_cookie_for("201")
    theirs = await session_cookie_for("202")
    me, _, _ = await connect([ORIGIN, mine])
    other, _, _ = await connect([ORIGIN, theirs])
    await me.receive_json_from()
    await other.receive_json_from()
    extension_id = await database_sync_to_async(
        lambda: Extension.objects.get(number="201").pk)()
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(user_group(extension_id), layer_message({"type": "test", "n": 1}))
    assert await me.receive_json_from() == {"type": "test", "n": 1}
    assert await other.receive_nothing(timeout=0.2)
    await me.disconnect()
    await other.disconnect()
