"""Red team 35, as an anonymous client, against the Host allow-list (the thirty-fourth
pass): two ``Host`` headers.

Rule: a request is answered only when its ``Host`` names this gateway, and nothing the
gateway says about itself is built from a ``Host`` it did not check. HTTP/1.1 allows one
``Host``: a request with more is a 400 (RFC 9112, 3.2).

Attack: ``Host: evil.example`` then ``Host: 127.0.0.1``. The allow-list read the headers
into a dict — the last one won, and it passed — while Starlette's ``request.url`` (the
console's own origin without ``SLUICE_PUBLIC_URL``, the router's trailing-slash
redirect) reads the first: ``GET /api/v1/datasets/`` was answered ``307`` to
``http://evil.example/api/v1/datasets``, a redirect a cache in front (keyed on either
header) keeps for everyone, and ``Origin: http://evil.example`` was the console's own.

Expected: 400 whichever of the two comes first. A real uvicorn socket on 127.0.0.1
(httptools, as ``sluice serve``), on the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.attacks.live_gateway import Live, serve
from tests.gateway.demo_app import DemoGateway


@pytest.fixture(scope="module")
def live(deployment: DemoGateway) -> Iterator[Live]:
    with serve(deployment) as running:
        yield running


def _head(port: int, hosts: list[str], path: str) -> str:
    """The status line and headers of one raw request carrying ``hosts``."""
    lines = [f"GET {path} HTTP/1.1", *(f"Host: {h}" for h in hosts), "Connection: close"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer.split(b"\r\n\r\n")[0].decode("latin-1")


@pytest.mark.parametrize("path", ["/api/v1/datasets/", "/healthz"])
def test_two_host_headers_are_refused(live: Live, path: str) -> None:
    for hosts in (["evil.example", "127.0.0.1"], ["127.0.0.1", "evil.example"],
                  ["127.0.0.1", "127.0.0.1"]):  # fmt: skip
        head = _head(live.port, hosts, path)
        assert head.startswith("HTTP/1.1 400"), (hosts, head)
        assert "evil.example" not in head, head
    assert _head(live.port, ["127.0.0.1"], "/healthz").startswith("HTTP/1.1 200")
