"""Red team 23: lock files another user can take, passed by the doctor.

``flock`` needs only a descriptor opened for reading. The alert state's, the outbox's
and the seal's lock files (``alerts-state.lock``, ``alerts-outbox.lock``,
``audit-seal.jsonl.lock``) are created 0600, but the doctor required of them only what
it requires of the readable evidence files (not writable by others): in a home that may
be 0755 (the doctor passes it), a lock file left 0644 by a restore let any user on the
host hold it for ever — the rule process stuck at its next alert, the pusher, an unseal
— and ``sluice doctor`` said ``ok``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.ops.processes import sluice

LOCKS = ("alerts-state.lock", "alerts-outbox.lock", "audit-seal.jsonl.lock")


@pytest.mark.parametrize("name", LOCKS)
def test_the_doctor_fails_a_lock_file_other_users_can_open(tmp_path: Path, name: str) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    lock = home / name
    lock.touch()
    os.chmod(lock, 0o644)
    doctor = sluice("doctor", settings={"SLUICE_HOME": str(home)}).stdout
    said = rf"FAIL\s+key files\s+{re.escape(str(lock))} is open to other users"
    assert re.search(said, doctor), doctor
