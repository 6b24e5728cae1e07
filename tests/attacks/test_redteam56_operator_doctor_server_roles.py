"""Red team 56, as a database insider (or a DBA's shortcut) on PostgreSQL: the runtime
role made a member of a predefined role that acts as the database server's own OS user.

Rule: the runtime role may read and append the audit trail, never change it nor switch
its triggers off, and must not be able to become a role that can (docs/deploy.md,
roles); ``sluice doctor`` checks it (superuser, ``CREATEROLE``, owned tables, privileges,
probes — red teams 5, 6, 22).

Attack: ``GRANT pg_execute_server_program TO <runtime role>`` (or
``pg_write_server_files``). Neither is a superuser nor ``CREATEROLE``, no table privilege
changes, every probe is still refused: the doctor said "ok runtime role". But
``COPY … TO PROGRAM`` runs any command as the server's OS user — who owns the data
directory and, by the usual ``local all postgres peer`` line, signs in as the superuser
(tried on this machine's server: ``COPY (SELECT 1) TO PROGRAM 'psql … -c "ALTER ROLE
<runtime role> SUPERUSER"'`` made the gateway's credentials a superuser's, which switch
the audit triggers off); ``pg_write_server_files`` writes any file the server's user may
(its configuration, its data files).

Expected: the doctor fails the runtime role, naming the predefined role.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.ops.guide import PG_ADMIN, GuideDatabase, guide_database, runtime_role_lines


@pytest.fixture(scope="module")
def db() -> Iterator[GuideDatabase]:
    with guide_database("redteam56_server_roles") as built:
        yield built


@pytest.mark.parametrize("granted", ["pg_execute_server_program", "pg_write_server_files"])
def test_a_role_acting_as_the_servers_os_user_fails_doctor(
    granted: str, db: GuideDatabase, tmp_path: Path
) -> None:
    assert all(line.split()[0] == "ok" for line in runtime_role_lines(db, tmp_path / "a"))
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'GRANT {granted} TO "{db.app}"')
    try:
        if granted == "pg_execute_server_program":
            with psycopg.connect(db.libpq(db.app), autocommit=True) as app:
                # a command of the gateway's choosing, run by the server's OS user
                app.execute("COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'")
        lines = runtime_role_lines(db, tmp_path / "b")
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'REVOKE {granted} FROM "{db.app}"')
    assert any(line.split()[0] == "FAIL" and granted in line for line in lines), lines
