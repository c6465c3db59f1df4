"""Chat end to end on the production shape: daphne + PostgreSQL + Redis channel layer.

Creates its own PostgreSQL database (127.0.0.1:5432, trust auth) and drops it afterwards, runs
``daphne pbxweb.asgi:application`` against it with ``REDIS_URL`` as the channel layer, and
connects real WebSocket clients (autobahn) with session cookies, in pairs that share a direct
conversation. Each message goes ``chat.send`` → stored in PostgreSQL → published through
Redis → ``chat.message`` on the other client's socket.

1. **Latency**: one pair, ``--latency-messages`` messages at 10/s (under the per-socket limit);
   time from the sender's frame to the receiver's event, p50/p99.
2. **Throughput**: ``--pairs`` pairs, every sender keeps ``--window`` messages in flight for
   ``--seconds``; messages received per second (sustained), with latency p50/p99 under load.
   The per-socket limit is raised for this run (``CHAT_SOCKET_RATE``), as the benchmark
   measures the server, not the limit.

    .venv/bin/python bench/bench_chat.py --pairs 20 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql],
                   check=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(pairs: int) -> list[tuple[str, str, int]]:
    """Migrate, make 2 × pairs extensions and a direct conversation per pair.
    Returns (sender cookie, receiver cookie, conversation id) per pair."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from pbxweb.accounts.models import Extension
    from pbxweb.chat import actions

    call_command("migrate", verbosity=0)

    def cookie(extension: Extension) -> str:
        session = SessionStore()
        session[SESSION_KEY] = str(extension.pk)
        session[BACKEND_SESSION_KEY] = "pbxweb.accounts.backends.ExtensionBackend"
        session[HASH_SESSION_KEY] = extension.get_session_auth_hash()
        session.save()
        return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"

    result = []
    for n in range(pairs):
        sender = Extension.objects.create_user(f"{5000 + 2 * n}", password=None,
                                               first_name=f"Zender {n}")
        receiver = Extension.objects.create_user(f"{5001 + 2 * n}", password=None,
                                                 first_name=f"Ontvanger {n}")
        conversation = actions.do_start_direct(sender, receiver.number)
        result.append((cookie(sender), cookie(receiver), conversation.pk))
    from django.db import connections

    connections.close_all()
    return result


class Client:
    """One browser socket: sends frames, hands every event to ``on_event``."""

    def __init__(self) -> None:
        self.protocol: Any = None
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def connect(self, port: int, cookie: str) -> None:
        from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

        client = self

        class Protocol(WebSocketClientProtocol):
            def onMessage(self, payload: bytes, isBinary: bool) -> None:
                client.on_event(json.loads(payload))

        url = f"ws://127.0.0.1:{port}/ws/"
        factory = WebSocketClientFactory(url, headers={"Cookie": cookie},
                                         origin="http://127.0.0.1:8000")
        factory.protocol = Protocol
        loop = asyncio.get_running_loop()
        _, self.protocol = await loop.create_connection(factory, "127.0.0.1", port)
        hello = await asyncio.wait_for(self.events.get(), 10)
        assert hello["type"] == "hello", hello

    def on_event(self, event: dict[str, Any]) -> None:
        self.events.put_nowait(event)

    def send(self, frame: dict[str, Any]) -> None:
        self.protocol.sendMessage(json.dumps(frame).encode())


async def run_pair_traffic(port: int, pairs: list[tuple[str, str, int]], *, seconds: float,
                           window: int, rate: float | None) -> tuple[int, list[float], float,
                                                                     int]:
    """Senders keep ``window`` messages in flight (or pace at ``rate``/s); returns messages
    received, latencies (ms), elapsed seconds and errors."""
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    errors = 0
    received = 0
    senders, receivers = [], []
    for sender_cookie, receiver_cookie, _ in pairs:
        sender, receiver = Client(), Client()
        await sender.connect(port, sender_cookie)
        await receiver.connect(port, receiver_cookie)
        senders.append(sender)
        receivers.append(receiver)
    deadline = time.monotonic() + seconds
    start = time.monotonic()

    async def drive(sender: Client, receiver: Client, conversation: int) -> None:
        nonlocal received, errors
        in_flight = asyncio.Semaphore(window)

        def on_receiver_event(event: dict[str, Any]) -> None:
            nonlocal received
            if event["type"] == "chat.message":
                t = sent_at.pop(event["message"]["client_id"], None)
                if t is not None:
                    latencies.append((time.monotonic() - t) * 1000)
                    received += 1
                    in_flight.release()

        def on_sender_event(event: dict[str, Any]) -> None:
            nonlocal errors
            if event["type"] == "error":
                errors += 1
                in_flight.release()

        receiver.on_event = on_receiver_event  # type: ignore[method-assign]
        sender.on_event = on_sender_event  # type: ignore[method-assign]
        n = 0
        while time.monotonic() < deadline:
            await in_flight.acquire()
            client_id = uuid.uuid4().hex
            sent_at[client_id] = time.monotonic()
            sender.send({"type": "chat.send", "conversation": conversation,
                         "text": f"bericht {n}", "client_id": client_id})
            n += 1
            if rate:
                await asyncio.sleep(1 / rate)
        # Let the last messages arrive.
        for _ in range(window):
            try:
                await asyncio.wait_for(in_flight.acquire(), 5)
            except TimeoutError:
                break

    await asyncio.gather(*(drive(s, r, c) for s, r, (_, _, c) in zip(senders, receivers, pairs,
                                                                   strict=True)))
    elapsed = time.monotonic() - start
    for client in senders + receivers:
        client.protocol.sendClose()
    return received, latencies, elapsed, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--latency-messages", type=int, default=300)
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        # Django (with daphne installed) pins txaio to Twisted, autobahn's asyncio client needs
        # it free: the database part runs in its own process.
        print(json.dumps(prepare(args.prepare)))
        return

    database = f"pbxweb_bench_chat_{os.getpid()}"
    psql(f"CREATE DATABASE {database}")
    var_dir = tempfile.mkdtemp(prefix="bench-chat-")
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
           "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
           "CHANNELS_PREFIX": f"benchchat{os.getpid()}", "PBXWEB_VAR_DIR": var_dir,
           "DJANGO_SETTINGS_MODULE": "pbxweb.settings", "CHAT_SOCKET_RATE": "100000",
           "CHAT_SOCKET_BURST": "100000", "LOG_LEVEL": "WARNING"}
    server = None
    try:
        prepared = subprocess.run([sys.executable, __file__, "--prepare", str(args.pairs + 1)],
                                  env=env, cwd=ROOT, check=True, capture_output=True, text=True)
        pairs = [tuple(p) for p in json.loads(prepared.stdout.strip().splitlines()[-1])]
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "pbxweb.asgi:application"], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)
        received, latencies, elapsed, errors = asyncio.run(run_pair_traffic(
            port, pairs[:1], seconds=args.latency_messages / 10, window=1, rate=10))
        print(f"latency (1 pair, 10 msg/s, {received} messages, {errors} errors): "
              f"p50 {statistics.median(latencies):.1f} ms, "
              f"p99 {percentile(latencies, 99):.1f} ms")
        received, latencies, elapsed, errors = asyncio.run(run_pair_traffic(
            port, pairs[1:], seconds=args.seconds, window=args.window, rate=None))
        print(f"throughput ({args.pairs} pairs, window {args.window}, {elapsed:.1f} s): "
              f"{received / elapsed:.0f} messages/s stored and delivered, {errors} errors; "
              f"latency under load p50 {statistics.median(latencies):.1f} ms, "
              f"p99 {percentile(latencies, 99):.1f} ms")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


if __name__ == "__main__":
    main()
