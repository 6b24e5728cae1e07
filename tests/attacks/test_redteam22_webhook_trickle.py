"""Red team 22, as whoever answers the alert webhook (a group robot's service, a relay on
the way to it): answer each push a byte at a time.

Rule (THREAT_MODEL, live alerts): alerts are pushed within seconds; a receiver that is
down delays the news on its channel, never the trail, and a push that finally fails
shows on the alert. Each webhook push is bounded (5 s).

Attack: the receiver accepts every push and sends its answer one byte every half
second for half a minute: each read returns within httpx's timeout, so the push never
failed. One thread sends every channel's pushes, one after another, so the mail behind
it waited too: the security officers heard of nothing while the trickle lasted (every
push, every retry: for as long as the receiver likes).

Expected: the webhook push fails at its 5 s bound (retried, as a receiver that is down)
and the mail of the same alert goes out meanwhile: here alice's refusals open a
``repeated_denials`` alert, and its mail arrives within a few seconds. On main it came
only after the trickle (30 s).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.audit.receivers import Mailbox, smtp_server
from tests.gateway.demo_app import DemoGateway

TRICKLE_S = 30.0
# the bound on one push, set small here so the test waits seconds, not the default 5 s;
# still far below the trickle, which is what the attack needs
PUSH_BOUND_S = 2.0


class Trickle:
    """An HTTP server that answers every request a byte every half second."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.pushes = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _opening(self, conn: socket.socket, steps: int) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % steps)

    def _answer(self, conn: socket.socket) -> None:
        self.pushes += 1
        steps = int(TRICKLE_S / 0.5)
        try:
            self._opening(conn, steps)
            for _ in range(steps):
                time.sleep(0.5)
                conn.sendall(b" ")
        except OSError:  # the gateway hung up: what it should do
            return
        finally:
            conn.close()


@pytest.fixture(scope="module", params=KINDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[DemoGateway, Trickle, Mailbox]]:  # fmt: skip
    hook = Trickle()
    home: Path = tmp_path_factory.mktemp(f"rt22-hook-{request.param}")
    with smtp_server() as mail:
        settings = {
            "alert_webhook_url": hook.url, "alert_smtp_host": mail.host,
            "alert_smtp_port": mail.port, "alert_smtp_from": "sluice@example.org",
            "alert_smtp_to": ["officers@example.org"], "alert_smtp_starttls": False,
            "alert_eval_seconds": 0.5, "alert_push_backoff_seconds": 0.2,
            "alert_push_timeout_seconds": PUSH_BOUND_S,
        }  # fmt: skip
        with open_deployment(request.param, home, db_prefix="redteam22_hook",
                             **settings) as gw:  # fmt: skip
            yield gw, hook, mail
        hook.listener.close()


def test_a_trickling_webhook_does_not_hold_the_mail_back(
    world: tuple[DemoGateway, Trickle, Mailbox],
) -> None:
    gw, hook, mail = world
    headers = gw.headers("alice")
    for i in range(8):  # refused: repeated denials within the hour
        gw.client.get(f"/api/v1/nothing-{i}", headers=headers)
    started = time.monotonic()
    got = mail.messages(timeout=15, want=lambda m: "repeated_denials" in str(m))
    took = time.monotonic() - started
    assert any("repeated_denials" in str(m) for _, _, m in got), (took, hook.pushes)
    assert hook.pushes >= 1, "the webhook was never pushed to"
