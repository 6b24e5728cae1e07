"""``sluice db migrate`` and ``sluice db current`` on real PostgreSQL databases: a fresh
one and one left at an older revision (a deployment being upgraded). The guide's own
migration block runs the same command (``tests/ops/guide.py``, every guided deployment)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from catalog.db import alembic_config
from tests.conftest import create_pg_database, drop_pg_database
from tests.ops.processes import sluice

OLD = "0009_emergency"  # a deployment from before the console (issue 14)
PASSWORD = "owner-pw-not-printed"  # PostgreSQL trusts local connections: any password works


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    name, url = create_pg_database("sluice_dbcmd")
    shown = make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)
    try:
        yield url, {"SLUICE_DATABASE_URL": shown, "SLUICE_HOME": str(tmp_path / "home")}
    finally:
        drop_pg_database(name)


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def _lines(out: str, label: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines() if line.startswith(label)]


def test_migrate_a_fresh_database_then_nothing_to_do(
    database: tuple[str, dict[str, str]],
) -> None:
    _url, settings = database
    before = sluice("db", "current", settings=settings)
    assert before.returncode == 1 and "(empty: never migrated)" in before.stdout
    assert "run `sluice db migrate`" in before.stderr

    done = sluice("db", "migrate", settings=settings)
    assert done.returncode == 0, done.stderr
    every = {r.revision for r in _script().walk_revisions()}
    assert set(_lines(done.stdout, "applied")) == every
    now = done.stdout.split("now at", 1)[1].strip().replace(",", " ").split()
    assert set(now) == set(_script().get_heads())
    assert PASSWORD not in done.stdout + done.stderr and "***" in done.stdout

    again = sluice("db", "migrate", settings=settings)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    after = sluice("db", "current", settings=settings)
    assert after.returncode == 0 and "pending   none" in after.stdout


def test_migrate_an_old_revision_applies_only_what_is_missing(
    database: tuple[str, dict[str, str]],
) -> None:
    url, settings = database
    command.upgrade(alembic_config(url), OLD)
    script = _script()
    had = {r.revision for r in script.iterate_revisions(OLD, "base")}

    behind = sluice("db", "current", settings=settings)
    assert behind.returncode == 1
    assert f"at        {OLD}" in behind.stdout and "0010_console" in behind.stdout

    done = sluice("db", "migrate", settings=settings)
    assert done.returncode == 0, done.stderr
    applied = _lines(done.stdout, "applied")
    assert set(applied) == {r.revision for r in script.walk_revisions()} - had
    assert applied.index("0010_console") < applied.index("0011_comparison_models")
    assert sluice("db", "current", settings=settings).returncode == 0


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    settings = {"SLUICE_DATABASE_URL": f"postgresql+psycopg://o:{PASSWORD}@127.0.0.1:1/x",
                "SLUICE_HOME": str(tmp_path / "home")}  # fmt: skip
    done = sluice("db", "migrate", settings=settings)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: postgresql+psycopg://o:***@127.0.0.1:1/x: OperationalError"
    ]
