"""ops31's left row, as the identity provider (or whoever answers its URL, or a provider
in trouble) against the console's sign-in: answer a byte every half second.

The console signs users in through the provider (authorization code with PKCE): its
discovery document, then the code's exchange at its token endpoint. httpx's timeout
(10 s) bounds each read, not the exchange, so a provider that trickled its answer —
each byte well inside the read timeout — held the sign-in and its worker thread for as
long as it chose (the API's JWKS fetch has been bounded whole since ops31:
``tests/attacks/test_oidc_jwks_stall.py``).

Attack: a provider process started here trickles its discovery document, then (the
document answered) its token endpoint, for 40 s each; the sign-in starts and its
callback arrive as a browser sends them.

Expected: each exchange is whole within its bound (``catalog.http_deadline``, the
shared deadline thread), the sign-in answered within about that bound (refused, 503),
and a second sign-in meanwhile does not queue behind the first for longer.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.web.console.oidc import OidcClient
from tests import live_http
from tests.gateway.demo_app import DemoGateway, demo_gateway

BOUND_S = 10.0  # the console's exchange with its provider, whole
SLACK_S = 4.0  # a busy machine's
PROVIDER = Path(__file__).with_name("trickling_provider.py")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoGateway, str]]:
    process = subprocess.Popen([sys.executable, str(PROVIDER)], stdout=subprocess.PIPE,
                               text=True)  # fmt: skip
    try:
        assert process.stdout is not None
        issuer = process.stdout.readline().strip()
        with pytest.MonkeyPatch.context() as env:
            env.setenv("SLUICE_CONSOLE_OIDC_CLIENT_ID", "sluice-console")
            with demo_gateway(tmp_path_factory.mktemp("ops31-oidc"), oidc_issuer=issuer,
                              oidc_jwks_url=issuer + "/jwks") as gw:  # fmt: skip
                yield gw, issuer
    finally:
        process.kill()
        process.wait(10)


def _fresh(gw: DemoGateway, issuer: str, mode: str) -> TestClient:
    """A browser, with the provider trickling ``mode`` and its discovery not yet read
    (a gateway just started)."""
    assert live_http.post(f"{issuer}/mode/{mode}", timeout=5).status_code == 200
    oidc = gw.client.app.state.console.oidc
    assert isinstance(oidc, OidcClient)
    oidc._metadata = None
    return TestClient(gw.client.app, follow_redirects=False)


def _timed(call: Callable[[], httpx.Response]) -> tuple[int, float]:
    started = time.monotonic()
    status = call().status_code
    return status, time.monotonic() - started


def test_a_trickled_discovery_does_not_hold_the_sign_in(world: tuple[DemoGateway, str]) -> None:
    gw, issuer = world
    browsers = [_fresh(gw, issuer, "discovery") for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda b: _timed(lambda: b.get("/console/oidc/start")),
                                browsers))  # fmt: skip
    for status, took in answers:
        assert status == 503, answers
        assert took < BOUND_S + SLACK_S, f"a sign-in held {took:.1f} s by a trickle: {answers}"


def test_a_trickled_token_exchange_does_not_hold_the_callback(
    world: tuple[DemoGateway, str],
) -> None:
    gw, issuer = world
    browser = _fresh(gw, issuer, "token")
    started = browser.get("/console/oidc/start")
    assert started.status_code == 303, started.text[:300]
    state = parse_qs(urlparse(started.headers["location"]).query)["state"][0]
    status, took = _timed(lambda: browser.get("/console/oidc/callback",
                                              params={"code": "c0de", "state": state}))  # fmt: skip
    assert status in (303, 503), status
    assert took < BOUND_S + SLACK_S, f"the code's exchange held {took:.1f} s by a trickle"
