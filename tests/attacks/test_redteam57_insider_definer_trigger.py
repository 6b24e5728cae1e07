"""Red team 57, as a database insider with the owner role (or a DBA's "maintenance"
trigger) on PostgreSQL: a ``SECURITY DEFINER`` function the runtime role cannot call,
fired by its writes.

Rule: the gateway's credentials cannot change audit events nor switch the triggers off;
``sluice doctor`` proves it on a live deployment, and since red team 56 fails a
``SECURITY DEFINER`` function the runtime role may *call* (the owner's ``tidy()``).

Attack: the same ``tidy``, made a trigger function: ``SECURITY DEFINER``, ``EXECUTE``
revoked from ``PUBLIC`` (the doctor's query asks ``has_function_privilege``, now
false), and fired ``AFTER INSERT`` on a table the runtime role writes — here
``audit_follow_snapshots``, the approval index's snapshots (revision 0024), which every
gateway upserts. PostgreSQL checks ``EXECUTE`` on a trigger's function when the trigger
is made, never when it fires, so the gateway's credentials insert a row naming a key
and the owner's function switches ``audit_keys``' trigger off and deletes it; every
probe is still refused and the doctor said "ok runtime role … never UPDATE, DELETE".

Expected: the doctor fails the runtime role, naming the function and whose rights it
runs with.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.ops.guide import GuideDatabase, guide_database, runtime_role_lines

TIDY = """CREATE FUNCTION tidy_keys() RETURNS trigger SECURITY DEFINER LANGUAGE plpgsql AS $$
BEGIN
  ALTER TABLE audit_keys DISABLE TRIGGER audit_keys_append_only;
  DELETE FROM audit_keys WHERE kid = substr(NEW.kind, 6);
  ALTER TABLE audit_keys ENABLE TRIGGER audit_keys_append_only;
  RETURN NULL;
END $$"""
FIRED = ("CREATE TRIGGER tidy_on_snapshot AFTER INSERT ON audit_follow_snapshots "
         "FOR EACH ROW WHEN (NEW.kind LIKE 'tidy:%') EXECUTE FUNCTION tidy_keys()")  # fmt: skip


@pytest.fixture
def planted() -> Iterator[GuideDatabase]:
    """The guide's database, with the owner's trigger and a key row for it to delete."""
    with guide_database("redteam57_trigger") as db:
        with psycopg.connect(db.libpq(db.owner), autocommit=True) as owner:
            owner.execute(TIDY)
            owner.execute("REVOKE EXECUTE ON FUNCTION tidy_keys() FROM PUBLIC")
            owner.execute(FIRED)
            owner.execute("INSERT INTO audit_keys (kid, algorithm, public_key, created_at) "
                          "VALUES ('rt57', 'ed25519', 'x', 'now')")  # fmt: skip
        yield db


def _insert_fires_the_delete(db: GuideDatabase) -> None:
    """As the gateway's credentials: the row is theirs to delete neither directly nor
    by calling the function, and goes when they write a snapshot row naming it."""
    with psycopg.connect(db.libpq(db.app), autocommit=True) as app:
        for refused in ("DELETE FROM audit_keys WHERE kid = 'rt57'", "SELECT tidy_keys()"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(refused)
        app.execute("INSERT INTO audit_follow_snapshots (kind, body, mac) "
                    "VALUES ('tidy:rt57', '{}', '')")  # fmt: skip
        left = app.execute("SELECT count(*) FROM audit_keys WHERE kid = 'rt57'").fetchone()
    assert left == (0,), "the trigger did not delete the key row"


def test_a_definer_trigger_the_runtime_role_fires_fails_doctor(
    planted: GuideDatabase, tmp_path: Path
) -> None:
    _insert_fires_the_delete(planted)
    lines = runtime_role_lines(planted, tmp_path)
    failed = [line for line in lines if line.split()[0] == "FAIL"]
    assert any("tidy_keys" in line and planted.owner in line for line in failed), lines
