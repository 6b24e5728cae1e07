"""Red team 56, as an operator or a database insider holding the owner role: the audit
triggers kept under their names, on their tables, calling their function, but made to
refuse nothing — and ``sluice doctor`` still saying "UPDATE, DELETE, TRUNCATE refused".

Rule: the doctor proves what the deployment guide says (docs/deploy.md); its "audit
triggers" line is the operator's evidence that the append-only triggers are in place
(THREAT_MODEL, "Insider with database access"). Red team 6's and the ops tests' faults
(dropped, disabled, a function that returns, a swallowing trigger) each fail it.

Attack (PostgreSQL): re-create ``audit_keys_append_only`` as ``BEFORE UPDATE OR DELETE
… FOR EACH ROW WHEN (false)``, and ``audit_events_append_only`` as ``BEFORE UPDATE OF
seq OR DELETE`` (a column list: an UPDATE of ``body`` fires nothing). ``pg_trigger``
keeps the same name, ``tgtype``, ``tgenabled`` and function; the doctor read only those.
Attack (SQLite, the embedded default): a trigger keeps the name ``audit_events_no_update``
but does nothing (``AFTER INSERT … SELECT 1``), and a ``BEFORE INSERT … RAISE(IGNORE)``
one is added; the doctor checked the names only.

Expected: the doctor fails "audit triggers" for each, as for a dropped trigger.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from catalog.db import migrate
from tests.ops.guide import GuideDatabase, guide_database


@pytest.fixture(scope="module")
def db() -> Iterator[GuideDatabase]:
    with guide_database("redteam56_doctor") as built:
        yield built


def trigger_lines(url: str, home: Path) -> list[str]:
    """``sluice doctor``'s "audit triggers" lines, as a gateway host would run it."""
    from gateway.cli.doctor_cmd import doctor

    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SLUICE_")}
    env.update(SLUICE_HOME=str(home), SLUICE_DATABASE_URL=url)
    result = CliRunner().invoke(doctor, ["--timeout", "2"], env=env)
    return [line for line in result.output.splitlines() if "audit triggers" in line]


def _failed(lines: list[str]) -> bool:
    return any(line.split()[0] == "FAIL" for line in lines)


PG_WEAKENED = {
    "when_false": (
        "DROP TRIGGER audit_keys_append_only ON audit_keys; "
        "CREATE TRIGGER audit_keys_append_only BEFORE UPDATE OR DELETE ON audit_keys "
        "FOR EACH ROW WHEN (false) EXECUTE FUNCTION audit_refuse_change()",
        "DROP TRIGGER audit_keys_append_only ON audit_keys; "
        "CREATE TRIGGER audit_keys_append_only BEFORE UPDATE OR DELETE ON audit_keys "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
    ),
    "update_of_one_column": (
        "DROP TRIGGER audit_keys_append_only ON audit_keys; "
        "CREATE TRIGGER audit_keys_append_only BEFORE UPDATE OF kid OR DELETE ON audit_keys "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
        "DROP TRIGGER audit_keys_append_only ON audit_keys; "
        "CREATE TRIGGER audit_keys_append_only BEFORE UPDATE OR DELETE ON audit_keys "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
    ),
}


def _key_row_changes(owner: psycopg.Connection) -> bool:
    """Whether an ``audit_keys`` row can be rewritten now (tried, rolled back)."""
    try:
        with owner.transaction(force_rollback=True):
            owner.execute("INSERT INTO audit_keys (kid, algorithm, public_key, created_at) "
                          "VALUES ('rt56', 'ed25519', 'x', 'now')")  # fmt: skip
            owner.execute("UPDATE audit_keys SET public_key = 'forged' WHERE kid = 'rt56'")
        return True
    except psycopg.errors.RaiseException:
        return False


@pytest.mark.parametrize("fault", sorted(PG_WEAKENED))
def test_a_trigger_made_to_fire_on_nothing_fails_doctor_postgresql(
    fault: str, db: GuideDatabase, tmp_path: Path
) -> None:
    plant, undo = PG_WEAKENED[fault]
    assert not _failed(trigger_lines(db.app_url, tmp_path / "a"))
    with psycopg.connect(db.libpq(db.owner), autocommit=True) as owner:
        assert not _key_row_changes(owner)
        owner.execute(plant)
        try:
            assert _key_row_changes(owner)  # the trigger refuses nothing now
            lines = trigger_lines(db.app_url, tmp_path / "b")
        finally:
            owner.execute(undo)
        assert not _key_row_changes(owner)
    assert _failed(lines), lines
    assert any("audit_keys_append_only" in line for line in lines), lines


SQLITE_WEAKENED = {
    "renamed_no_op": (
        "DROP TRIGGER audit_events_no_update; "
        "CREATE TRIGGER audit_events_no_update AFTER INSERT ON audit_events BEGIN SELECT 1; END",
        "audit_events_no_update",
    ),
    "when_false": (
        "DROP TRIGGER audit_checkpoints_no_delete; "
        "CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints "
        "WHEN 0 BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
        "audit_checkpoints_no_delete",
    ),
    "swallowing": (
        "CREATE TRIGGER audit_events_swallow BEFORE INSERT ON audit_events "
        "BEGIN SELECT RAISE(IGNORE); END",
        "audit_events_swallow",
    ),
}


@pytest.mark.parametrize("fault", sorted(SQLITE_WEAKENED))
def test_a_trigger_made_to_fire_on_nothing_fails_doctor_sqlite(fault: str, tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "sluice.db"
    url = f"sqlite:///{path}"
    migrate(url)
    assert not _failed(trigger_lines(url, tmp_path / "a"))
    plant, named = SQLITE_WEAKENED[fault]
    conn = sqlite3.connect(path)
    try:
        conn.executescript(plant)
    finally:
        conn.close()
    lines = trigger_lines(url, tmp_path / "b")
    assert _failed(lines), lines
    assert any(named in line for line in lines), lines


def test_a_rule_swallowing_appends_fails_doctor_postgresql(
    db: GuideDatabase, tmp_path: Path
) -> None:
    """A rewrite rule, not a trigger: ``ON INSERT … DO INSTEAD NOTHING`` makes an append
    report success and store nothing, as the swallowing trigger the doctor names does."""
    with psycopg.connect(db.libpq(db.owner), autocommit=True) as owner:
        owner.execute(
            "CREATE RULE audit_keys_swallow AS ON INSERT TO audit_keys DO INSTEAD NOTHING"
        )
        try:
            with owner.transaction(force_rollback=True):
                owner.execute("INSERT INTO audit_keys (kid, algorithm, public_key, created_at) "
                              "VALUES ('rt56', 'ed25519', 'x', 'now')")  # fmt: skip
                kept = owner.execute("SELECT count(*) FROM audit_keys WHERE kid = 'rt56'")
                assert kept.fetchone() == (0,)  # appended, and nothing stored
            lines = trigger_lines(db.app_url, tmp_path)
        finally:
            owner.execute("DROP RULE audit_keys_swallow ON audit_keys")
    assert _failed(lines), lines
    assert any("audit_keys_swallow" in line for line in lines), lines
