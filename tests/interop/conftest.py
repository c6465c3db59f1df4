"""A real ``manage.py runengine`` process for interop tests with Debian SIP peers.

Every engine gets its own PBXWEB_VAR_DIR holding a SQLite database that was migrated and seeded
once per session (extensions 201..205, SIP password ``pw-<n>``) and copied, so starting one
costs only the engine's own start-up. The engine listens on one free loopback port for UDP and
TCP (no TLS); ``start`` waits until it answers OPTIONS, ``stop`` sends SIGTERM and returns the
exit status (the fixture asserts 0), ``restart`` does both on the same database and ports.

Registrations are read back from the engine's database with the Django ORM in this process,
through an extra database alias pointing at that SQLite file.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.interop.options_probe import wait_for_options

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).resolve().parent / "options_probe.py"
EXTENSIONS = [str(n) for n in range(201, 206)]
DB_NAME = "pbxweb.sqlite3"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def password(extension: str) -> str:
    return f"pw-{extension}"


SEED = f"""
from pbxweb.accounts import actions
for number in {EXTENSIONS!r}:
    actions.do_create_extension(
        actions.NewExtension(number=number, sip_password="pw-" + number), send_welcome=False)
"""


def _base_env(var_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SIP_", "PBXWEB_", "DATABASE_URL"))}
    env.update({
        "PBXWEB_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / DB_NAME}",
        "DJANGO_SETTINGS_MODULE": "pbxweb.settings",
        "SIP_TLS_PORT": "0",
        "SIP_BAN_FAILURES": "1000",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _manage(args: list[str], env: dict[str, str], timeout: float = 60) -> str:
    completed = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=timeout, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{completed.stdout}{completed.stderr}")
    return completed.stdout


def free_port_pair() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (the engine uses one for both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free UDP+TCP port pair")


@dataclass
class LiveEngine:
    var_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port_pair)
    process: subprocess.Popen[bytes] | None = None
    exit_codes: list[int] = field(default_factory=list)
    starts: int = 0
    # A command prefix that runs the engine elsewhere, e.g. ["nsenter", "--net=..."] to put it
    # in the loopback-only network namespace of a test (then the OPTIONS probe runs there too).
    prefix: list[str] = field(default_factory=list)

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    @property
    def log_path(self) -> Path:
        return self.var_dir / "engine.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> LiveEngine:
        assert self.process is None, "already running"
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start #{self.starts}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [*self.prefix, sys.executable, "manage.py", "runengine", "--host", "127.0.0.1",
                 "--udp-port", str(self.port), "--tcp-port", str(self.port), "--tls-port", "0"],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)
        self._wait_for_options()
        return self

    def _wait_for_options(self) -> None:
        process = self.process
        assert process is not None
        if self.prefix:  # probe from inside the engine's network namespace
            answered = subprocess.run(
                [*self.prefix, sys.executable, str(PROBE), str(self.port), str(START_TIMEOUT)],
                cwd=ROOT, capture_output=True, timeout=START_TIMEOUT + 10,
                check=False).returncode == 0
        else:
            answered = wait_for_options(self.port, START_TIMEOUT,
                                        alive=lambda: process.poll() is None)
        if not answered:
            self.kill()
            raise RuntimeError(f"engine did not answer OPTIONS (exit status "
                               f"{process.returncode}):\n{self.log()[-3000:]}")

    def stop(self) -> int:
        """SIGTERM, wait, return the exit status (the process is killed after a timeout)."""
        assert self.process is not None
        process, self.process = self.process, None
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
            code = -999
        self.exit_codes.append(code)
        return code

    def restart(self) -> LiveEngine:
        code = self.stop()
        assert code == 0, f"engine exited with {code}:\n{self.log()[-3000:]}"
        return self.start()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    # -- the engine's database, read with the ORM ----------------------------------------------
    def _alias(self) -> str:
        from django.db import connections

        alias = f"interop-{self.var_dir.name}"
        if alias not in connections.settings:
            configured = connections.configure_settings({
                "default": connections.settings["default"],
                alias: {"ENGINE": "django.db.backends.sqlite3",
                        "NAME": str(self.var_dir / DB_NAME), "OPTIONS": {"timeout": 20}}})
            connections.settings[alias] = configured[alias]
        return alias

    def registrations(self) -> list[dict[str, Any]]:
        """Rows of softphone.models.Registration in this engine's database."""
        from django.db import connections

        from softphone.models import Registration

        alias = self._alias()
        try:
            rows = Registration.objects.using(alias).order_by("aor", "contact").values(
                "aor", "contact", "expires_at", "call_id", "cseq", "source", "user_agent")
            return [dict(row) for row in rows]
        finally:
            connections[alias].close()

    def call_records(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Rows of pbxweb.history.models.CallRecord, oldest first, once ``count`` exist
        (records are written when a call ends, a moment after its last BYE)."""
        from django.db import connections

        from pbxweb.history.models import CallRecord

        alias = self._alias()
        deadline = time.monotonic() + timeout
        try:
            while True:
                rows = [dict(row) for row in
                        CallRecord.objects.using(alias).order_by("started_at").values()]
                if len(rows) >= count or time.monotonic() > deadline:
                    return rows
                time.sleep(0.1)
        finally:
            connections[alias].close()

    def voicemail_messages(self) -> list[dict[str, Any]]:
        """Rows of voicemail.models.Message in this engine's database."""
        from django.db import connections

        from voicemail.models import Message

        alias = self._alias()
        try:
            return [dict(row) for row in Message.objects.using(alias).order_by("id").values()]
        finally:
            connections[alias].close()

    def wait_for_registrations(self, predicate: Callable[[list[dict[str, Any]]], bool],
                               timeout: float = 5.0) -> list[dict[str, Any]]:
        """Poll the database (registrations are written behind, every 0.5 s)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.registrations()
            if predicate(rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)


EngineFactory = Callable[..., LiveEngine]


@pytest.fixture(scope="session")
def seeded_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated and seeded database (and secret key) that every engine copies."""
    template = tmp_path_factory.mktemp("engine-template")
    env = _base_env(template)
    _manage(["migrate", "-v0"], env)
    _manage(["shell", "-c", SEED], env)
    return template


@pytest.fixture
def engine_factory(seeded_var_dir: Path, tmp_path_factory: pytest.TempPathFactory,
                   django_db_blocker: Any) -> Iterator[EngineFactory]:
    """``engine_factory(SIP_MIN_EXPIRES="5", ...)`` starts an engine with extra settings."""
    engines: list[LiveEngine] = []

    def make(prefix: list[str] | None = None, setup: str | None = None,
             **settings: str) -> LiveEngine:
        """``setup``: Python run by ``manage.py shell`` on the engine's database before it
        starts (e.g. a trunk to configure)."""
        var_dir = tmp_path_factory.mktemp("engine")
        for name in (DB_NAME, "secret_key"):
            shutil.copy2(seeded_var_dir / name, var_dir / name)
        if setup is not None:
            _manage(["shell", "-c", setup], {**_base_env(var_dir), **settings})
        engine = LiveEngine(var_dir, {**_base_env(var_dir), **settings}, prefix=prefix or [])
        engines.append(engine)
        return engine.start()

    with django_db_blocker.unblock():
        try:
            yield make
        finally:
            for engine in engines:
                if engine.process is not None:
                    engine.stop()
    for engine in engines:
        assert all(code == 0 for code in engine.exit_codes), (
            f"engine in {engine.var_dir} exited with {engine.exit_codes} on SIGTERM:\n"
            f"{engine.log()[-3000:]}")


@pytest.fixture
def loopback_netns() -> Iterator[list[str]]:
    """A network namespace with only ``lo`` (up); yields the ``nsenter`` prefix to run in it.

    For peers that might talk to the outside world (liblinphone probes a public address to
    learn its local IP): inside, nothing but 127.0.0.1 exists. Needs root (CAP_SYS_ADMIN).
    """
    if os.geteuid() != 0:
        pytest.skip("a network namespace needs root (unshare -n)")
    holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "600"],
                              stdin=subprocess.DEVNULL)
    try:
        namespace = f"/proc/{holder.pid}/ns/net"
        deadline = time.monotonic() + 5
        while os.readlink(namespace) == os.readlink("/proc/self/ns/net"):
            assert time.monotonic() < deadline and holder.poll() is None, "unshare failed"
            time.sleep(0.01)
        prefix = ["nsenter", f"--net={namespace}"]
        subprocess.run([*prefix, "ip", "link", "set", "lo", "up"], check=True, timeout=10)
        yield prefix
    finally:
        holder.kill()
        holder.wait(timeout=5)


@contextlib.contextmanager
def inside_netns(prefix: list[str]) -> Iterator[None]:
    """Run this thread inside the namespace of ``prefix`` (``nsenter --net=PATH``) for the
    block: the sockets it opens meanwhile (e.g. to a baresip's control port on the
    namespace's 127.0.0.1) live there. setns(2) through libc: Python 3.11 has no os.setns."""
    path = next(arg.partition("=")[2] for arg in prefix if arg.startswith("--net="))
    libc = ctypes.CDLL(None, use_errno=True)
    clone_newnet = 0x40000000
    with open("/proc/thread-self/ns/net") as home, open(path) as target:
        if libc.setns(target.fileno(), clone_newnet) != 0:
            raise OSError(ctypes.get_errno(), "setns into the test's network namespace")
        try:
            yield
        finally:
            if libc.setns(home.fileno(), clone_newnet) != 0:
                raise OSError(ctypes.get_errno(), "setns back")


@pytest.fixture
def live_engine(engine_factory: EngineFactory) -> LiveEngine:
    """An engine with the default settings (MD5 challenges only)."""
    return engine_factory()
