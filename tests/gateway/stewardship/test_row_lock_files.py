"""The row locks' cross-process half on SQLite (``gateway.stewardship.row_lock_files``):
a stripe's lock file, held by one descriptor, refuses every other until given back —
whatever else opens and closes the file — and made by root, it is the database owner's.
(Two real processes racing through the API and the CLI:
``tests/attacks/test_redteam28_sqlite_processes_side_by_side.py``.)"""

from __future__ import annotations

import os
import time
from pathlib import Path

from gateway.stewardship import row_lock_files
from tests.root_only import root_only


def _folder(tmp_path: Path) -> str:
    database = tmp_path / "sluice.db"
    database.touch()
    return str(database) + row_lock_files.SUFFIX


def test_a_held_stripe_refuses_another_holder_until_given_back(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    held = row_lock_files.lock(folder, 7, time.monotonic() + 1)
    assert held is not None
    (Path(folder) / "07").read_bytes()  # another descriptor opened and closed: no release
    assert row_lock_files.lock(folder, 7, time.monotonic() + 0.1) is None
    other = row_lock_files.lock(folder, 8, time.monotonic() + 0.1)  # another stripe: free
    assert other is not None
    row_lock_files.unlock(held)
    again = row_lock_files.lock(folder, 7, time.monotonic() + 0.1)
    assert again is not None
    row_lock_files.unlock(again)
    row_lock_files.unlock(other)
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert os.stat(Path(folder) / "07").st_mode & 0o777 == 0o600


@root_only
def test_files_root_makes_are_the_database_owners(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    os.chown(tmp_path / "sluice.db", 65534, 65534)  # the gateway's own user
    held = row_lock_files.lock(folder, 3, time.monotonic() + 1)
    assert held is not None
    row_lock_files.unlock(held)
    assert os.stat(folder).st_uid == 65534
    assert os.stat(Path(folder) / "03").st_uid == 65534


def test_no_lock_files_for_a_database_in_memory() -> None:
    from sqlalchemy import make_url

    assert row_lock_files.lock_dir(make_url("sqlite://")) is None
    assert row_lock_files.lock_dir(make_url("sqlite:///:memory:")) is None
    assert row_lock_files.lock_dir(make_url("postgresql://h/db")) is None
    assert str(row_lock_files.lock_dir(make_url("sqlite:///./x/../c.db"))).endswith(
        "/c.db.row-locks"
    )
