"""The witness file: signed checkpoints kept outside the audit database.

A hash chain cannot reveal that its tail was cut off; a copy of the latest signed
checkpoints somewhere the database's owner cannot rewrite can. Each line of
``<home>/audit-witness.jsonl`` is one checkpoint; lines are appended with O_APPEND and
fsynced before the writer moves on. ``verify`` requires the database to still contain
every witnessed ``(seq, hash)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from audit.canonical import canonical_json

WITNESS_NAME = "audit-witness.jsonl"


def witness_path(home: Path) -> Path:
    return home / WITNESS_NAME


def append(path: Path, checkpoint: dict[str, Any]) -> None:
    """Append one checkpoint line durably (one write call, so lines never interleave)."""
    line = canonical_json(checkpoint) + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path: Path) -> list[dict[str, Any]]:
    """Every witnessed checkpoint; a torn last line (crash mid-write) is ignored."""
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    for raw in path.read_bytes().splitlines():
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(item, dict) and {"seq", "hash", "ts", "kid", "signature"} <= set(item):
            out.append(item)
    return out
