"""The API's own pages (/docs, /redoc) work on an offline network: their scripts and
styles are served by the gateway, and a real browser renders them with every request
to another host refused."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Route, sync_playwright

from tests import live_http
from tests.gateway.demo_app import DemoGateway, demo_gateway

CHROMIUM = "/usr/bin/chromium"
EXTERNAL = re.compile(rb"""(?:src|href)=["']?(?:https?:)?//""")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, DemoGateway]]:
    """The demo gateway behind a real HTTP server (uvicorn, in a thread)."""
    with demo_gateway(tmp_path_factory.mktemp("docs")) as gw:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(gw.client.app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "the server did not start"
        try:
            yield f"http://127.0.0.1:{port}", gw
        finally:
            server.should_exit = True
            thread.join(10)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_pages_load_nothing_from_other_hosts(served: tuple[str, DemoGateway], page: str) -> None:
    base, _gw = served
    html = live_http.get(base + page).content
    assert not EXTERNAL.search(html), html[:500]
    for asset in re.findall(rb"""(?:src|href)=["']?(/[^"' >]+)""", html):
        assert live_http.get(base + asset.decode()).status_code == 200, asset


def _offline(route: Route) -> None:
    """Only the gateway itself answers; anything else fails as on an offline network."""
    if route.request.url.startswith("http://127.0.0.1:"):
        route.continue_()
    else:
        route.abort()


def test_swagger_ui_renders_every_operation_offline(served: tuple[str, DemoGateway]) -> None:
    base, _gw = served
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: `make test` installs it (make browser)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])  # fmt: skip
        try:
            page = browser.new_page()
            page.route("**/*", _offline)
            page.goto(base + "/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert "/api/v1/datasets/{dataset_id}/query" in paths
            assert "/api/v1/comparisons" in paths
            assert "Sluice" in page.title()
            page.goto(base + "/redoc")
            page.get_by_text("/api/v1/comparisons").first.wait_for(timeout=20_000)
        finally:
            browser.close()
