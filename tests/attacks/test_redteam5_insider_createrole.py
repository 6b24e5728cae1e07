"""Red team 5, as a database insider holding the gateway's runtime role on PostgreSQL
(15, as on this machine): a runtime role that can make itself the owner.

Rule: the gateway's credentials (on every gateway host) cannot change audit events nor
disable or drop the triggers — only the owner role can, and its password stays off the
gateway hosts; ``sluice doctor`` tries it on a live deployment (THREAT_MODEL,
"Insider with database access"; docs/deploy.md, roles).

Attack: the runtime role was created with ``CREATEROLE`` (a DBA's shortcut, or a
managed database's default "app admin" role) — otherwise exactly the guide's role and
grants. On PostgreSQL 15 and older, ``CREATEROLE`` may grant membership in any role that
is not a superuser: with the runtime role's password the insider runs ``GRANT <owner>
TO <app>; SET ROLE <owner>`` and switches the audit triggers off. ``sluice doctor``
read only ``rolsuper``, the table privileges and ownership, and tried the forbidden
statements as the runtime role itself: it reported the role "ok". So it did for a
runtime role granted a superuser role it may ``SET ROLE`` to (a DBA's group role).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from gateway.cli.doctor_cmd import doctor
from tests.conftest import PG_ADMIN
from tests.ops.guide import GuideDatabase, guide_database


@pytest.fixture(scope="module")
def db() -> Iterator[GuideDatabase]:
    with guide_database("sluice_rt5") as built:
        yield built


def _runtime_role_lines(db: GuideDatabase, home: Path) -> list[str]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SLUICE_")}
    env.update(SLUICE_HOME=str(home), SLUICE_DATABASE_URL=db.app_url)
    result = CliRunner().invoke(doctor, ["--timeout", "2"], env=env)
    return [line for line in result.output.splitlines() if "runtime role" in line]


def test_doctor_passes_the_guides_runtime_role(db: GuideDatabase, tmp_path: Path) -> None:
    lines = _runtime_role_lines(db, tmp_path / "home")
    assert lines and all(line.split()[0] == "ok" for line in lines), lines


def test_a_runtime_role_that_can_make_itself_the_owner_fails_doctor(
    db: GuideDatabase, tmp_path: Path
) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER ROLE "{db.app}" CREATEROLE')
    try:
        # what the insider can do with the runtime role's password alone
        with psycopg.connect(db.libpq(db.app)) as insider:
            insider.execute(f'GRANT "{db.owner}" TO "{db.app}"')
            insider.execute(f'SET ROLE "{db.owner}"')
            insider.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
            insider.rollback()  # shown possible; nothing kept
        lines = _runtime_role_lines(db, tmp_path / "home")
        assert any(line.split()[0] == "FAIL" and "CREATEROLE" in line for line in lines), (
            "doctor passes a runtime role that can grant itself the owner role",
            lines,
        )
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'ALTER ROLE "{db.app}" NOCREATEROLE')


def test_a_runtime_role_that_may_become_a_superuser_fails_doctor(
    db: GuideDatabase, tmp_path: Path
) -> None:
    dba = f"{db.app}_dba"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{dba}" SUPERUSER NOLOGIN NOINHERIT')
        admin.execute(f'GRANT "{dba}" TO "{db.app}"')
    try:
        with psycopg.connect(db.libpq(db.app)) as insider:
            insider.execute(f'SET ROLE "{dba}"')
            insider.execute("SET LOCAL session_replication_role = replica")
            insider.rollback()
        lines = _runtime_role_lines(db, tmp_path / "home")
        assert any(line.split()[0] == "FAIL" and dba in line for line in lines), lines
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP ROLE "{dba}"')
