"""Red team 6, as an admin on a gateway host: ``sluice users add`` widens an analyst's
jurisdiction or moves a steward to another department, and the trail does not say so.

Rule: every change to a user's attributes is on the audit trail, through the API, the
console or the CLI alike ("audited as through the API", ``gateway/cli/users_cmd.py``;
THREAT_MODEL: the trail records every change made through the gateway).

Attack: the API's ``user.updated`` carries what was set (display name, department,
clearance, jurisdiction, status). The CLI's carried only the clearance (and a status):
an operator who gives an analyst every county (``--jurisdiction 4``) or moves a steward
to the finance department left ``{"clearance": "L3"}`` on record, the same event an
unchanged re-save leaves. An officer reading the trail could not tell who widened whose
jurisdiction, nor when, nor that anything but the clearance changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from audit.search import EventFilter, list_events
from gateway.cli.main import cli
from gateway.core.settings import load_settings
from gateway.wiring.container import build_services


def _user_events(subject: str) -> list[dict[str, Any]]:
    services = build_services(load_settings())
    try:
        page = list_events(store=services.audit.store,  # type: ignore[attr-defined]
                           filters=EventFilter(resource=f"user:{subject}", type="user.updated"),
                           cursor=None, limit=100)  # fmt: skip
        return list(page["items"])
    finally:
        services.close()


def test_the_cli_records_what_it_changed_of_a_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def run(*args: str) -> None:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output

    run("users", "add", "nina", "--name", "Nina", "--clearance", "L3",
        "--jurisdiction", "430121")  # fmt: skip
    run("users", "add", "nina", "--name", "Nina", "--clearance", "L3",
        "--jurisdiction", "4")  # fmt: skip
    newest = _user_events("nina")[0]["details"]
    assert newest.get("jurisdiction") == ["4"], newest
    assert newest.get("display_name") == "Nina", newest
    assert "department" in newest, newest
