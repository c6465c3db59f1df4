"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from pbxweb.celery import app as celery_app

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings() -> None:
    """No persistent connections in tests: Channels' worker threads would otherwise keep the
    PostgreSQL test database busy when pytest-django drops it."""
    from django.db import connections

    for alias in connections:
        connections[alias].settings_dict["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True)
def _isolated_state(settings: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    ) -> Iterator[None]:
    """Fast hashing, a private media folder, a clean cache (rate limits), eager Celery.

    Celery runs eagerly here even in the production-shape pass; one test in
    tests/pbxweb/test_celery.py runs a real worker against the configured broker instead.
    """
    settings.PASSWORD_HASHERS = FAST_HASHERS  # type: ignore[attr-defined]
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")  # type: ignore[attr-defined]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # type: ignore[attr-defined]
    cache.clear()
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager
    cache.clear()


def _database_url_for_subprocess() -> str:
    """The URL of the database the tests are using, for a server in another process."""
    from django.db import connection

    params = connection.settings_dict
    if params["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or ""
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    port = f":{params['PORT']}" if params.get("PORT") else ""
    return f"postgres://{credentials}{params.get('HOST') or '127.0.0.1'}{port}/{params['NAME']}"


@pytest.fixture
def live_asgi_server(transactional_db: None) -> Iterator[str]:
    """The real ASGI application (HTTP + WebSocket) under daphne in a subprocess.

    It shares the test database; use it with data committed by the test (transactional_db).
    Yields the base URL, e.g. ``http://127.0.0.1:41234``.
    """
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": _database_url_for_subprocess(),
           "DJANGO_SETTINGS_MODULE": "pbxweb.settings"}
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "pbxweb.asgi:application"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                urllib.request.urlopen(f"{base}/webclient/login/", timeout=1)  # noqa: S310
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    raise RuntimeError(f"daphne did not start:\n{output}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
