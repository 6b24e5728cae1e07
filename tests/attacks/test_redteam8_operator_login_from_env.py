"""Red team 8, as an operator on a gateway host: put another login on record.

Rule: an operation from the CLI names the host account that ran it (``cli:<login>``).

Attack: the login came from ``getpass.getuser()``, which reads ``LOGNAME`` and ``USER``
first — variables whoever runs the command sets. ``USER=alice sluice token root2``
recorded ``cli:alice`` as the one who minted root's token; the same for ``sluice
users``, ``sluice audit`` and the stewards' commands.

Expected: the account of the process's real user id, whatever the environment says.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from gateway.cli.main import cli

REAL = f"cli:{pwd.getpwuid(os.getuid()).pw_name}"


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout  # the output; logs go to stderr


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("SLUICE_HOME", str(path))
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "mallory")
    return path


def _trail(out: Path) -> list[dict[str, Any]]:
    _run("audit", "export", "--out", str(out))
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines() if line.strip()]
    return [line["event"] for line in lines if line.get("kind") == "event"]


def test_the_environment_does_not_name_the_operator(home: Path, tmp_path: Path) -> None:
    assert REAL != "cli:mallory"
    _run("users", "add", "root2", "--name", "Root Two", "--clearance", "L4")
    _run("users", "assign", "root2", "admin")
    _run("token", "root2", "--ttl", "600")
    events = _trail(tmp_path / "trail.jsonl")
    by_cli = [e for e in events if str(e["actor"]["sub"]).startswith("cli:")]
    kinds = {e["type"] for e in by_cli}
    assert {"token.issued", "user.updated", "role.assigned", "audit.exported"} <= kinds, kinds
    assert {e["actor"]["sub"] for e in by_cli} == {REAL}, by_cli
