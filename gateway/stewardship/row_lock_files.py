"""Row write locks across processes on SQLite: a lock file per key stripe.

PostgreSQL gives the row locks (``row_locks``) their cross-process half in advisory
locks. SQLite has none, so the operator's CLI (``sluice users add``, ``sluice rebind``)
or a second gateway on the same embedded catalog took a row's lock in its own memory
only: an admin's user and the CLI's look-alike were both made, two gateways' triggers
of one schedule period both went on record (rows32, red team 28's left row). Here each
of the process's key stripes is a file in ``<database>.row-locks/`` beside the database
file, locked with ``flock`` (non-blocking, retried until the caller's deadline) on a
descriptor opened for the transaction and closed when it ends, which gives the lock back.

Not the database's own write lock (``BEGIN IMMEDIATE`` where a row's lock is taken): on
SQLite the trail shares the database, and a governed write puts its record on the
trail (the audit writer's connection, ``BEGIN IMMEDIATE`` too) before it commits — the
writer would wait for the request that waits for the writer, and every record behind
it too. A lock file locks no table, so only another write of a row on the same stripe
waits on it, as with PostgreSQL's advisory locks (there per key; a stripe is 1/64 of
the keys, a wait bounded by ``WRITE_WAIT_S`` as in the process).

``flock``, not POSIX record locks (``lockf``): a ``flock`` lock belongs to the open file
description, so another thread's descriptor, or any code of the process opening and
closing the same file, neither shares it nor drops it (closing any descriptor of a file
drops every POSIX lock the process holds on it).
"""

from __future__ import annotations

import fcntl
import os
import stat
import time
from pathlib import Path

from sqlalchemy.engine import URL

from catalog.private_files import PRIVATE_FILE, private_dir, require_own_file

SUFFIX = ".row-locks"
_RETRY_S = 0.02


def lock_dir(url: URL) -> str | None:
    """The lock files' folder beside a SQLite catalog's database file (its real path, so
    two processes naming it differently share it); None for an in-memory database, which
    no other process can open, and for any other database."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI filename (``?uri=true``)
        if "mode=memory" in database:
            return None
        database = database.removeprefix("file:").split("?", 1)[0]
    return os.path.realpath(database) + SUFFIX


def _open(folder: str, stripe: int) -> int:
    """The stripe's file, opened through the folder without following a link (red team
    30): the database's owner may write beside the database, and root's CLI followed a
    folder or stripe file it had made a symlink, creating and ``chown``-ing a file (or
    folder) of root's to that owner."""
    directory = _open_folder(folder)
    try:
        fd = _open_stripe(directory, f"{stripe:02d}")
        try:
            if os.geteuid() == 0:
                _as_database_owner(folder, directory, fd)
        except BaseException:
            os.close(fd)
            raise
        return fd
    finally:
        os.close(directory)


def _open_folder(folder: str) -> int:
    """The lock folder, a real folder (not a link) of this process's user or of the
    database's owner, writable by no one else; else ``PermissionError``."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        directory = os.open(folder, flags)
    except FileNotFoundError:  # the first lock beside this database
        private_dir(Path(folder))
        directory = os.open(folder, flags)
    except OSError as exc:  # ELOOP, ENOTDIR: a link or a file in its place
        raise PermissionError(f"{folder} is not a real folder") from exc
    found = os.fstat(directory)
    owners = {os.geteuid(), _database_owner(folder).st_uid}
    if found.st_uid not in owners or found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        os.close(directory)
        raise PermissionError(f"{folder} is not private to the database's owner")
    return directory


def _open_stripe(directory: int, name: str) -> int:
    """The stripe file in ``directory``, created 0600 if missing; never a link or
    anything but a regular file with no other name."""
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=directory)
    except FileNotFoundError:
        try:
            fd = os.open(name, flags | os.O_CREAT | os.O_EXCL, PRIVATE_FILE, dir_fd=directory)
        except FileExistsError:  # another process made it first
            fd = os.open(name, flags, dir_fd=directory)
    except OSError as exc:  # ELOOP: a symlink in its place
        raise PermissionError(f"row lock file {name} is not a regular file") from exc
    try:
        require_own_file(fd, f"row lock file {name}")
    except PermissionError:
        os.close(fd)
        raise
    return fd


def _database_owner(folder: str) -> os.stat_result:
    return os.stat(folder.removesuffix(SUFFIX))


def _as_database_owner(folder: str, directory: int, fd: int) -> None:
    """Root (an operator's CLI beside a gateway that runs as its own user) leaves the
    folder and the file the database's owner's, as SQLite does its journals: a stripe
    file root made private to root would refuse the gateway every write on it (503).
    Through the descriptors already checked, never a path that could be re-pointed."""
    owner = _database_owner(folder)
    if os.fstat(fd).st_uid == 0:
        os.fchown(fd, owner.st_uid, owner.st_gid)
    if os.fstat(directory).st_uid == 0:
        os.fchown(directory, owner.st_uid, owner.st_gid)


def lock(folder: str, stripe: int, deadline: float) -> int | None:
    """A descriptor holding ``stripe``'s lock (``unlock`` gives it back), or None when
    another process's holds it past ``deadline`` (``time.monotonic``)."""
    fd = _open(folder, stripe)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(_RETRY_S)
    except BaseException:
        os.close(fd)
        raise


def unlock(fd: int) -> None:
    """Give the lock back: closing its descriptor (the only one of its description)."""
    os.close(fd)
