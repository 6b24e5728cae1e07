"""``sluice users`` on a real SQLite catalog in a temporary home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog.demo.identity import id_number
from gateway.cli.main import cli


def test_users_cli_add_assign_unassign_and_id_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path / "home"))
    number = id_number("430121", "19800101", 7)
    monkeypatch.setenv("NINA_ID", number)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    run("users", "add", "nina", "--name", "Nina", "--clearance", "L2",
        "--jurisdiction", "430102,430121")  # fmt: skip
    run("users", "assign", "nina", "analyst")
    run("users", "set-id-number", "nina", "--from-env", "NINA_ID")
    listed = {u["subject"]: u for u in json.loads(run("users", "list"))}
    nina = listed["nina"]
    assert nina["jurisdiction"] == ["430102", "430121"]
    assert nina["roles"] == [{"role": "analyst", "domain": "*"}]
    assert nina["has_id_number"] is True and number not in json.dumps(listed)
    run("users", "unassign", "nina", "analyst")
    assert json.loads(run("users", "list"))[0]["roles"] == []
    assert "unknown department" in run("users", "add", "x", "--name", "X", "--department",
                                       "nope", code=1)  # fmt: skip


@pytest.mark.parametrize("subject", ["admin", "Security_Officer", "role:analyst", "*"])
def test_users_cli_refuses_reserved_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subject: str
) -> None:
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(cli, ["users", "add", subject, "--name", "X"])
    assert result.exit_code == 1 and "reserved" in result.output
    listed = CliRunner().invoke(cli, ["users", "list"])
    assert subject not in {u["subject"] for u in json.loads(listed.stdout)}


def test_users_cli_disables_a_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    assert runner.invoke(cli, ["users", "add", "nina", "--name", "N"]).exit_code == 0
    assert runner.invoke(cli, ["users", "add", "nina", "--name", "N", "--status",
                               "disabled"]).exit_code == 0  # fmt: skip
    assert json.loads(runner.invoke(cli, ["users", "list"]).stdout)[0]["status"] == "disabled"


def test_cli_commands_leave_the_alert_rules_to_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command lives a second: it appends to the trail and the gateway's rule process
    (or the next gateway started) evaluates it; a runner and pusher of its own beside
    that one would push from a process that ends before its retries."""
    from audit.alert_runner import AlertRunner

    started: list[AlertRunner] = []
    real_start = AlertRunner.start

    def counted(self: AlertRunner) -> AlertRunner:
        started.append(self)
        return real_start(self)

    monkeypatch.setattr(AlertRunner, "start", counted)
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path / "home"))
    for args, code in ((["users", "add", "nina", "--name", "Nina"], 0), (["users", "list"], 0),
                       (["sources", "list", "--as", "nina"], 1)):  # fmt: skip
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == code, result.output
    assert started == []
