"""The console on a real gateway: the demo behind uvicorn (a thread), demo passwords set
as ``sluice demo`` sets them, and helpers to sign in over HTTP or in Chromium."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from catalog.demo.users import DEMO_USERS
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.gateway.demo_app import DemoGateway, demo_gateway
from tests.live_http import SHORT_KEEPALIVE

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[4] / "docs" / "screenshots"
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class LiveConsole:
    gw: DemoGateway
    base: str
    passwords: dict[str, str]

    @property
    def console(self) -> Console:
        console: Console = self.gw.client.app.state.console
        return console

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, follow_redirects=False, timeout=30,
                            limits=SHORT_KEEPALIVE)  # fmt: skip

    def sign_in(self, subject: str, password: str | None = None) -> tuple[httpx.Client, str]:
        """An HTTP client signed in as ``subject``, and its session's CSRF token."""
        client = self.client()
        page = client.get("/console/sign-in")
        token = _CSRF_FIELD.search(page.text)
        assert token is not None, page.text[:500]
        answer = client.post("/console/sign-in", data={
            "csrf_token": token.group(1), "username": subject,
            "password": password or self.passwords[subject]})  # fmt: skip
        assert answer.status_code == 303, (answer.status_code, answer.text[:500])
        home = client.get("/console")
        assert home.status_code == 200, home.status_code
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', home.text)
        assert csrf is not None
        return client, csrf.group(1)


def serve(gw: DemoGateway) -> Iterator[str]:
    """The gateway's app on a free loopback port until the generator is closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(gw.client.app, host="127.0.0.1", port=port,
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    with demo_gateway(tmp_path_factory.mktemp("console")) as gw:
        console: Console = gw.client.app.state.console
        passwords = set_demo_passwords(console.accounts, [u["subject"] for u in DEMO_USERS])
        for base in serve(gw):
            yield LiveConsole(gw=gw, base=base, passwords=passwords)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: `make test` installs it (make browser)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox"])  # fmt: skip
        try:
            yield chromium
        finally:
            chromium.close()


def offline(page: Page, base: str) -> list[str]:
    """Refuse every request to another host (an offline network) and collect the
    browser's console errors (a CSP violation is one)."""
    errors: list[str] = []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base)
               else route.abort())  # fmt: skip
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def browser_sign_in(page: Page, live: LiveConsole, subject: str) -> None:
    page.goto(live.base + "/console")
    page.get_by_label("用户名").fill(subject)
    page.get_by_label("密码").fill(live.passwords[subject])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live.base + "/console")
