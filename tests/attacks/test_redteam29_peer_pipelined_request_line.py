"""Red team 29, as a network peer: a request hidden in another's body by the gateway's
own request-line rewriting.

Rule: the gateway's HTTP protocol (``gateway.web.http_protocol``) percent-encodes raw
UTF-8 in a request *line* (``curl '…/catalog?q=低保'``) before httptools parses it, and
nothing else: "headers and bodies pass through unchanged". It knew where a request
line was by a flag set when the previous message completed, and took the first line of
the next chunk of bytes for it.

Attack: on one keep-alive connection, a client pipelines ``GET /healthz`` and the
headers of a ``POST`` in one TCP send, then the POST's body — JSON with Chinese text on
its first line — in the next. The previous message had completed, so the body's first
line was taken for a request line and its bytes >= 0x80 percent-encoded: the body grew
by two bytes per such byte, the POST read ``Content-Length`` bytes of the altered body,
and what was left over — the body's own tail, chosen by the client — was parsed as a
request of its own. Three answers came back for two requests, the third to a request
no front proxy ever saw as one (its path rules and logs read a POST with a JSON body),
and the POST's body was not what was sent.

Expected: bytes after the start of a message are never rewritten: two requests, two
answers, the body as sent.

On the embedded default (the HTTP layer is the same on PostgreSQL).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.live_gateway import Live, serve
from tests.gateway.demo_app import demo_gateway

N = 12  # three-byte characters on the body's first line
HEAD = '{"justification": "' + "低" * N + '"}'
HIDDEN = b"GET /healthz?hidden=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Pad: "


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home: Path = tmp_path_factory.mktemp("rt29-pipelined")
    with demo_gateway(home) as gw, serve(gw) as running:
        yield running


def _body() -> bytes:
    """A body whose first line holds ``N`` three-byte characters (growing by 6N bytes
    when percent-encoded) and whose last 6N bytes are a whole request."""
    tail = HIDDEN
    tail += b"x" * (6 * N - len(tail) - 4) + b"\r\n\r\n"
    assert len(tail) == 6 * N
    return HEAD.encode() + b" " * 8 + tail


def _answers(data: bytes) -> list[bytes]:
    return re.findall(rb"HTTP/1\.1 \d{3}", data)


def test_a_body_sent_after_a_pipelined_request_is_not_rewritten(live: Live) -> None:
    body = _body()
    first = (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
             b"POST /api/v1/access-requests HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             b"Content-Type: application/json\r\n"
             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")  # fmt: skip
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=3)
    try:
        sock.sendall(first)
        time.sleep(0.5)  # the first send parsed (healthz answered) before the body arrives
        sock.sendall(body)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
    finally:
        sock.close()
    answers = _answers(received)
    assert len(answers) == 2, (answers, received[-600:])
    # the POST's own answer: its body as sent, JSON that ends where the tail begins
    assert answers[1] == b"HTTP/1.1 400", (answers, received[-400:])
    assert f'"loc":["body","{len(HEAD) + 8}"]'.encode() in received, received[-400:]


def test_raw_utf8_request_lines_still_work_on_a_kept_alive_connection(live: Live) -> None:
    """The rewriting stays where it belongs: each request line of a kept-alive
    connection (each sent once the previous answer came) may hold raw UTF-8."""
    sock = socket.create_connection(("127.0.0.1", live.port), timeout=10)
    try:
        for _ in range(3):
            sock.sendall("GET /api/v1/catalog?q=低保 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            received = _one_answer(sock)
            assert received.startswith(b"HTTP/1.1 200"), received[:300]
            assert b"civil.dibao_recipients" in received, received[:300]
    finally:
        sock.close()


def _one_answer(sock: socket.socket) -> bytes:
    """One whole answer (its ``content-length``) read from ``sock``."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, received
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
    assert length is not None, head
    while len(body) < int(length.group(1)):
        chunk = sock.recv(65536)
        assert chunk, received
        body += chunk
    return head + b"\r\n\r\n" + body
