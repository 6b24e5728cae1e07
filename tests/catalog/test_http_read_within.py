"""``read_within``: the one bounded exchange the OIDC client's documents and the JWKS
fetch share. What the stalls do to it (the deadline) is attacked through real servers in
``tests/attacks/test_oidc_jwks_stall.py`` and ``test_ops31_console_oidc_trickle.py``;
here, the order and the cap, against an in-process transport."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from catalog.http_read_within import BodyTooLarge, read_within


class Body(httpx.SyncByteStream):
    """A response body that says whether anyone read it."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.read = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.read += 1
            yield chunk


def _client(status: int, body: Body) -> httpx.Client:
    return httpx.Client(
        transport=httpx.MockTransport(lambda _r: httpx.Response(status, stream=body))
    )


def _refuse(status: int) -> None:
    if status != 200:
        raise ValueError(f"HTTP {status}")


def test_the_status_is_seen_before_the_body_is_read() -> None:
    body = Body([b"x" * 1024] * 4)
    with _client(500, body) as client, pytest.raises(ValueError, match="HTTP 500"):
        read_within(client, "GET", "http://idp.test/jwks", seconds=5, max_bytes=10,
                    check_status=_refuse)  # fmt: skip
    assert body.read == 0  # refused on its status alone, not BodyTooLarge


def test_without_a_status_check_any_status_is_read() -> None:
    with _client(400, Body([b'{"error":', b'"invalid_grant"}'])) as client:
        answer = read_within(client, "POST", "http://idp.test/token", seconds=5, max_bytes=100)
    assert answer == (400, b'{"error":"invalid_grant"}')


def test_a_body_past_the_cap_is_refused_as_soon_as_it_passes() -> None:
    body = Body([b"x" * 60, b"x" * 60, b"x" * 60])
    with _client(200, body) as client, pytest.raises(BodyTooLarge):
        read_within(client, "GET", "http://idp.test/jwks", seconds=5, max_bytes=100,
                    check_status=_refuse)  # fmt: skip
    assert body.read == 2
