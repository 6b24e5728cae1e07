"""Red team 10, as an operator on a gateway host: ``sluice demo-data`` on a production home.

Rule: demo mode off (``SLUICE_DEMO=false``, or ``SLUICE_ENV=production``) means no demo
users and no demo catalog (the eighth pass closed ``sluice demo`` there), and every
change to a user's attributes or to a published entry is on the trail.

Attack: ``sluice demo-data`` (its ``--catalog`` is on by default) installs the demo
catalog into the deployment's catalog database whatever the mode: a real analyst who
happens to be called ``dora`` had her jurisdiction widened from one city to every
region (``[""]``) and her own-ID token wiped (the self-lookup alert silently off for
her), the demo departments, three demo sources and five *published* entries
appeared — none of it on the trail (no
``user.updated``, no ``source.registered``, no ``dataset.published``).

Expected: refused outside demo mode before anything is written (``--no-catalog``, which
only writes the demo departments' files, stays possible).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from gateway.cli.main import cli
from gateway.core.settings import load_settings
from tests.attacks.deployments import KINDS
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.demo_app import SMALL

DORA_ID = "110105199001011232"
SIZES = ("--payroll", str(SMALL.payroll), "--disbursements", str(SMALL.fund_disbursements),
         "--dibao", str(SMALL.dibao_recipients), "--deaths", str(SMALL.death_registrations),
         "--findings", str(SMALL.audit_findings))  # fmt: skip


def _invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    result = _invoke(*args, env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(params=KINDS)
def home(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[Path]:  # fmt: skip
    path = tmp_path / "home"
    monkeypatch.setenv("SLUICE_HOME", str(path))
    name = None
    if request.param == "postgres":
        name, url = create_pg_database("sluice_rt10_demodata")
        monkeypatch.setenv("SLUICE_DATABASE_URL", url)
    try:
        yield path
    finally:
        if name is not None:
            drop_pg_database(name)


def _rows(statement: str) -> list[tuple[Any, ...]]:
    engine = create_engine(load_settings().resolved_database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(statement))]
    finally:
        engine.dispose()


def _production_users() -> None:
    _run("users", "add", "dora", "--name", "Dora Real", "--clearance", "L2",
         "--jurisdiction", "4301")  # fmt: skip
    _run("users", "set-id-number", "dora", "--from-env", "DORA_ID", env={"DORA_ID": DORA_ID})


USERS = ("SELECT subject, display_name, department, clearance, jurisdiction,"
         " id_number_hash IS NOT NULL FROM users ORDER BY subject")  # fmt: skip


@pytest.mark.parametrize("mode", [{"SLUICE_DEMO": "false"}, {"SLUICE_ENV": "production"}],
                         ids=["demo-off", "production"])  # fmt: skip
def test_demo_data_does_not_install_the_demo_catalog_outside_demo_mode(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: dict[str, str]
) -> None:
    monkeypatch.setenv("SLUICE_DEMO", "false")
    _production_users()
    for name, value in mode.items():
        monkeypatch.setenv(name, value)
    if "SLUICE_ENV" in mode:
        monkeypatch.setenv("SLUICE_DEMO", "true")  # left at its default
        monkeypatch.setenv("SLUICE_MASTER_KEY", "A" * 43 + "=")
    users_before = _rows(USERS)

    result = _invoke("demo-data", *SIZES, "--out", str(tmp_path / "demo"))

    assert _rows(USERS) == users_before
    assert result.exit_code != 0, result.output
    assert _rows("SELECT code FROM departments") == []
    assert _rows("SELECT id FROM sources") == []
    assert _rows("SELECT id FROM datasets") == []


def test_demo_data_without_the_catalog_still_writes_the_files(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_DEMO", "false")
    _run("users", "list")  # the catalog, migrated
    _run("demo-data", *SIZES, "--no-catalog", "--out", str(tmp_path / "demo"))
    assert sorted(p.name for p in (tmp_path / "demo").glob("*.db"))
    assert _rows("SELECT id FROM sources") == []
