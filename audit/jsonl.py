"""Append-only JSON-lines files kept outside the database: the witness file, the seal
file, the alert states and a witness's book of other gateways' checkpoints.

Each record is one ``write`` call on an ``O_APPEND`` descriptor, fsynced before the
caller moves on, so lines from several processes never interleave and a record the
caller acted on survives a crash. A crash mid-write can only tear the last line, which
every reader skips.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from audit.lazy_log import get_logger
from catalog.private_files import open_own, read_own

log = get_logger("sluice.audit")


def append_line(path: Path, line: bytes) -> None:
    """Append one encoded record (``line`` without its newline) durably, mode 0600; never
    through a link (``open_own``: root's CLI wrote where the home's owner pointed it)."""
    fd = open_own(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, line + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_objects(path: Path) -> list[dict[str, Any]]:
    """Every JSON object in the file, in order; a torn line or a non-object is skipped.
    Read as it is appended to, never through a link (``read_own``): one that is not the
    home's own regular file (a link, a FIFO) is read as empty and logged, as its append
    is refused and logged (``audit_witness_failed``) — the home's owner could as well
    have removed it, and root's CLI neither waits on it nor reads what it names."""
    try:
        raw = read_own(path)
    except FileNotFoundError:
        return []
    except PermissionError as refused:
        log.error("audit_home_file_refused", path=str(path), error=str(refused))
        return []
    out: list[dict[str, Any]] = []
    for line in raw.splitlines():
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a torn last line (crash mid-write)
        if isinstance(item, dict):
            out.append(item)
    return out
