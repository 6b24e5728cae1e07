"""Connection limits for test clients that keep a connection to a live server.

uvicorn closes a connection idle for 5 s (``timeout_keep_alive``); httpx keeps one
for 5 s too (``keepalive_expiry``). A client idle for about 5 s between two tests
sent its next request on a socket the server was closing at that instant:
"Server disconnected without sending a response" (seen once in a loaded full run,
``test_a_saved_model_runs_and_its_hits_page``). The client must give up an idle
connection well before the server does. And the one-off requests' TLS context (below).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import httpx

SHORT_KEEPALIVE = httpx.Limits(keepalive_expiry=1.0)


# One TLS context for the suite's one-off requests. ``httpx.get`` and its kin build a
# client per call, and each client a TLS context that parses certifi's whole bundle:
# about 21 ms of CPU per call, for requests to http:// servers on the loopback. Polling a
# starting server with them cost the suite some 100 s of CPU (py-spy over a whole run,
# stop 35). The context is httpx's own default, made once.
TLS = httpx.create_ssl_context()


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.request`` with the suite's one TLS context."""
    kwargs.setdefault("verify", TLS)
    return httpx.request(method, url, **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return request("POST", url, **kwargs)


def put(url: str, **kwargs: Any) -> httpx.Response:
    return request("PUT", url, **kwargs)


def patch(url: str, **kwargs: Any) -> httpx.Response:
    return request("PATCH", url, **kwargs)


def delete(url: str, **kwargs: Any) -> httpx.Response:
    return request("DELETE", url, **kwargs)


def stream(method: str, url: str, **kwargs: Any) -> AbstractContextManager[httpx.Response]:
    """``httpx.stream`` with the suite's one TLS context."""
    kwargs.setdefault("verify", TLS)
    return httpx.stream(method, url, **kwargs)
