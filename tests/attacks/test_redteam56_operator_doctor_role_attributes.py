"""Red team 56's left row, as a database insider (or a DBA's shortcut) on PostgreSQL:
the runtime role given powers beyond the audit tables' privileges, which the doctor did
not read.

``sluice doctor``'s runtime-role check read superuser, ``CREATEROLE``, the server-file
roles, the tables' privileges and its probes, and said "ok runtime role" for a role that:

- has ``REPLICATION``: it may copy the whole cluster (``pg_basebackup``) or decode every
  committed change through a logical slot — every database's rows, the catalog's sealed
  rows, the trail's key rows and every source on the same server, outside any audit;
- has ``BYPASSRLS``: any row-level policy a DBA adds to narrow what it reads is void;
- is a member of ``pg_signal_backend``: it may cancel or end other roles' sessions (the
  owner's migration, a monitor's connection) on the database server;
- is a member of ``pg_read_all_data``: it reads every table of every database of the
  server (the partner departments' sources too, when they share it), not only its own.

Expected: the doctor fails the runtime role, naming the attribute or the role.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.ops.guide import PG_ADMIN, GuideDatabase, guide_database, runtime_role_lines

GIVEN = {
    "REPLICATION": ('ALTER ROLE "{role}" REPLICATION', 'ALTER ROLE "{role}" NOREPLICATION'),
    "BYPASSRLS": ('ALTER ROLE "{role}" BYPASSRLS', 'ALTER ROLE "{role}" NOBYPASSRLS'),
    "pg_signal_backend": ('GRANT pg_signal_backend TO "{role}"',
                          'REVOKE pg_signal_backend FROM "{role}"'),
    "pg_read_all_data": ('GRANT pg_read_all_data TO "{role}"',
                         'REVOKE pg_read_all_data FROM "{role}"'),
}  # fmt: skip


@pytest.fixture(scope="module")
def db() -> Iterator[GuideDatabase]:
    with guide_database("redteam56_role_attributes") as built:
        yield built


@pytest.mark.parametrize("power", sorted(GIVEN))
def test_a_role_with_powers_beyond_the_trail_fails_doctor(
    power: str, db: GuideDatabase, tmp_path: Path
) -> None:
    doctor_fails_a_role_given(power, GIVEN[power], db, tmp_path)


def doctor_fails_a_role_given(
    power: str, given: tuple[str, str], db: GuideDatabase, tmp_path: Path
) -> None:
    """The doctor passes the guide's runtime role, then fails it given ``power`` (the
    statements giving it and taking it back), naming it."""
    assert all(line.split()[0] == "ok" for line in runtime_role_lines(db, tmp_path / "a"))
    give, take = given
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(give.format(role=db.app))
    try:
        lines = runtime_role_lines(db, tmp_path / "b")
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(take.format(role=db.app))
    assert any(line.split()[0] == "FAIL" and power in line for line in lines), lines
