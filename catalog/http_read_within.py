"""One request whole within a deadline, its body read to a cap: the OIDC provider's
documents (``gateway.web.console.oidc``) and its JWKS (``gateway.auth.jwks``) were the
same exchange written twice. Beside ``catalog.http_deadline``, not in it: that one is
loaded where no HTTP client may be (the audit store, the CLI's ``token``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from catalog.http_deadline import ExchangeDeadline


class BodyTooLarge(ValueError):
    """The answer's body went past the cap ``read_within`` was given."""


class DeadlinePassed(httpx.ReadTimeout):
    """The exchange's deadline cut it (not the network, nor the peer refusing)."""


def read_within(
    client: httpx.Client, method: str, url: str, *, seconds: float, max_bytes: int,
    check_status: Callable[[int], None] | None = None, **sent: Any,
) -> tuple[int, bytes]:  # fmt: skip
    """One request, whole within ``seconds``: its status and body (at most
    ``max_bytes``, else ``BodyTooLarge``). ``check_status`` sees the status as soon as
    the headers are in, before any of the body is read: a refusal it raises ends the
    exchange there (a refused answer is not read, however large or slow its body). The
    deadline cutting the exchange is ``DeadlinePassed``; any other ``httpx.HTTPError``
    is raised as it came. ``sent``: ``httpx.Client.stream``'s other arguments."""
    with ExchangeDeadline(seconds) as deadline:
        try:
            with client.stream(method, url, extensions={"trace": deadline.trace},
                               **sent) as response:  # fmt: skip
                if check_status is not None:
                    check_status(response.status_code)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise BodyTooLarge(f"the answer is over {max_bytes} bytes")
                return response.status_code, bytes(body)
        except httpx.HTTPError:
            if deadline.expired:
                raise DeadlinePassed("the answer did not arrive in time") from None
            raise
