"""Red team 6, as an admin on a gateway host: rotate the keys and leave nothing on the
audit trail.

Rule: admins manage keys (DESIGN, "Who uses it"), and an administrator's operation from
the CLI is audited as through the API (``sluice users``, ``sluice audit verify|export``
append their events).

Attack: ``sluice keys rotate`` makes a new master key and re-wraps every data key that
seals the sources' credentials; ``sluice audit keys rotate`` makes a new checkpoint
signing key and publishes it. Neither appended an event: the trail could not say who
changed the keys every source's credentials and every checkpoint depend on, nor when —
the day a rotation breaks the sources (a replica without the new key answers 503) or a
witness starts refusing checkpoints signed by an unpinned key, the officer finds
nothing on record.
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


def _events(type_: str) -> list[dict[str, Any]]:
    services = build_services(load_settings())
    try:
        store = services.audit.store  # type: ignore[attr-defined]
        return list(list_events(store=store, filters=EventFilter(type=type_), cursor=None,
                                limit=100)["items"])  # fmt: skip
    finally:
        services.close()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("SLUICE_HOME", str(path))
    result = CliRunner().invoke(cli, ["users", "list"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return path


def test_a_master_key_rotation_is_on_record(home: Path) -> None:
    result = CliRunner().invoke(cli, ["keys", "rotate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    found = _events("keys.rotated")
    assert len(found) == 1, found
    assert found[0]["resource"] == "keys:master"
    assert found[0]["actor"]["sub"].startswith("cli:")


def test_an_audit_signing_key_rotation_is_on_record(home: Path) -> None:
    result = CliRunner().invoke(cli, ["audit", "keys", "rotate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    kid = result.stdout.strip()
    found = _events("keys.rotated")
    assert len(found) == 1, found
    assert found[0]["resource"] == "keys:audit"
    assert found[0]["details"]["kid"] == kid
