"""Issue 11, class 9: the client address on record cannot be forged.

The attacker is anyone who can reach the gateway's port — another process on its host
included, whose peer address is loopback — sending ``X-Forwarded-For`` to put someone
else's address (or an alibi) on the audit trail. A real ``sluice serve`` process is
started over the deployment's home and database: uvicorn's own defaults are what
trusted loopback before.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from gateway.cli.serve_cmd import proxy_options
from gateway.core.settings import load_settings
from tests import live_http
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-XFF"}
FORGED = "203.0.113.9"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(gw: DemoGateway, **env: str) -> Iterator[str]:
    """``sluice serve`` on a free loopback port over ``gw``'s home and database."""
    port = _free_port()
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("SLUICE_") and k != "FORWARDED_ALLOW_IPS"}  # fmt: skip
    environ.update(SLUICE_HOME=str(gw.settings.home), **env)
    if gw.settings.database_url:
        environ["SLUICE_DATABASE_URL"] = gw.settings.database_url
    # uvicorn's default would trust whatever this names: it must not matter
    environ["FORWARDED_ALLOW_IPS"] = "*"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(port)],
        env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
            try:
                if live_http.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _recorded_client(gw: DemoGateway, base: str, headers: dict[str, str]) -> Any:
    resp = live_http.post(f"{base}/api/v1/datasets/{DIBAO}/query",
                      json={"fields": ["region_code"], "limit": 1, **CASE},
                      headers={**gw.headers("alice"), **headers}, timeout=30)  # fmt: skip
    assert resp.status_code == 200, resp.text
    events = gw.request_events(resp.headers["X-Request-Id"], want=1)
    assert events, "the query is on record"
    return {e["client"] for e in events}


def test_forwarded_for_from_an_untrusted_peer_is_ignored(deployment: DemoGateway) -> None:
    with _server(deployment) as base:
        clients = _recorded_client(deployment, base, {"X-Forwarded-For": FORGED})
        assert clients == {"127.0.0.1"}
        forwarded = {"Forwarded": f"for={FORGED}", "X-Real-IP": FORGED,
                     "X-Forwarded-For": f"{FORGED}, 127.0.0.1"}  # fmt: skip
        assert _recorded_client(deployment, base, forwarded) == {"127.0.0.1"}


def test_forwarded_for_from_a_configured_proxy_is_believed(deployment: DemoGateway) -> None:
    with _server(deployment, SLUICE_TRUSTED_PROXIES="127.0.0.1") as base:
        assert _recorded_client(deployment, base, {"X-Forwarded-For": FORGED}) == {FORGED}
        # without the header, the peer itself
        assert _recorded_client(deployment, base, {}) == {"127.0.0.1"}


def test_proxy_options_trust_nobody_by_default(tmp_path: Any) -> None:
    assert proxy_options(load_settings(home=tmp_path)) == {
        "proxy_headers": False, "forwarded_allow_ips": [""]}  # fmt: skip
    trusted = load_settings(home=tmp_path, trusted_proxies="10.0.0.0/8, ::1")
    assert proxy_options(trusted) == {"proxy_headers": True,
                                      "forwarded_allow_ips": ["10.0.0.0/8", "::1"]}  # fmt: skip
    with pytest.raises(ValueError, match="SLUICE_TRUSTED_PROXIES"):
        load_settings(home=tmp_path, trusted_proxies="*")
