"""The gateway's own deadline on a SQL source's socket, for a server that stops talking.

The statement timeout of a PostgreSQL or MySQL source is set in the session
(``adapters.sql_config``) and enforced by the server, and the COPY watchdog's cancel
(``adapters.sql_copy``) is a request to the server too: a server that has already
answered into a relay that holds the answer, or that ignores both (a compromised
partner source), kept the gateway waiting on its socket for ever (red team 22: a relay
that held the answer eight timeouts long had the query served, 200, after all of them).
The driver's socket has no timeout of its own.

So each fetch of a SQL source (the statement and every later chunk: where the
statement timeout's per-fetch meaning applies) runs under a deadline a little longer
than the statement timeout, so that the server's own timeout, when it plays by the
rules, still answers first (a clean ``57014``): when the deadline passes, the socket is
shut down, which wakes the blocked read; the caller reports a statement timeout and the
connection is invalidated, never pooled.

One thread watches every armed deadline (a heap; arming is a push under a lock, no
thread per fetch: the query's hot path), and ``disarm`` returns only once a shutdown
can no longer happen, so a connection handed back to the pool is never cut afterwards.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from catalog.errors import SourceTimeout

GRACE_S = 1.0  # past the statement timeout: the server's own timeout answers first


@dataclass(order=True)
class Armed:
    """One fetch's deadline (``fired`` once the socket was shut down)."""

    due: float
    order: int
    fd: int = field(compare=False)
    done: bool = field(default=False, compare=False)
    fired: bool = field(default=False, compare=False)


class SocketDeadlines:
    """Deadlines of fetches in flight, watched by one daemon thread started on first use."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[Armed] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, seconds: float) -> Armed:
        armed = Armed(time.monotonic() + seconds, next(self._order), fd)
        with self._cond:
            while self._heap and self._heap[0].done:  # fetches that ended: gone
                heapq.heappop(self._heap)
            heapq.heappush(self._heap, armed)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, daemon=True,
                                                name="sluice-sql-deadlines")  # fmt: skip
                self._thread.start()
            if self._heap[0] is armed:
                self._cond.notify()
        return armed

    def disarm(self, armed: Armed) -> None:
        with self._cond:  # a shutdown under way finishes first; none starts after
            armed.done = True

    def _watch(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0].due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                armed = heapq.heappop(self._heap)
                armed.done = armed.fired = True
                _shut(armed.fd)


def _shut(fd: int) -> None:
    """Shut the socket behind ``fd`` down (a duplicate descriptor of it, closed after)."""
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


DEADLINES = SocketDeadlines()


def socket_of(raw: Any) -> int | None:
    """The descriptor of a DBAPI connection's socket (psycopg, PyMySQL), or None."""
    pgconn = getattr(raw, "pgconn", None)
    if pgconn is not None:
        with contextlib.suppress(Exception):
            return int(pgconn.socket)
        return None
    sock = getattr(raw, "_sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            return sock.fileno()
    return None


@contextmanager
def bounded(raw: Any, seconds: float) -> Iterator[None]:
    """The block's exchanges with the server of DBAPI connection ``raw`` within
    ``seconds`` (+ ``GRACE_S``): past it the socket is shut down and ``SourceTimeout``
    raised, whatever the block made of the broken connection (the caller invalidates
    it). Without a socket to watch (SQLite), the block runs as it is."""
    fd = socket_of(raw)
    if fd is None:
        yield
        return
    armed = DEADLINES.arm(fd, seconds + GRACE_S)
    try:
        yield
    except BaseException:
        DEADLINES.disarm(armed)
        if armed.fired:
            raise late(seconds) from None
        raise
    DEADLINES.disarm(armed)
    if armed.fired:  # cut just as the block ended: the connection is gone all the same
        raise late(seconds)


def late(seconds: float) -> SourceTimeout:
    return SourceTimeout(f"the source did not answer within {seconds:g} s (statement timeout)")
