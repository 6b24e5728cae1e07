"""Redis for the limits, down: ``sluice serve`` says so in one line and exits non-zero;
while serving, an outage (killed, or stopped and silent) fails closed with a 503 that
names the setting, never a 500 and never a request let through uncounted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.gateway.demo_app import demo_gateway

DIBAO = "civil.dibao_recipients"
BODY = {"fields": ["region_code"], "limit": 1, "purpose": "supervision", "case_ref": "JW-1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A redis-server of our own on a spare port (the machine's 6379 is never touched)."""
    port = _free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port, socket_timeout=1)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.wait(timeout=10)


def test_serve_refuses_to_start_in_one_line_when_redis_does_not_answer(tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.update(SLUICE_HOME=str(tmp_path / "home"),
               SLUICE_REDIS_URL=f"redis://ops:s3cret-pw@127.0.0.1:{port}/0")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(_free_port())],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "SLUICE_REDIS_URL" in lines[0] and f"127.0.0.1:{port}" in lines[0]
    assert "s3cret-pw" not in done.stderr and "Traceback" not in done.stderr


def test_serve_starts_when_redis_answers(tmp_path: Path) -> None:
    """The check itself lets a live Redis through (the refusal above is not a constant)."""
    from gateway.cli.serve_cmd import check_dependencies
    from gateway.core.settings import load_settings

    with redis_server(tmp_path) as (_proc, port):
        settings = load_settings(home=tmp_path / "h", redis_url=f"redis://127.0.0.1:{port}/0")
        check_dependencies(settings)


def test_a_killed_redis_is_a_503_naming_the_setting(tmp_path: Path) -> None:
    with redis_server(tmp_path) as (proc, port):
        url = f"redis://127.0.0.1:{port}/0"
        with demo_gateway(tmp_path / "h", redis_url=url) as gw:
            assert gw.query("arthur", DIBAO, BODY).status_code == 200
            proc.kill()
            proc.wait(timeout=10)
            refused = gw.query("arthur", DIBAO, BODY)
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "unavailable"
            assert "SLUICE_REDIS_URL" in refused.json()["message"]
            assert "rows" not in refused.json()


def test_a_stopped_silent_redis_is_a_503_too(tmp_path: Path) -> None:
    """A server that accepts but never answers (SIGSTOP) must not hang the request."""
    with (
        redis_server(tmp_path) as (proc, port),
        demo_gateway(tmp_path / "h", redis_url=f"redis://127.0.0.1:{port}/0") as gw,
    ):
        assert gw.query("alice", DIBAO, BODY).status_code == 200
        proc.send_signal(signal.SIGSTOP)
        try:
            refused = gw.query("alice", DIBAO, BODY)
        finally:
            proc.send_signal(signal.SIGCONT)
        assert refused.status_code == 503, refused.text
        assert "SLUICE_REDIS_URL" in refused.json()["message"]
        # and once it answers again, so does the gateway
        assert gw.query("alice", DIBAO, BODY).status_code == 200
