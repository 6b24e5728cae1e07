"""Red team 7, as an operator on a gateway host: mint a bearer token for anyone and
leave nothing on the audit trail.

Rule: an administrator's operation from the CLI is audited as through the API
(``sluice users``, ``sluice keys rotate``, ``sluice audit keys rotate`` append their
events); the trail says who did what, when.

Attack: ``sluice token USER`` signs a token with the embedded issuer's key for any user
in the catalog — the root admin, a security officer, an analyst of clearance L4 — valid
for up to its maximum lifetime. It appended nothing: the trail showed that user's
queries, never that an operator on the host had minted the token they were made with,
nor when, nor for how long it lives.

Expected: a ``token.issued`` event (resource ``user:<subject>``, lifetime and expiry,
the host login as the actor) on a chain that still verifies; the token itself nowhere
on the trail (not in the export, not in the database's bytes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from gateway.cli.main import cli


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout  # the output; logs go to stderr


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("SLUICE_HOME", str(path))
    _run("users", "add", "root2", "--name", "Root Two", "--clearance", "L4")
    _run("users", "assign", "root2", "admin")
    return path


def _trail(home: Path, out: Path) -> list[dict[str, Any]]:
    _run("audit", "export", "--out", str(out))
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines() if line.strip()]
    return [line["event"] for line in lines if line.get("kind") == "event"]


def test_a_minted_token_is_on_record_and_never_the_token(home: Path, tmp_path: Path) -> None:
    token = _run("token", "root2", "--ttl", "3600").strip()
    assert token.count(".") == 2

    verified = orjson.loads(_run("audit", "verify").strip().splitlines()[-1])
    assert verified["ok"] is True, verified

    export = tmp_path / "trail.jsonl"
    events = [e for e in _trail(home, export) if e.get("type") == "token.issued"]
    assert len(events) == 1, events
    event = events[0]
    assert event["resource"] == "user:root2"
    assert event["actor"]["sub"].startswith("cli:")
    details = event["details"]
    assert details["ttl_s"] == 3600
    assert details["expires_at"] > details["issued_at"]
    assert details["roles"] == ["admin"]

    # the token, its signature and its payload nowhere on the trail: not in the
    # export, not in any file of the home (the database, its WAL, the seal file)
    _header, payload, signature = token.split(".")
    assert token.encode() not in export.read_bytes()
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for part in (token, payload, signature):
                assert part.encode() not in data, path


def test_an_unknown_user_gets_no_token_and_no_event(home: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["token", "mallory"])
    assert result.exit_code != 0
    events = _trail(home, tmp_path / "trail.jsonl")
    assert not [e for e in events if e.get("type") == "token.issued"]


def test_while_sealed_the_token_is_recorded_in_the_seal_file(home: Path) -> None:
    """A sealed trail takes nothing, yet an officer and an admin need tokens to unseal
    it: the command still mints, and the seal file keeps the record."""
    from audit.seal import SealStore

    seal = SealStore(home)
    assert seal.seal("red team 7: token while sealed", {"test": True})
    token = _run("token", "root2").strip()
    records = [orjson.loads(line) for line in seal.path.read_bytes().splitlines() if line]
    issued = [r for r in records if r.get("action") == "token.issued"]
    assert len(issued) == 1, issued
    assert issued[0]["subject"] == "root2" and issued[0]["sub"].startswith("cli:")
    assert token.encode() not in seal.path.read_bytes()
