"""A browser watches its voicemail: a caller leaves a message through the engine while the
page is open — the menu badge and the list update by themselves — and the message plays in
the page to its end. The web client and the engine run as one `runpbx` process (embedded
default), so the engine's event reaches the browser's socket."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import chromium
from tests.softphone.pbx.phone import Phone
from tests.softphone.pbx.test_voicemail import speak, wait_for_beep

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
WEB_PASSWORD = "voicemail-e2e-pw-1"
SEED = f"""
from pbxweb.accounts import actions
for number in ("201", "202"):
    actions.do_create_extension(actions.NewExtension(
        number=number, first_name="Bib" if number == "202" else "Onthaal",
        password="{WEB_PASSWORD}", sip_password="pw-" + number, language="en"),
        send_welcome=False)
"""


def _free(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[tuple[str, tuple[str, int]]]:
    """``runpbx`` on its own SQLite database: (web base URL, SIP UDP address)."""
    http, sip = _free(socket.SOCK_STREAM), _free(socket.SOCK_DGRAM)
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(PBXWEB_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="pbxweb.settings",
               SIP_UDP_PORT=str(sip), SIP_TCP_PORT=str(sip), SIP_TLS_PORT="0",
               SIP_DIGEST_ALGORITHMS="MD5", RTP_PORT_FIRST="24000", RTP_PORT_LAST="24099",
               VOICEMAIL_MAX_SECONDS="3", LOG_LEVEL="INFO")
    for args in (["migrate", "-v0"], ["shell", "-c", SEED]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                       timeout=120, stdout=subprocess.DEVNULL)
    log = (tmp_path / "runpbx.log").open("w")
    process = subprocess.Popen([sys.executable, "manage.py", "runpbx", "--port", str(http)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http}"
    try:
        deadline = time.monotonic() + 30
        while "engine listening" not in (tmp_path / "runpbx.log").read_text():
            assert time.monotonic() < deadline and process.poll() is None, \
                (tmp_path / "runpbx.log").read_text()[-2000:]
            time.sleep(0.2)
        urllib.request.urlopen(f"{base}/webclient/login/", timeout=10)  # noqa: S310
        yield base, ("127.0.0.1", sip)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


async def leave_message(engine: tuple[str, int]) -> None:
    async with Phone("201", engine) as phone:
        await phone.register()
        dialog = await phone.call("202")  # no device for 202: the mailbox answers
        ok = await phone.expect_response("INVITE", timeout=10)
        assert ok.status_code == 200, ok
        phone.confirmed(dialog, ok)
        await wait_for_beep(phone, timeout=30)
        await asyncio.sleep(0.5)
        assert dialog.remote_media is not None
        speak(phone, dialog.remote_media, 100)  # 2 s
        phone.reply(await phone.expect_request("BYE", timeout=10), 200)  # the 3 s maximum


def test_a_new_message_appears_live_and_plays_to_its_end(
        pbx: tuple[str, tuple[str, int]]) -> None:
    base, engine = pbx
    with chromium() as browser:
        page = browser.new_page(locale="en-GB", extra_http_headers={"Accept-Language": "en"})
        page.goto(f"{base}/webclient/login/")
        page.get_by_label("Extension").fill("202")
        page.get_by_label("Password or PIN").fill(WEB_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#connection-state")).to_have_attribute("data-state", "connected")
        page.goto(f"{base}/webclient/voicemail/")
        expect(page.locator("p.empty")).to_be_visible()
        # The page's own socket (the shell's) must be up before the message is left.
        page.wait_for_function("() => window.pbxweb !== undefined")
        page.wait_for_timeout(1000)
        # Playwright's sync API owns this thread's event loop: the phone runs in another.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, leave_message(engine)).result(timeout=90)
        # No reload by the test: the voicemail.count event updates the badge and the list.
        expect(page.locator('.sidemenu a[href$="/webclient/voicemail/"] .menu-badge')) \
            .to_have_text("1", timeout=15_000)
        expect(page.locator("table.voicemail audio")).to_have_count(1, timeout=15_000)
        ended = page.evaluate("""() => new Promise((resolve, reject) => {
            const audio = document.querySelector("table.voicemail audio");
            audio.addEventListener("ended", () => resolve(audio.duration));
            audio.addEventListener("error", () => reject(new Error("audio error")));
            audio.play().catch(reject);
        })""")
        assert 1.5 <= ended <= 4.0  # the ~2-3 s message, played to its end
