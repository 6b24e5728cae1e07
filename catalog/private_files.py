"""Files and folders under ``SLUICE_HOME`` that only the gateway's user may touch: the
issuer's signing key, the masking and console secrets, the audit and master keys and
their ``current`` pointers, the alert state and outbox.

Every one is created private whatever the process's umask (a service manager may start
the gateway with 0000): files 0600 and every folder this module creates — parents too,
which ``Path.mkdir(parents=True)`` would make 0777 minus the umask — 0700. Existing
folders are left as they are: ``sluice doctor`` reports them. In ``catalog`` (the bottom
package) so that ``audit``, ``adapters`` and ``gateway`` share the one rule.

Creation writes a private unnamed file (``O_TMPFILE``, or where there is none a
``mkstemp`` temporary one: mode 0600), syncs it and links it into place, so two
processes starting together end up with one file; reading refuses a file other users
could read or replace. The files kept open by path —
the append-only JSON-lines files and the ``flock`` files beside them — are opened by
``open_own`` only, and read by ``read_own``: never through a link (red teams 34 and 35);
the keys and secrets too (``read_own`` with a bound, ``read_private``), which refuse a
file with two names: hence the unnamed file of creation (rows36, red team 35's left row).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import orjson

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
KEY_BYTES = 64 * 1024  # a key or a key pointer is a few hundred bytes
NOT_OWN = "is a link or not a file of the home's own: refused"


class RefusedFile(PermissionError):
    """A name in the home that is not the home's own regular file (a link, a FIFO, a
    device, another file's hard link): refused, never followed nor read. The CLI says
    it in one line naming the file (``gateway.cli.unavailable``)."""


def private_dir(path: Path) -> Path:
    """``path`` as a folder; each folder created on the way is 0700 (chmod'ed, so the
    umask cannot widen or narrow it). One that exists is left alone, but reached only
    through links root or this process's user made (``_own_links``)."""
    missing = []
    for folder in [path, *path.parents]:
        if os.path.lexists(folder):  # a dangling link is not missing: it is refused
            _own_links(folder)
            break
        missing.append(folder)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            folder.mkdir(mode=PRIVATE_DIR)
            os.chmod(folder, PRIVATE_DIR)
    return path


def _own_links(path: Path) -> None:
    """``PermissionError`` if ``path`` or a folder above it is a symbolic link another
    user made. The home belongs to the gateway's user and the operator may run the CLI
    as root over it: ``keys/audit`` made a link to a folder of root's had root write a
    new signing key and its ``current`` pointer there (red team 34). A link root or
    this process's user made (an operator's, the gateway's own) is theirs to follow."""
    trusted = {0, os.geteuid()}
    for part in [path, *path.parents]:
        info = os.lstat(part)
        if not stat.S_ISLNK(info.st_mode) or info.st_uid in trusted:
            continue
        # a link in a folder only root or this user can write was put there by them
        # (an administrator's ``/data`` made for another account)
        folder = os.stat(part.parent)
        if folder.st_uid in trusted and not folder.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            continue
        raise PermissionError(f"{part} is a link another user made: refused")


def replace_private(path: Path, data: bytes) -> None:
    """Write ``path`` whole (a key pointer, the gateway's id): a 0600 temporary file,
    synced, renamed over it, so a reader sees the old or the new bytes, never half."""
    private_dir(path.parent)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def create_once(path: Path, content: Callable[[], bytes], *, prefix: str) -> None:
    """Create ``path`` with ``content()`` unless a name is there already (or another
    process wins the race); its folders are created 0700. A link or a FIFO in its place
    is left for the reader to refuse (``read_private``)."""
    if os.path.lexists(path):
        return
    private_dir(path.parent)
    data = content()
    with contextlib.suppress(FileExistsError):  # another process won the race
        if not _link_unnamed(path, data):
            _link_named(path, data, prefix)


def _link_unnamed(path: Path, data: bytes) -> bool:
    """Link a new file of ``data`` at ``path`` from an unnamed one (``O_TMPFILE``): it
    appears whole and with one name, never with the two a named temporary file has until
    it is removed (``_link_named``), which the readers refuse as another file's hard
    link (``require_own_file``): a replica starting beside the one creating the key
    would stop. False where the file system has no unnamed files."""
    unnamed = getattr(os, "O_TMPFILE", 0)
    if not unnamed or not os.path.isdir("/proc/self/fd"):
        return False
    try:
        fd = os.open(path.parent, unnamed | os.O_WRONLY | os.O_CLOEXEC, PRIVATE_FILE)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return False
        raise
    try:
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(fd)
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:  # linkat(2) with AT_SYMLINK_FOLLOW, as open(2) documents for O_TMPFILE
            os.link(f"/proc/self/fd/{fd}", path.name, dst_dir_fd=folder, follow_symlinks=True)
        finally:
            os.close(folder)
    finally:
        os.close(fd)
    return True


def _link_named(path: Path, data: bytes, prefix: str) -> None:
    """``_link_unnamed`` through a named temporary file (0600), removed once linked."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp_name, path)
    finally:
        os.unlink(tmp_name)


def read_private(path: Path) -> bytes:
    """A secret's bytes (the masking and console secrets, the issuer's key), read as
    ``read_own`` reads the home's files — never through a link, never a FIFO or a
    device, a regular file with one name, at most ``KEY_BYTES`` — and
    ``PermissionError`` if other users could read or replace it.

    Read by path (``Path.read_bytes``), a FIFO the home's owner left in place of a key
    held root's CLI, a link to ``/dev/zero`` read memory, and a link to a file of root's
    (0600: the mode check passed) was read as the key (red team 35's left row)."""
    with _open_read(path) as handle:
        if os.fstat(handle.fileno()).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PermissionError(f"{path} is accessible by other users; run: chmod 600 {path}")
        return _bounded(handle, path, KEY_BYTES)


def open_own(path: Path, flags: int) -> int:
    """A descriptor on ``path`` (created 0600 if missing), the home's own regular file.

    The home belongs to the gateway's user, and the operator may run the CLI as root over
    it: a name in it that the home's owner made a symbolic link (dangling into
    ``/etc/sudoers.d``, or to a file of root's) had root create or append to the file of
    their choosing (red team 34). So the last component is never followed
    (``O_NOFOLLOW``), a FIFO cannot hold the opener (``O_NONBLOCK``), and anything but a
    regular file with one name (a hard link to another file) is refused:
    ``PermissionError``, nothing created or written outside the home."""
    mode = os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags | mode, PRIVATE_FILE)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            raise RefusedFile(f"{path} {NOT_OWN}") from None
        raise
    try:
        require_own_file(fd, str(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_own(path: Path, *, limit: int | None = None) -> bytes:
    """The bytes of ``path``, the home's own regular file, read as ``open_own`` writes.

    Red team 34 made the appends refuse a link; the reads still went by path
    (``Path.read_bytes``), so a FIFO the home's owner left in place of the witness file
    held root's CLI in ``open`` for as long as no one wrote to it, and a link to
    ``/dev/zero`` read memory until something was killed (red team 35). So the last
    component is never followed, the open does not wait (``O_NONBLOCK``), and anything
    but a regular file with one name is refused (``RefusedFile``, a ``PermissionError``);
    ``FileNotFoundError`` as ``read_bytes`` raises it. A key's reader passes ``limit``
    (``KEY_BYTES``): past it the file is refused, not read."""
    with _open_read(path) as handle:
        return _bounded(handle, path, limit)


def _bounded(handle: BinaryIO, path: Path, limit: int | None) -> bytes:
    """The rest of ``handle``; ``RefusedFile`` past ``limit`` bytes (a key's reader is
    not made to read a file the home's owner let grow)."""
    if limit is None:
        return handle.read()
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise RefusedFile(f"{path} is larger than {limit} bytes: refused")
    return data


def _open_read(path: Path) -> BinaryIO:
    """``path`` open for reading if it is the home's own regular file (``read_own``)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RefusedFile(f"{path} {NOT_OWN}") from None
        raise
    handle = os.fdopen(fd, "rb")
    try:
        require_own_file(fd, str(path))
        os.set_blocking(fd, True)
    except BaseException:
        handle.close()
        raise
    return handle


def read_own_object(path: Path) -> dict[str, Any] | None:
    """The JSON object a small record of the home holds (``read_own``: never through a
    link), or None when it is missing, refused, or not an object."""
    try:
        found = orjson.loads(read_own(path))
    except (OSError, orjson.JSONDecodeError):
        return None
    return found if isinstance(found, dict) else None


def require_own_file(fd: int, what: str) -> None:
    """``PermissionError`` unless ``fd`` is a regular file with one name: a FIFO or a
    device holds or floods its reader, and a hard link is another file's name (the
    home's files, ``open_own`` and ``read_own``; the row lock files)."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        raise RefusedFile(f"{what} {NOT_OWN}")
