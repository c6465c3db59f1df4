"""The production channel layer (Redis) carries an event between two consumers."""

import os
import uuid

import pytest
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer

from pbxweb.webclient.consumers import WebclientConsumer
from pbxweb.webclient.events import layer_message

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


class _FakeUser:
    is_authenticated = True

    def __init__(self, pk: int, number: str) -> None:
        self.pk, self.number = pk, number


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_redis_layer_carries_a_message_between_two_consumers(monkeypatch) -> None:
    layer = RedisChannelLayer(hosts=[REDIS_URL], prefix=f"pbxweb-test-{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr("channels.layers.channel_layers.backends",
                        {"default": layer}, raising=False)
    sender = WebsocketCommunicator(WebclientConsumer.as_asgi(), "/ws/")
    receiver = WebsocketCommunicator(WebclientConsumer.as_asgi(), "/ws/")
    sender.scope["user"] = _FakeUser(1, "201")
    receiver.scope["user"] = _FakeUser(2, "202")
    assert (await sender.connect())[0] and (await receiver.connect())[0]
    await sender.receive_json_from()
    await receiver.receive_json_from()
    # Consumer 1's side of the process publishes through Redis to consumer 2's group.
    await layer.group_send("user.2", layer_message({"type": "chat.test", "text": "hallo"}))
    assert await receiver.receive_json_from(timeout=5) == {"type": "chat.test", "text": "hallo"}
    assert await sender.receive_nothing(timeout=0.2)
    await sender.disconnect()
    await receiver.disconnect()
    await layer.flush()
