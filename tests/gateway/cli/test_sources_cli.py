"""``sluice sources|datasets|keys`` against a real SQLite catalog in a temporary home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli.main import cli
from tests.gateway.registration_env import close_env, make_env, make_sqlite_source


def test_cli_register_publish_and_rotate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env(tmp_path)
    close_env(env)
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SLUICE_FILE_ROOTS", json.dumps([str(env.data)]))
    path = make_sqlite_source(env.data / "people.db")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout  # the output; logs go to stderr

    added = json.loads(
        run("sources", "add", "fin-people", "--as", "fin_steward", "--kind", "sqlite",
            "--name", "People", "--url", f"sqlite:///{path}")
    )  # fmt: skip
    assert added["department"] == "fin"
    assert [s["id"] for s in json.loads(run("sources", "list", "--as", "fin_steward"))] == [
        "fin-people"
    ]
    objects = json.loads(run("sources", "introspect", "fin-people", "--as", "fin_steward"))
    assert objects[0]["name"] == "people"
    run("datasets", "create", "fin-people", "people", "--as", "fin_steward", "--id", "fin.people",
        "--title-zh", "人员")  # fmt: skip
    classified = json.loads(
        run("datasets", "classify", "fin.people", "--as", "fin_steward", "--field", "xm=L4:name")
    )
    assert {f["name"]: f["level"] for f in classified["fields"]}["xm"] == "L4"
    assert "published fin.people" in run("datasets", "publish", "fin.people", "--as", "fin_steward")

    refused = runner.invoke(cli, ["datasets", "publish", "fin.people", "--as", "civil_steward"])
    assert refused.exit_code == 1 and "forbidden" in refused.output

    assert "re-wrapped" in run("keys", "rotate")
    assert json.loads(run("keys", "status"))["current"].startswith("mk-")
