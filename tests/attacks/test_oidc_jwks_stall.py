"""Red team 31, as the identity provider's JWKS endpoint (or whoever answers its URL, or
a provider in trouble): stall, or answer a byte at a time.

The gateway fetches the provider's keys (``SLUICE_OIDC_JWKS_URL``) when it has none,
when they are stale and when a token names a ``kid`` it does not know. httpx's timeout
bounds each read, not the answer: a JWKS that trickled held the fetch for as long as it
liked, and every request that needed a key waited behind it on the fetch's lock —
every caller of the API held, the thread pool filling, with keys in hand or not.

Attack: a JWKS server started here answers a byte every half second (for 30 s).

Expected: the fetch is whole within its bound (``catalog.deadline_watch``, the shared
deadline thread, as every exchange with another system); a request with no keys to
check its token is answered 503 within about that bound, and with keys already held
the requests go on with them while one refreshes.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway.auth import EMBEDDED_ISSUER
from gateway.auth.jwks import RemoteJwks
from gateway.auth.keys import load_or_create_signing_key
from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_redteam22_webhook_trickle import Trickle
from tests.gateway.demo_app import DemoGateway

FETCH_BOUND_S = 5.0  # RemoteJwks' timeout, now the whole fetch's
SLACK_S = 3.0  # a busy machine's


class Jwks(Trickle):
    """Serves ``document`` at once, or trickles a byte every half second when
    ``stalling``."""

    def __init__(self) -> None:
        self.document: dict[str, object] = {"keys": []}
        self.stalling = True
        super().__init__()

    def _answer(self, conn: socket.socket) -> None:
        if self.stalling:
            super()._answer(conn)
            return
        self.pushes += 1
        body = json.dumps(self.document).encode()
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (len(body), body))  # fmt: skip
        finally:
            conn.close()


@pytest.fixture(scope="module", params=KINDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[DemoGateway, Jwks]]:  # fmt: skip
    jwks = Jwks()
    home: Path = tmp_path_factory.mktemp(f"rt31-jwks-{request.param}")
    # the provider is the embedded issuer's key, served from the stalling URL
    with open_deployment(request.param, home, db_prefix="ops31_jwks",
                         oidc_issuer=EMBEDDED_ISSUER, oidc_jwks_url=jwks.url) as gw:  # fmt: skip
        yield gw, jwks
    jwks.listener.close()


def _timed_me(gw: DemoGateway, token: str) -> tuple[int, float]:
    started = time.monotonic()
    status = gw.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code
    return status, time.monotonic() - started


def test_a_stalled_jwks_does_not_hold_the_requests(world: tuple[DemoGateway, Jwks]) -> None:
    gw, jwks = world
    token = gw.token("alice")
    with ThreadPoolExecutor(4) as pool:  # four callers at once while the keys trickle
        answers = list(pool.map(lambda _: _timed_me(gw, token), range(4)))
    assert {status for status, _ in answers} == {503}, answers
    assert max(took for _, took in answers) < FETCH_BOUND_S + SLACK_S, answers
    assert jwks.pushes >= 1  # the JWKS was asked (and trickled)


def test_keys_held_serve_while_a_refresh_stalls(tmp_path: Path) -> None:
    """Keys fetched, then stale (the clock past their age): one caller refreshes from a
    JWKS that now trickles; another caller meanwhile is answered with the keys held."""
    jwks = Jwks()
    key = load_or_create_signing_key(tmp_path)
    jwks.document, jwks.stalling = {"keys": [key.public_jwk()]}, False
    now = [0.0]
    remote = RemoteJwks(jwks.url, clock=lambda: now[0], timeout=FETCH_BOUND_S)
    try:
        assert remote.get(key.kid) is not None
        jwks.stalling, now[0] = True, 10_000.0  # stale: the next lookup refreshes
        refreshing = threading.Thread(target=remote.get, args=(key.kid,), daemon=True)
        refreshing.start()
        while jwks.pushes < 2:  # the refresh is under way (the JWKS trickles it)
            assert refreshing.is_alive(), "the refresh ended before it was asked"
            time.sleep(0.05)
        started = time.monotonic()
        assert remote.get(key.kid) is not None
        assert time.monotonic() - started < 1.0
        refreshing.join(FETCH_BOUND_S + SLACK_S)
        assert not refreshing.is_alive(), "the refresh was not bounded"
    finally:
        jwks.listener.close()
