"""``manage.py runpbx``: the embedded default in one process (ARCHITECTURE.md).

The web server (daphne: pages, API, the browser WebSocket) runs on one asyncio event loop; the
telephony engine joins the same loop once it exists, sharing the in-memory channel layer.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

logger = logging.getLogger("pbxweb.runpbx")


class Command(BaseCommand):
    help = "Run the whole phone system in one process (web client + engine), embedded default."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        # daphne.server installs Twisted's asyncio reactor on import: keep it inside handle().
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from pbxweb.asgi import application

        host, port = options["host"], options["port"]
        self.stdout.write(f"pbxweb web client on http://{host}:{port}/webclient/")
        server = Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,
            http_timeout=None,
            websocket_handshake_timeout=10,
            # Frames above our protocol's 64 KiB get an error event from the consumer; far
            # larger ones are refused by the WebSocket layer itself (close 1009).
            websocket_max_message_size=256 * 1024,
            websocket_max_frame_size=256 * 1024,
        )
        server.run()
