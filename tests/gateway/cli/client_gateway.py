"""A real gateway for the client commands' tests: ``sluice serve`` (uvicorn) in its own
process over a demo home, reached over TCP on loopback exactly as an analyst's
``sluice query`` reaches one (tests/attacks/test_anonymous_forwarded.py starts one the
same way)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import live_http
from tests.gateway.demo_app import DemoGateway, demo_gateway


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    gw: DemoGateway
    url: str

    def env(self, subject: str = "dora") -> dict[str, str]:
        """What an analyst's shell holds: the gateway's URL and their token."""
        return {"SLUICE_URL": self.url, "SLUICE_TOKEN": self.gw.token(subject, ttl=3600)}


@contextmanager
def serve(home: Path, **settings: str) -> Iterator[str]:
    """``sluice serve`` on a free loopback port over ``home`` (and ``settings``, as
    ``SLUICE_<NAME>`` variables: a PostgreSQL deployment's ``database_url``); yields its
    base URL."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    environ["SLUICE_HOME"] = str(home)
    environ.update({f"SLUICE_{name.upper()}": value for name, value in settings.items()})
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(port)],
        env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
            try:
                if live_http.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the gateway did not start within 60 s"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The demo departments (small sizes) behind a real uvicorn gateway."""
    home = tmp_path_factory.mktemp("client-gateway")
    with demo_gateway(home) as gw, serve(home) as url:
        yield Served(gw=gw, url=url)
