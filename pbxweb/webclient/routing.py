from django.urls import path

from pbxweb.webclient.consumers import WebclientConsumer

websocket_urlpatterns = [
    path("ws/", WebclientConsumer.as_asgi()),
]
