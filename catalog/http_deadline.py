"""One whole HTTP exchange within a deadline: a source's read within its statement
timeout (``adapters.http_fetch``), an alert's webhook push within its bound
(``audit.alert_push``). Here, below both, as ``catalog.pg_session`` is.

httpx's timeouts bound each socket operation, not an exchange: a source that answers
its page (or its headers) a few bytes at a time, each burst inside the read timeout,
held an analyst's query, its read slot and a gateway worker for as long as it chose
(red team 22: a page trickled over eight timeouts was served, 200, after all of them).
The statement timeout promises a bound on the read ("Compromised partner source ... or
hangs": ``THREAT_MODEL.md``), so each exchange — connect, request, headers and body —
has a deadline: when it passes, the exchange's socket is shut down by the one deadline
thread (``catalog.deadline_watch``, no thread started per exchange), which wakes the
read blocked on it, and the caller reports ``SourceTimeout``.

The socket is the one httpcore opens for this exchange (its ``connect_tcp`` trace, and
``start_tls`` for HTTPS), so the client keeps no connection alive between exchanges
(``max_keepalive_connections=0``): an exchange never runs on a socket it did not open,
and no deadline can shut down another exchange's connection. An alert push opens a client
of its own each time.

``read_within`` is the whole of such an exchange for a caller that wants a bounded body
back (the OIDC provider's documents, ``gateway.web.console.oidc``; its JWKS,
``gateway.auth.jwks``): the stream under the deadline, the status seen before the body
is read, the body read to a cap, and an exchange the deadline cut told apart from one
the network failed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx

from catalog.deadline_watch import WATCH, Armed

CONNECTION_EVENTS = ("connection.connect_tcp.complete", "connection.start_tls.complete")


class ExchangeDeadline:
    """``with ExchangeDeadline(seconds) as deadline:`` around one exchange; pass
    ``deadline.trace`` as the request's ``trace`` extension; ``expired`` afterwards says
    whether the timer cut it."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._owned: list[socket.socket] = []  # duplicates ``watch`` made, closed at exit
        self._done = False
        self.expired = False
        self._seconds = seconds
        self._armed: Armed | None = None

    def __enter__(self) -> ExchangeDeadline:
        self._armed = WATCH.arm(self._seconds, self._expire)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        if self._armed is not None:
            WATCH.disarm(self._armed)  # before our lock: the watch's lock comes first
        with self._lock:
            self._done = True
            self._sockets.clear()
            owned, self._owned = self._owned, []
        for sock in owned:
            sock.close()

    def watch(self, sock: socket.socket) -> None:
        """Cut ``sock``'s connection too when the deadline passes (a client that is not
        httpx: the alert mail's ``smtplib``). A duplicate descriptor is kept, so a
        socket wrapped later (STARTTLS detaches the one it wraps) is still cut."""
        own = sock.dup()
        with self._lock:
            if self._done:
                own.close()
                return
            self._sockets.append(own)
            self._owned.append(own)
        if self.expired:
            _shut(own)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: keeps the socket of each connection it opens."""
        if event not in CONNECTION_EVENTS:
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            if not self._done:
                self._sockets.append(sock)
        if self.expired:  # connected just as the deadline passed
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    """Wake whatever waits on ``sock``: a read returns at once (end of stream)."""
    with contextlib.suppress(OSError):  # already closed: the exchange ended meanwhile
        sock.shutdown(socket.SHUT_RDWR)


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
