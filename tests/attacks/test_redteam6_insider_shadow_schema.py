"""Red team 6, as a database insider holding the gateway's runtime role on PostgreSQL:
a schema of its own in front of ``public``.

Rule: the gateway's credentials (on every gateway host) cannot change audit events nor
get around the triggers that refuse it; ``sluice doctor`` fails a runtime role that could
(THREAT_MODEL, "Insider with database access"; docs/deploy.md, roles).

Attack: the runtime role may ``CREATE`` in the database — the database was made ``OWNER
<app>`` or granted ``CREATE`` by a DBA's shortcut, otherwise exactly the guide's roles
and grants. PostgreSQL's default ``search_path`` is ``"$user", public``: with the
runtime role's password the insider runs ``CREATE SCHEMA <app>`` and copies
``audit_events`` into it. Every unqualified name the gateway uses now finds the copy
first — a table the runtime role owns, without the append-only triggers — so events
the gateway reads and appends can be deleted and rewritten with the gateway's own
credentials. ``sluice doctor`` checked privileges in ``current_schema()`` only and
reported the role "ok" before the attack; it never looked at the database's ``CREATE``
(nor ``TEMP``, which the guide also withholds).
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


@pytest.fixture()
def db() -> Iterator[GuideDatabase]:
    with guide_database("sluice_rt6") as built:
        yield built


def _runtime_role_lines(db: GuideDatabase, home: Path) -> list[str]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SLUICE_")}
    env.update(SLUICE_HOME=str(home), SLUICE_DATABASE_URL=db.app_url)
    result = CliRunner().invoke(doctor, ["--timeout", "2"], env=env)
    return [line for line in result.output.splitlines() if "runtime role" in line]


def _failed(lines: list[str], word: str) -> bool:
    return any(line.split()[0] == "FAIL" and word in line for line in lines)


def _shadow_made_then_revoked(db: GuideDatabase) -> None:
    """A shadow ``audit_events`` in a schema named after the runtime role, made while it
    held CREATE on the database, the privilege then revoked."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'GRANT CREATE ON DATABASE "{db.name}" TO "{db.app}"')
    with psycopg.connect(db.libpq(db.app), autocommit=True) as insider:
        insider.execute(f'CREATE SCHEMA "{db.app}"')
        insider.execute(
            f'CREATE TABLE "{db.app}".audit_events (LIKE public.audit_events INCLUDING ALL)'
        )
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'REVOKE CREATE ON DATABASE "{db.name}" FROM "{db.app}"')


def test_a_runtime_role_that_may_create_schemas_fails_doctor(
    db: GuideDatabase, tmp_path: Path
) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'GRANT CREATE ON DATABASE "{db.name}" TO "{db.app}"')
    # what the insider can do with the runtime role's password alone
    with psycopg.connect(db.libpq(db.app)) as insider:
        insider.execute(f'CREATE SCHEMA "{db.app}"')
        insider.execute(
            f'CREATE TABLE "{db.app}".audit_events (LIKE public.audit_events INCLUDING ALL)'
        )
        insider.execute(f'INSERT INTO "{db.app}".audit_events SELECT * FROM public.audit_events')
        # the gateway's unqualified statement now reaches a table without triggers
        insider.execute("DELETE FROM audit_events")
        assert insider.execute("SELECT current_schema()").fetchone() == (db.app,)
        insider.rollback()  # shown possible; nothing kept
    lines = _runtime_role_lines(db, tmp_path / "home")
    assert _failed(lines, "CREATE"), (
        "doctor passes a runtime role that can put tables of its own before public",
        lines,
    )


def test_a_schema_of_the_runtime_role_in_its_search_path_fails_doctor(
    db: GuideDatabase, tmp_path: Path
) -> None:
    """The shadow already there (made by whoever held CREATE once, then revoked): doctor
    looked only at ``current_schema()`` — the shadow — and at the tables in it."""
    _shadow_made_then_revoked(db)
    lines = _runtime_role_lines(db, tmp_path / "home")
    assert _failed(lines, db.app), lines


def test_a_runtime_role_that_may_create_temporary_tables_fails_doctor(
    db: GuideDatabase, tmp_path: Path
) -> None:
    """The guide withholds TEMP (``pg_temp`` is searched before every schema)."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'GRANT TEMPORARY ON DATABASE "{db.name}" TO "{db.app}"')
    lines = _runtime_role_lines(db, tmp_path / "home")
    assert _failed(lines, "TEMP"), lines


def test_a_shadow_made_earlier_reaches_nothing_of_the_gateway(db: GuideDatabase) -> None:
    """The gateway names its schema on every connection (``catalog.pg_session``): a
    shadow ``audit_events`` made while the role could ``CREATE`` (then revoked, so doctor
    is the only other guard) is not the table the gateway's catalog engine, audit store
    or verification helpers read and write."""
    from audit.store import AuditStore
    from catalog.db import make_engine

    _shadow_made_then_revoked(db)
    engine = make_engine(db.app_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_schema()").scalar() == "public"
    finally:
        engine.dispose()
    store = AuditStore(db.app_url, timeout_s=5)
    for reader in (False, True):
        conn = store.connect(reader=reader)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT current_schema()")
                assert cur.fetchone() == ("public",)
                # the append-only trigger of the real table answers, not the shadow
                with pytest.raises(psycopg.Error):
                    cur.execute("DELETE FROM audit_events")
        finally:
            conn.close()
