"""Red team 31 (left by red team 23), as two witnesses (other deployments' gateways, or
whoever answers their URLs): answer slowly, both of them.

Red team 23 bounded each witness's answer (the witness timeout, 2 s, whole exchange);
but the monitor asked the witnesses one after another, and the sender sent to them one
after another, so several slow witnesses added up: two of them held the monitor (and
with it the local witness file's check and the walk of the chain that seal on an
insider's edit) for two bounds a round, ten for ten.

Attack: two witness servers, started here, answer every request a byte every half
second (for 30 s). Each records when each request reached it.

Expected: the witnesses are asked at once, under one overall bound: each round's
requests reach both witnesses within a fraction of the bound of one another, and a
round of the monitor lasts one bound, not two.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.deployments import KINDS, open_deployment
from tests.attacks.test_insider_audit import INTERVAL_S, _append, _until
from tests.attacks.test_redteam22_webhook_trickle import Trickle
from tests.gateway.demo_app import DemoGateway

BOUND_S = 2.0  # the witness timeout (``WitnessSender.timeout_s``)


class Witness(Trickle):
    """A trickling witness that notes when each request (its method) reached it."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        super().__init__()

    def _opening(self, conn: socket.socket, steps: int) -> None:
        head = conn.recv(65536)
        with self._lock:
            self.seen.append((time.monotonic(), head.split(b" ", 1)[0].decode()))
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % steps)

    def times(self, method: str) -> list[float]:
        with self._lock:
            return [at for at, m in self.seen if m == method]


@pytest.fixture(scope="module", params=KINDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[DemoGateway, Witness, Witness]]:  # fmt: skip
    one, two = Witness(), Witness()
    home: Path = tmp_path_factory.mktemp(f"rt31-witnesses-{request.param}")
    with open_deployment(request.param, home, db_prefix="ops31_witnesses",
                         witnesses=[w.url.removesuffix("/hook") for w in (one, two)],
                         audit_checkpoint_seconds=INTERVAL_S,
                         audit_monitor_seconds=INTERVAL_S) as gw:  # fmt: skip
        yield gw, one, two
    one.listener.close()
    two.listener.close()


def _apart(one: list[float], two: list[float]) -> list[float]:
    """For each request to the first witness, how long before or after it the second
    witness got its nearest one."""
    return [min(abs(a - b) for b in two) for a in one]


@pytest.mark.parametrize("method", ["GET", "POST"])  # the monitor's asks, the sender's sends
def test_two_slow_witnesses_are_asked_at_once(
    world: tuple[DemoGateway, Witness, Witness], method: str
) -> None:
    gw, one, two = world
    _append(gw, 20)
    _until(lambda: len(one.times(method)) >= 4 and len(two.times(method)) >= 4,
           f"both witnesses {method} four times")  # fmt: skip
    firsts, seconds = one.times(method), two.times(method)
    # one after another, each round's second request came a whole bound after the first
    assert max(_apart(firsts[:4], seconds)) < BOUND_S / 2, (firsts[:4], seconds)


def test_a_round_of_the_monitor_lasts_one_bound(
    world: tuple[DemoGateway, Witness, Witness],
) -> None:
    _, one, _ = world
    _until(lambda: len(one.times("GET")) >= 6, "six rounds of the monitor")
    asked = one.times("GET")
    rounds = [b - a for a, b in itertools.pairwise(asked)]
    # one bound and the monitor's interval; one after another it was two bounds
    assert max(rounds[1:]) < 1.5 * BOUND_S + INTERVAL_S, rounds
