"""Red team 60, as a database insider (or a DBA's shortcut) on PostgreSQL, against the
operator reading ``sluice doctor``: powers of the runtime role red team 56's list
(``REPLICATION``, ``BYPASSRLS``, ``pg_signal_backend``, ``pg_read_all_data``) left out.

- ``pg_write_all_data``: INSERT, UPDATE and DELETE on every table of every database of
  the server — the partner departments' sources there, whose rows every analyst reads
  as the source's word;
- ``pg_read_all_stats`` / ``pg_monitor``: every session's current statement in
  ``pg_stat_activity``, other roles' included (the owner's migration, a DBA's
  ``ALTER ROLE … PASSWORD``);
- ``CREATEDB``: a database of its own on the server, outside every check of the doctor.

Expected: the doctor fails the runtime role, naming the power.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.test_redteam56_operator_doctor_role_attributes import (
    db,
    doctor_fails_a_role_given,
)
from tests.ops.guide import GuideDatabase

__all__ = ["db"]  # the guide's database, a module's fixture

GIVEN = {
    "pg_write_all_data": ('GRANT pg_write_all_data TO "{role}"',
                          'REVOKE pg_write_all_data FROM "{role}"'),
    "pg_read_all_stats": ('GRANT pg_read_all_stats TO "{role}"',
                          'REVOKE pg_read_all_stats FROM "{role}"'),
    "CREATEDB": ('ALTER ROLE "{role}" CREATEDB', 'ALTER ROLE "{role}" NOCREATEDB'),
}  # fmt: skip


@pytest.mark.parametrize("power", sorted(GIVEN))
def test_a_role_with_more_powers_fails_doctor(
    power: str, db: GuideDatabase, tmp_path: Path
) -> None:
    doctor_fails_a_role_given(power, GIVEN[power], db, tmp_path)
