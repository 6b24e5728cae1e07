"""``sluice serve`` talks: where it listens, what it uses (credentials redacted), one
structured line per request without query strings or tokens, and that it stopped."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from gateway.cli.banner import redact_url
from gateway.core.host_names import answered_names
from gateway.core.listening import listened_on
from tests import live_http
from tests.gateway.demo_app import DemoGateway

SECRET_PASSWORD = "hunter2-not-logged"
README = Path(__file__).resolve().parents[3] / "README.md"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _url_with_password(url: str) -> str:
    """PostgreSQL here trusts local connections, so any password connects: the point
    is only that it must never be printed."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return url
    return parsed.set(password=SECRET_PASSWORD).render_as_string(hide_password=False)


def test_serve_prints_what_it_uses_and_logs_requests(deployment: DemoGateway) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.update(SLUICE_HOME=str(deployment.settings.home),
               SLUICE_WITNESSES="https://witness-user:witness-pass@127.0.0.1:1/")  # fmt: skip
    if deployment.settings.database_url:
        env["SLUICE_DATABASE_URL"] = _url_with_password(deployment.settings.database_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    token = deployment.headers("alice")["Authorization"]
    lines: list[str] = []
    stdout = proc.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")), daemon=True)
    reader.start()
    try:
        for _ in range(300):
            assert proc.poll() is None, "serve exited early"
            try:
                if live_http.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        resp = live_http.get(f"{base}/api/v1/catalog", params={"q": "110101199001011234"},
                         headers={"Authorization": token}, timeout=30)  # fmt: skip
        assert resp.status_code == 200
        # no SLUICE_ALLOWED_HOSTS here: a name rebound to 127.0.0.1 is refused (hosts34)
        rebound = live_http.get(f"{base}/healthz", headers={"Host": "attacker.example"}, timeout=30)
        assert rebound.status_code == 400 and "Host" in rebound.json()["message"]
        assert listened_on(deployment.settings.home) == "127.0.0.1"  # for `sluice doctor`
        # the alert process imports the gateway on its own: on a loaded machine it starts
        # after the gateway answers, and a stop before it printed would hide that it ran
        for _ in range(600):
            if any("Sluice alert rules running" in line for line in lines):
                break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=30)
    out = "".join(lines)
    assert f"listening on {base}" in out
    assert "policy engine embedded Rego (regopy), policy set" in out
    assert "witnesses     https://127.0.0.1:1/" in out
    assert "host names    127.0.0.1, ::1, localhost, and the IP address reached" in out
    assert "http.request" in out and "/api/v1/catalog" in out and "status=200" in out
    assert "Sluice gateway stopped" in out
    for secret in (SECRET_PASSWORD, "witness-pass", "110101199001011234", token.split()[1]):
        assert secret not in out
    assert "Request: " not in out  # casbin's per-decision lines stay out of the log
    # the README's sample shows the same lines, label for label
    sample = README.read_text(encoding="utf-8").split("Sluice gateway listening on", 1)[1]
    labels = re.findall(r"^  ([a-z][a-z ]+?)  +\S", sample.split("```", 1)[0], re.M)
    assert labels and all(f"  {label} " in out for label in labels), labels
    assert "alert rules   own process (pid " in out and "Sluice alert rules running" in out


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://u:pw@db:5432/sluice", "postgresql+psycopg://u:***@db:5432/sluice"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("nats://user:pw@127.0.0.1:4222/audit", "nats://127.0.0.1:4222/audit"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("public_url", "allowed", "bind", "shown"),
    [
        (None, (), "127.0.0.1", "127.0.0.1, ::1, localhost, and the IP address reached"),
        (None, (), "0.0.0.0",
         "no name; the IP address reached (the loopback names on a loopback address)"),
        ("https://sluice.example.gov/", ("intra.example",), "10.0.1.21",
         "intra.example, sluice.example.gov, and the IP address reached"),
    ],
)  # fmt: skip
def test_the_banner_names_the_hosts_answered(
    public_url: str | None, allowed: tuple[str, ...], bind: str, shown: str
) -> None:
    assert answered_names(public_url, allowed, bind) == shown
