"""Secret files under ``SLUICE_HOME`` (the issuer's signing key, the masking secret):
created once and never clobbered, readable by the owner only.

Creation writes a private temporary file (``mkstemp``: mode 0600), syncs it and
hard-links it into place, so two processes starting together end up with one file;
reading refuses a file other users could read or replace.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path


def create_once(path: Path, content: Callable[[], bytes], *, prefix: str) -> None:
    """Create ``path`` with ``content()`` unless it exists (or another process wins the
    race); its directory is created 0700."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race
            os.link(tmp_name, path)
    finally:
        os.unlink(tmp_name)


def read_private(path: Path) -> bytes:
    """The file's bytes; ``PermissionError`` if other users could read or replace it."""
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError(f"{path} is accessible by other users; run: chmod 600 {path}")
    return path.read_bytes()
