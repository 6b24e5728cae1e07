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

``catalog.http_read_within`` is the whole of such an exchange for a caller that wants a
bounded body back. This module imports no httpx: the audit store's and the CLI's
start-ups load it without an HTTP client (``tests/audit/test_store_imports.py``,
``tests/gateway/cli/test_startup.py``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Any

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
