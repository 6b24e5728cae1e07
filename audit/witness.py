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
from audit.jsonl import append_line, read_objects

WITNESS_NAME = "audit-witness.jsonl"


def witness_path(home: Path) -> Path:
    return home / WITNESS_NAME


def append(path: Path, checkpoint: dict[str, Any]) -> None:
    """Append one checkpoint line durably (one write call, so lines never interleave)."""
    append_line(path, canonical_json(checkpoint))


def read(path: Path) -> list[dict[str, Any]]:
    """Every witnessed checkpoint; a torn last line (crash mid-write) is ignored."""
    return [item for item in read_objects(path)
            if {"seq", "hash", "ts", "kid", "signature"} <= set(item)]  # fmt: skip


def latest(path: Path) -> dict[str, Any] | None:
    """The highest witnessed checkpoint in the file, or None."""
    found = read(path)
    return max(found, key=lambda c: int(c["seq"])) if found else None


def archive(home: Path, epoch: int) -> Path | None:
    """Move the current epoch's witness file aside (kept as evidence) for a new epoch."""
    current = witness_path(home)
    if not current.exists():
        return None
    target = home / f"audit-witness.epoch-{epoch}.jsonl"
    os.replace(current, target)
    return target


class WitnessTail:
    """Reads a witness file incrementally: only the complete lines added since last time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._inode: int | None = None

    def new(self) -> list[dict[str, Any]]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._offset, self._inode = 0, None
            return []
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            self._offset, self._inode = 0, stat.st_ino  # replaced (new epoch) or rewritten
        if stat.st_size == self._offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read(stat.st_size - self._offset)
        end = data.rfind(b"\n") + 1  # a torn last line waits for its newline
        self._offset += end
        out: list[dict[str, Any]] = []
        for raw in data[:end].splitlines():
            try:
                item = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(item, dict) and {"seq", "hash", "ts", "kid", "signature"} <= set(item):
                out.append(item)
        return out
