"""Where the last gateway started on a home listened, for ``sluice doctor``.

The address ``sluice serve --host`` binds is an option of that command, not a setting:
the doctor reads only the environment, so without this record it could not tell a
gateway on loopback (answering ``localhost``) from one listening on every interface
with no name it answers to but its addresses (``gateway.web.allowed_hosts``). Written
at each start, as ``audit.alert_watch.write_mode`` records where the rules run.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import orjson

from catalog.private_files import read_own_object, replace_private

LISTEN_NAME = "listening.json"


def record_listening(home: Path, host: str, port: int) -> None:
    """Record ``host:port`` in ``home``; a home not writable fails the gateway later."""
    with contextlib.suppress(OSError):
        replace_private(home / LISTEN_NAME, orjson.dumps({"host": host, "port": port}))


def listened_on(home: Path) -> str | None:
    """The interface the last gateway started on ``home`` bound, if it said."""
    found = read_own_object(home / LISTEN_NAME)  # root's doctor: no link
    host = found.get("host") if found is not None else None
    return host if isinstance(host, str) else None
