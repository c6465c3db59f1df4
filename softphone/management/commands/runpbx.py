"""``manage.py runpbx``: the embedded default in one process (ARCHITECTURE.md).

The web server (daphne: pages, API, the browser WebSocket) and the SIP engine share one asyncio
event loop (daphne's Twisted reactor runs on it), and so the in-memory channel layer. The engine
starts when the reactor runs and is stopped (registrations written) before the reactor shuts
down on SIGTERM/SIGINT.
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
        parser.add_argument("--no-engine", action="store_true",
                            help="web client only (the engine runs elsewhere)")

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
        if not options["no_engine"]:
            self._attach_engine()
        server.run()

    def _attach_engine(self) -> None:
        import asyncio

        from twisted.internet import defer
        from twisted.internet import reactor as twisted_reactor

        from softphone.pbx.engine import Engine
        from softphone.settings_bridge import engine_config
        from softphone.store import OrmStore

        reactor: Any = twisted_reactor  # zope interfaces confuse mypy here
        engine = Engine(engine_config(), OrmStore())

        def start() -> None:
            task = asyncio.ensure_future(engine.start())
            task.add_done_callback(_stop_on_failure)

        def _stop_on_failure(task: asyncio.Future[None]) -> None:
            if task.exception() is not None:
                logger.error("the SIP engine did not start", exc_info=task.exception())
                reactor.stop()

        def stop() -> defer.Deferred[None]:
            return defer.Deferred.fromFuture(asyncio.ensure_future(engine.stop()))

        reactor.callWhenRunning(start)
        reactor.addSystemEventTrigger("before", "shutdown", stop)
