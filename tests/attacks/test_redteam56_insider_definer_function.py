"""Red team 56, as a database insider with the owner role (or a DBA's "maintenance"
function) on PostgreSQL: a ``SECURITY DEFINER`` function the runtime role may call.

Rule: the gateway's credentials (on every gateway host) cannot change audit events nor
switch the triggers off; only the owner role can, and its password stays off the
gateway hosts (THREAT_MODEL, "Insider with database access"); ``sluice doctor`` proves
it on a live deployment (red team 22: a one-column UPDATE grant to the runtime role
fails it).

Attack: the owner makes ``tidy()`` — ``SECURITY DEFINER``, so it runs as the owner —
which switches an audit table's trigger off, deletes, and switches it on again.
Functions are executable by ``PUBLIC`` unless revoked, so the runtime role calls it and
the trail's rows go; no table privilege changed, every probe is still refused, and the
doctor said "ok runtime role … never UPDATE, DELETE, TRUNCATE it or switch its triggers
off". The owner's rights are handed to every gateway host's credentials, as by a grant.

Expected: the doctor fails the runtime role, naming the function and whose rights it
runs with.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.ops.guide import GuideDatabase, guide_database, runtime_role_lines

TIDY = """CREATE FUNCTION tidy() RETURNS bigint SECURITY DEFINER LANGUAGE plpgsql AS $$
DECLARE gone bigint;
BEGIN
  ALTER TABLE audit_keys DISABLE TRIGGER audit_keys_append_only;
  DELETE FROM audit_keys WHERE kid = 'rt56';
  GET DIAGNOSTICS gone = ROW_COUNT;
  ALTER TABLE audit_keys ENABLE TRIGGER audit_keys_append_only;
  RETURN gone;
END $$"""


@pytest.fixture
def planted() -> Iterator[GuideDatabase]:
    """The guide's database, with the owner's ``tidy()`` and a key row for it to delete."""
    with guide_database("redteam56_definer") as db:
        with psycopg.connect(db.libpq(db.owner), autocommit=True) as owner:
            owner.execute(TIDY)
            owner.execute("INSERT INTO audit_keys (kid, algorithm, public_key, created_at) "
                          "VALUES ('rt56', 'ed25519', 'x', 'now')")  # fmt: skip
        yield db


def test_a_definer_function_the_runtime_role_may_call_fails_doctor(
    planted: GuideDatabase, tmp_path: Path
) -> None:
    db = planted
    with psycopg.connect(db.libpq(db.app), autocommit=True) as app:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("DELETE FROM audit_keys WHERE kid = 'rt56'")
        row = app.execute("SELECT tidy()").fetchone()
        assert row is not None and row[0] == 1  # the gateway's credentials deleted it
    lines = runtime_role_lines(db, tmp_path)
    assert any(line.split()[0] == "FAIL" and "tidy" in line and db.owner in line
               for line in lines), lines  # fmt: skip
