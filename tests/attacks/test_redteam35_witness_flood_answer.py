"""Red team 35, as one witness (another deployment's gateway, or whoever answers its
URL), against the gateway's memory: answer with more than anyone asked for.

The witness sender posts each checkpoint to every witness and the monitor asks each for
the newest it holds. Red team 23 bounded each exchange in time (``ExchangeDeadline``)
and the thirty-fourth pass put the OIDC provider's answers and the JWKS through one
helper that also caps the body (``catalog.http_read_within``) — but the witness's
answers were still read whole, into memory, by httpx (``post`` / ``get`` without
``stream``), however large: within the two-second bound a witness on the LAN sends
hundreds of megabytes, and a gzip-encoded answer (decoded by httpx as it reads) a
thousand times what it sends, for every checkpoint and every monitor tick.

Attack: a witness that answers every exchange ``200`` with a 48 MB body. Expected: the
gateway stops reading at a small cap (a receipt and a checkpoint are a few hundred
bytes): what the witness managed to send stays far below 48 MB (the sockets' buffers
only). On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.deployments import KINDS
from tests.attacks.test_insider_audit import _append, _until
from tests.attacks.test_redteam22_webhook_trickle import Trickle
from tests.attacks.test_redteam23_witness_trickle import witnessed_by
from tests.gateway.demo_app import DemoGateway

BODY = 48 * 1024 * 1024
PIECE = 1024 * 1024
BUFFERS = 16 * 1024 * 1024  # what the two sockets' buffers can hold, generously


class Flood(Trickle):
    """An HTTP server answering every request 200 with ``BODY`` bytes, as fast as the
    client reads; ``sent`` holds what each answer got out before the client hung up."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        super().__init__()

    def _answer(self, conn: socket.socket) -> None:
        sent = 0
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % BODY)  # fmt: skip
            while sent < BODY:
                conn.sendall(b" " * PIECE)
                sent += PIECE
        except OSError:  # the gateway hung up: what it should do
            pass
        finally:
            self.sent.append(sent)
            conn.close()


@pytest.fixture(scope="module", params=KINDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[DemoGateway, Flood]]:  # fmt: skip
    witness, kind = Flood(), request.param
    home: Path = tmp_path_factory.mktemp(f"rt35-flood-{kind}")
    with witnessed_by(witness, kind, home, "redteam35_flood") as gw:
        yield gw, witness


def test_a_witness_answer_is_read_to_a_cap(world: tuple[DemoGateway, Flood]) -> None:
    gw, witness = world
    _append(gw, 20)
    _until(lambda: len(witness.sent) >= 4, "the witness is written to and asked")
    assert max(witness.sent[:4]) < BUFFERS, witness.sent
