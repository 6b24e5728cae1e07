"""Red team 22, as a database insider (or a DBA's shortcut) on PostgreSQL: the runtime
role granted ``UPDATE`` on one column of ``audit_events``.

Rule: the runtime role may read and append the audit tables, never change them
(docs/deploy.md, roles: "UPDATE, DELETE or TRUNCATE the audit tables" is what it may
not); ``sluice doctor`` checks it on a live deployment (THREAT_MODEL, "Insider with
database access").

Attack: ``GRANT UPDATE (body) ON audit_events TO <runtime role>`` — a column privilege,
not a table one. ``sluice doctor`` read ``has_table_privilege(…, 'UPDATE')`` (false for
a column grant) and tried ``UPDATE audit_events SET hash = hash`` (refused: the grant is
on ``body``), and said the runtime role is fine: with the gateway's credentials an event's
body can be rewritten whenever the triggers are off, the one line of defence left.

Expected: doctor fails the runtime role, naming UPDATE on ``audit_events``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.ops.guide import GuideDatabase, guide_database, runtime_role_lines


@pytest.fixture(scope="module")
def db() -> Iterator[GuideDatabase]:
    with guide_database("redteam22_doctor") as built:
        yield built


def test_a_column_update_grant_on_the_audit_events_fails_doctor(
    db: GuideDatabase, tmp_path: Path
) -> None:
    assert all(line.split()[0] == "ok" for line in runtime_role_lines(db, tmp_path / "a"))
    with psycopg.connect(db.libpq(db.owner), autocommit=True) as owner:
        owner.execute(f'GRANT UPDATE (body) ON audit_events TO "{db.app}"')
    try:
        lines = runtime_role_lines(db, tmp_path / "b")
        assert any(line.split()[0] == "FAIL" and "UPDATE" in line and "audit_events" in line
                   for line in lines), lines  # fmt: skip
    finally:
        with psycopg.connect(db.libpq(db.owner), autocommit=True) as owner:
            owner.execute(f'REVOKE UPDATE (body) ON audit_events FROM "{db.app}"')
