"""A caller leaves a voicemail message from a real phone, and the owner gets it back through
the web: baresip calls extension 202 (no device answers), hears the greeting and the beep,
plays a known tone sequence as its message; the owner logs in to the web client (a `runpbx
--no-engine` web process on the engine's database) and downloads the message — the same tones
are in it; another extension gets 404 for the same URLs."""

from __future__ import annotations

import http.cookiejar
import json
import math
import re
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.baresip import Baresip
from tests.interop.conftest import ROOT, EngineFactory, LiveEngine, password
from tests.interop.sipp import auth_row, run_sipp, start_sipp
from tests.interop.tones import tone_presence

pytestmark = pytest.mark.interop

WEB_PASSWORD = "voicemail-web-pw-1"
SEQUENCE = (700.0, 1300.0)  # alternating every 0.5 s


def _write_sequence(path: Path, seconds: float = 40.0) -> Path:
    frames = bytearray()
    for n in range(int(seconds * 8000)):
        frequency = SEQUENCE[(n // 4000) % 2]
        frames += struct.pack("<h", round(10000 * math.sin(2 * math.pi * frequency * n / 8000)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(frames))
    return path


class WebUser:
    """A logged-in browser session against the web process (cookies, CSRF)."""

    def __init__(self, base: str, number: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self.opener.open(f"{base}/webclient/login/", timeout=10).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, page[:500]
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token[1], "username": number,
                                       "password": WEB_PASSWORD}).encode()
        request = urllib.request.Request(  # noqa: S310 (http on loopback, ours)
            f"{base}/webclient/login/", data=data,
            headers={"Referer": f"{base}/webclient/login/"})
        self.opener.open(request, timeout=10)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with self.opener.open(f"{self.base}{path}", timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


@pytest.fixture
def web() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def _start_web(engine: LiveEngine, processes: list[subprocess.Popen[bytes]]) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runpbx", "--no-engine", "--port", str(port)],
        cwd=ROOT, env=engine.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(process)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/webclient/login/", timeout=1)  # noqa: S310
            return base
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None, "web did not start"
            time.sleep(0.2)


def test_a_message_left_from_baresip_is_heard_back_by_its_owner_only(
        engine_factory: EngineFactory, web: list[subprocess.Popen[bytes]],
        tmp_path: Path) -> None:
    engine = engine_factory(
        setup="from pbxweb.accounts.models import Extension\n"
              "for e in Extension.objects.filter(number__in=['202', '203']):\n"
              f"    e.set_password('{WEB_PASSWORD}'); e.language = 'en'; e.save()\n",
        SIP_DIGEST_ALGORITHMS="MD5", RTP_PORT_FIRST="23500", RTP_PORT_LAST="23599",
        VOICEMAIL_MAX_SECONDS="4")
    source = _write_sequence(tmp_path / "message.wav")
    caller = Baresip(tmp_path, "201", password("201"), engine.address,
                     audio_source=f"aufile,{source}")
    try:
        caller.start()
        assert caller.registered(timeout=10), caller.output()[-3000:]
        host, port = engine.address
        caller.command("dial", f"sip:202@{host}:{port}")
        caller.wait_event("CALL_ESTABLISHED", timeout=10)  # the mailbox answers
        # greeting (synthesised on first use) + beep + the 4 s maximum, then the engine's BYE
        caller.wait_event("CALL_CLOSED", timeout=40)
    finally:
        caller.stop()
    assert re.search(r"voicemail for 202 from 201: [3-5]\.\d s, kept", engine.log()), \
        engine.log()[-3000:]

    base = _start_web(engine, web)
    owner = WebUser(base, "202")
    status, body = owner.get("/api/voicemail/")
    assert status == 200, body[:300]
    listing = json.loads(body)
    assert listing["new"] == 1 and listing["messages"][0]["caller_number"] == "201"
    message_id = listing["messages"][0]["id"]
    status, audio = owner.get(f"/webclient/voicemail/{message_id}/audio?download=1")
    assert status == 200 and audio[:4] == b"RIFF"
    heard = tmp_path / "heard.wav"
    heard.write_bytes(audio)
    for frequency in SEQUENCE:
        hits = sum(tone for tone, _ in tone_presence(heard, frequency))
        assert hits >= 10, (frequency, hits)  # ~2 s of each in a 4 s message (0.1 s blocks)
    status, page = owner.get("/webclient/voicemail/")
    assert status == 200 and f"/webclient/voicemail/{message_id}/audio".encode() in page

    stranger = WebUser(base, "203")
    assert stranger.get(f"/webclient/voicemail/{message_id}/audio")[0] == 404
    assert stranger.get(f"/webclient/voicemail/{message_id}/audio?download=1")[0] == 404
    assert json.loads(stranger.get("/api/voicemail/")[1]) == {"messages": [], "new": 0}


def test_a_recording_survives_the_engine_being_killed(
        engine_factory: EngineFactory, tmp_path: Path) -> None:
    engine = engine_factory(SIP_DIGEST_ALGORITHMS="MD5", RTP_PORT_FIRST="23600",
                            RTP_PORT_LAST="23699", VOICEMAIL_MAX_SECONDS="60")
    source = _write_sequence(tmp_path / "message.wav")
    caller = Baresip(tmp_path, "201", password("201"), engine.address,
                     audio_source=f"aufile,{source}")
    try:
        caller.start()
        assert caller.registered(timeout=10), caller.output()[-3000:]
        host, port = engine.address
        caller.command("dial", f"sip:202@{host}:{port}")
        caller.wait_event("CALL_ESTABLISHED", timeout=10)
        deadline = time.monotonic() + 30
        while "voicemail for 202: recording message" not in engine.log():
            assert time.monotonic() < deadline, engine.log()[-3000:]
            time.sleep(0.1)
        time.sleep(3.5)
        engine.kill()  # SIGKILL mid-recording: no clean-up of any kind
        rows = engine.voicemail_messages()
        assert [row["state"] for row in rows] == ["recording"], rows
        engine.start()  # restart on the same database: the message is finished
    finally:
        caller.stop()
    rows = engine.voicemail_messages()
    assert [row["state"] for row in rows] == ["new"], (rows, engine.log()[-2000:])
    # Up to the last second before the kill (the header is synced every second; the data
    # that reached the file counts): between 2.4 and 3.6 s of the 3.5 s.
    assert 2.4 <= rows[0]["duration_seconds"] <= 3.6, rows
    assert "1 voicemail message(s) recorded before a crash recovered" in engine.log()
    with wave.open(str(engine.var_dir / "voicemail" / rows[0]["audio"])) as audio:
        assert audio.getnframes() >= 8000 * 2.4  # the header was patched: it plays


def test_a_subscribed_phone_learns_of_a_new_message(
        engine_factory: EngineFactory, tmp_path: Path) -> None:
    # The subscriber is SIPp: baresip 1.0's mwi module sometimes answers our 401 to its
    # SUBSCRIBE with a new SUBSCRIBE without credentials, forever (docs/peers.md).
    engine = engine_factory(SIP_DIGEST_ALGORITHMS="MD5", RTP_PORT_FIRST="23700",
                            RTP_PORT_LAST="23799", VOICEMAIL_MAX_SECONDS="2")
    subscriber = start_sipp("mwi_subscriber", engine.address,
                            rows=[auth_row("202", "127.0.0.1", password("202"))],
                            workdir=tmp_path, timeout=90)
    source = _write_sequence(tmp_path / "message.wav")
    caller = Baresip(tmp_path, "201", password("201"), engine.address,
                     audio_source=f"aufile,{source}")
    try:
        deadline = time.monotonic() + 20
        while "MWI for 202" not in engine.log():
            assert time.monotonic() < deadline, engine.log()[-2000:]
            time.sleep(0.1)
        caller.start()
        assert caller.registered(timeout=10), caller.output()[-3000:]
        host, port = engine.address
        caller.command("dial", f"sip:202@{host}:{port}")  # no device: the mailbox answers
        caller.wait_event("CALL_ESTABLISHED", timeout=20)
        caller.wait_event("CALL_CLOSED", timeout=40)
        result = subscriber.wait()
    finally:
        caller.stop()
        subscriber.stop()
    assert result.successful == 1 and result.failed == 0, \
        result.output[-2000:] + engine.log()[-2000:]


SEED_MESSAGE = """
import struct, wave
from datetime import datetime, timezone
from pathlib import Path
from django.conf import settings
from pbxweb.accounts.models import Extension
from voicemail.models import Message
owner = Extension.objects.get(number='202')
owner.set_pin('4826')
owner.set_password('{password}')
owner.language = 'en'
owner.save()
path = Path(settings.VOICEMAIL_DIR) / 'messages' / 'seeded.wav'
path.parent.mkdir(parents=True, exist_ok=True)
with wave.open(str(path), 'wb') as audio:
    audio.setnchannels(1); audio.setsampwidth(2); audio.setframerate(8000)
    audio.writeframes(struct.pack('<h', 2000) * 8000)
Message.objects.create(mailbox=owner, call_id='seeded', caller_number='201',
                       started_at=datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc),
                       duration_seconds=1.0, state='new', audio='messages/seeded.wav')
"""


def test_999_with_rfc_4733_keys_wrong_pin_right_pin_delete(
        engine_factory: EngineFactory, web: list[subprocess.Popen[bytes]],
        tmp_path: Path) -> None:
    # baresip 1.0's control socket has no command that sends a key, so the phone here is
    # SIPp replaying the RFC 4733 DTMF captures it ships (/usr/share/sip-tester/*.pcap).
    engine = engine_factory(setup=SEED_MESSAGE.format(password=WEB_PASSWORD),
                            SIP_DIGEST_ALGORITHMS="MD5", RTP_PORT_FIRST="23800",
                            RTP_PORT_LAST="23899")
    assert [row["state"] for row in engine.voicemail_messages()] == ["new"]
    result = run_sipp("voicemail_menu", engine.address,
                      rows=[auth_row("202", "127.0.0.1", password("202"))],
                      workdir=tmp_path, timeout=90)
    assert result.successful == 1 and result.failed == 0, \
        result.output[-2000:] + engine.log()[-3000:]
    assert "999 menu of 202 ended (listened)" in engine.log(), engine.log()[-3000:]
    assert engine.voicemail_messages() == []  # deleted with 7
    owner = WebUser(_start_web(engine, web), "202")
    status, body = owner.get("/api/voicemail/")
    assert status == 200 and json.loads(body) == {"messages": [], "new": 0}
