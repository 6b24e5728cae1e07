"""Red team 59, as a database insider holding the owner role (or the SQLite file), against
the operator who reads ``sluice doctor``.

Attack: a swallowing trigger is added on ``audit_events`` — red team 6's and red team
56's fault, which the doctor fails — but under a name of the insider's choosing: a
quoted identifier holds any character but NUL, so the name carries ``ESC [ 1 A``,
``ESC [ 2 K`` and a carriage return, then the text of an "ok" line. The doctor prints
every problem with the name in it, raw, and the operator's terminal ran them: the FAIL
line erased and rewritten as ``ok audit triggers``. Only the exit code still said 1.
The same goes for every name the doctor quotes from the database: rules, functions,
their owners, tables.

Rule: ``sluice doctor`` is the operator's evidence that the protections are in place
(red team 56); what it prints comes from the database it is checking, so it reaches
the terminal with its control characters escaped (``gateway/cli/shown.py``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from catalog.db import migrate
from tests.attacks.test_redteam24_steward_terminal_text import CONTROL
from tests.ops.guide import GuideDatabase, guide_database

FORGED = "t\x1b[1A\x1b[2K\r  ok    audit triggers     UPDATE, DELETE refused\x9b0m"


@pytest.fixture(scope="module")
def db() -> Iterator[GuideDatabase]:
    with guide_database("redteam59_doctor") as built:
        yield built


def _doctor(url: str, home: Path) -> str:
    from gateway.cli.doctor_cmd import doctor

    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SLUICE_")}
    env.update(SLUICE_HOME=str(home), SLUICE_DATABASE_URL=url)
    result = CliRunner().invoke(doctor, ["--timeout", "2"], env=env)
    assert result.exit_code == 1, result.output
    return result.output


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def test_a_trigger_name_does_not_rewrite_the_report_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "sluice.db"
    url = f"sqlite:///{path}"
    migrate(url)
    conn = sqlite3.connect(path)
    try:
        conn.executescript(f"CREATE TRIGGER {_quoted(FORGED)} BEFORE INSERT ON audit_events "
                           "BEGIN SELECT RAISE(IGNORE); END;")  # fmt: skip
    finally:
        conn.close()
    output = _doctor(url, tmp_path / "home")
    lines = [line for line in output.splitlines() if "unexpected trigger" in line]
    assert lines and lines[0].split()[0] == "FAIL", output
    assert not CONTROL.search(output), ascii(output)


def test_a_trigger_name_does_not_rewrite_the_report_postgresql(
    db: GuideDatabase, tmp_path: Path
) -> None:
    with psycopg.connect(db.libpq(db.owner), autocommit=True) as owner:
        owner.execute(f"CREATE TRIGGER {_quoted(FORGED)} BEFORE INSERT ON audit_keys "
                      "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()")  # fmt: skip
        try:
            output = _doctor(db.app_url, tmp_path)
        finally:
            owner.execute(f"DROP TRIGGER {_quoted(FORGED)} ON audit_keys")
    lines = [line for line in output.splitlines() if "unexpected trigger" in line]
    assert lines and lines[0].split()[0] == "FAIL", output
    assert not CONTROL.search(output), ascii(output)
