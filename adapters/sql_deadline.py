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

One thread watches every armed deadline (``catalog.deadline_watch``: arming is a push
under a lock, no thread per fetch: the query's hot path), and ``disarm`` returns only
once a shutdown can no longer happen, so a connection handed back to the pool is never
cut afterwards.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from catalog.deadline_watch import WATCH
from catalog.errors import SourceTimeout

GRACE_S = 1.0  # past the statement timeout: the server's own timeout answers first


def _shut(fd: int) -> None:
    """Shut the socket behind ``fd`` down (a duplicate descriptor of it, closed after)."""
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


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
    armed = WATCH.arm(seconds + GRACE_S, partial(_shut, fd))
    try:
        yield
    except BaseException:
        WATCH.disarm(armed)
        if armed.fired:
            raise late(seconds) from None
        raise
    WATCH.disarm(armed)
    if armed.fired:  # cut just as the block ended: the connection is gone all the same
        raise late(seconds)


def late(seconds: float) -> SourceTimeout:
    return SourceTimeout(f"the source did not answer within {seconds:g} s (statement timeout)")
