"""Red team 8, as an operator on a gateway host: ``sluice demo`` on a production home.

Rule: an administrator's operation from the CLI is audited as through the API
(``sluice users``, ``sluice token``, ``sluice keys rotate`` append their events), an
admin and a security officer are two people, and demo mode off (``SLUICE_DEMO=false``,
docs/deploy.md) means no demo users.

Attack: on a deployment with demo mode off, ``sluice demo --no-serve`` still seeded the
six demo users into the production catalog: ``root`` became an admin and ``sam`` a
security officer (casbin rows written with no ``role.assigned`` on the trail), a real
user who happened to be called ``alice`` had her clearance, jurisdiction and own-ID
token overwritten with no ``user.updated`` (the self-lookup alert silently off for
her), and bearer tokens of the new admin and officer were printed with no
``token.issued`` — one person on the host then held both halves of every two-person
rule, and the trail showed none of it. In demo mode, the six tokens ``sluice demo``
prints were off the trail too (the seventh pass left them "not covered").

Expected: refused outside demo mode, with nothing changed; in demo mode, each token
printed is on record as ``token.issued``, as ``sluice token`` records it.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from catalog.demo.generator import generate
from catalog.demo.targets import SqliteTarget
from gateway.cli.main import cli
from gateway.core.settings import load_settings
from tests.attacks.deployments import KINDS
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.demo_app import SMALL

ALICE_ID = "110105199001011232"


def _invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    result = _invoke(*args, env=env)
    assert result.exit_code == 0, result.output
    return result.stdout  # the output; logs go to stderr


@pytest.fixture(params=KINDS)
def home(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[Path]:  # fmt: skip
    path = tmp_path / "home"
    monkeypatch.setenv("SLUICE_HOME", str(path))
    name = None
    if request.param == "postgres":
        name, url = create_pg_database("sluice_rt8_demo")
        monkeypatch.setenv("SLUICE_DATABASE_URL", url)
    # the demo departments' files already there (small), so the attack does not wait
    # for the generator: ``sluice demo`` reuses them
    generate(seed=42, sizes=SMALL, targets=[SqliteTarget(path / "demo")])
    try:
        yield path
    finally:
        if name is not None:
            drop_pg_database(name)


def _trail(tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "trail.jsonl"
    _run("audit", "export", "--out", str(out))
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines() if line.strip()]
    return [line["event"] for line in lines if line.get("kind") == "event"]


def _catalog_rows(statement: str) -> list[tuple[Any, ...]]:
    engine = create_engine(load_settings().resolved_database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(statement))]
    finally:
        engine.dispose()


def test_demo_refuses_a_home_with_demo_mode_off(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_DEMO", "false")
    # a production deployment: its own admin, and a real analyst named alice
    _run("users", "add", "boss", "--name", "Boss", "--clearance", "L1")
    _run("users", "assign", "boss", "admin")
    _run("users", "add", "alice", "--name", "Alice Real", "--clearance", "L1",
         "--jurisdiction", "4399")  # fmt: skip
    _run("users", "set-id-number", "alice", "--from-env", "ALICE_ID",
         env={"ALICE_ID": ALICE_ID})  # fmt: skip
    before = _catalog_rows("SELECT v0, v1, v2 FROM casbin_rule ORDER BY v0, v1, v2")

    result = _invoke("demo", "--no-serve")

    # nothing printed that signs in, nobody seeded, no role given, alice untouched
    assert "eyJ" not in result.output, result.output
    assert result.exit_code != 0, result.output
    assert "SLUICE_DEMO" in result.output
    assert _catalog_rows("SELECT v0, v1, v2 FROM casbin_rule ORDER BY v0, v1, v2") == before
    assert _catalog_rows("SELECT subject FROM users WHERE subject IN ('root', 'sam')") == []
    alice = _catalog_rows(
        "SELECT clearance, display_name, id_number_hash IS NOT NULL FROM users"
        " WHERE subject = 'alice'"
    )
    assert alice == [("L1", "Alice Real", True)]
    assert not [e for e in _trail(tmp_path) if e.get("type") == "token.issued"]


def test_demo_refuses_a_production_home_even_with_demo_mode_on(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SLUICE_ENV=production with SLUICE_DEMO left at its default (doctor fails it, the
    gateway still starts)."""
    _run("users", "list")  # the catalog, migrated
    monkeypatch.setenv("SLUICE_ENV", "production")
    monkeypatch.setenv("SLUICE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    result = _invoke("demo", "--no-serve")
    assert "eyJ" not in result.output, result.output
    assert result.exit_code != 0, result.output
    assert "SLUICE_ENV=production" in result.output
    assert _catalog_rows("SELECT subject FROM users WHERE subject IN ('root', 'sam')") == []


def test_demo_tokens_are_on_record(home: Path, tmp_path: Path) -> None:
    output = _run("demo", "--no-serve", "--ttl", "3600")
    printed = [line.split(": ", 1)[1] for line in output.splitlines() if ": eyJ" in line]
    assert len(printed) == 7, output

    events = [e for e in _trail(tmp_path) if e.get("type") == "token.issued"]
    subjects = sorted(e["resource"] for e in events)
    assert subjects == sorted(
        f"user:{s}" for s in ("alice", "arthur", "carl", "dora", "fiona", "root", "sam")
    ), events
    for event in events:
        assert event["actor"]["sub"].startswith("cli:")
        assert event["details"]["ttl_s"] == 3600
    export = (tmp_path / "trail.jsonl").read_bytes()
    for token in printed:
        assert token.encode() not in export
    verified = orjson.loads(_run("audit", "verify").strip().splitlines()[-1])
    assert verified["ok"] is True, verified
