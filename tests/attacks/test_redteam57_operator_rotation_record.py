"""Red team 57, host operator (and the officer reading the trail after a key leak): the
record of a master key rotation through the secret manager names the new key twice.

Rule: a master key rotation is on record (red team 6: ``keys.rotated`` with the key made
current and the one before it), so that after a leak of a master key the trail says
when it stopped wrapping the sources' data keys, and who rotated it.

Attack: with ``SLUICE_MASTER_KEY`` set, the new key is the env key itself (the lead's
fix of red team 56's row): the operator puts the new key in ``SLUICE_MASTER_KEY``, the
old in ``SLUICE_MASTER_KEY_PREVIOUS`` and runs ``sluice keys rotate``. The key current
before the rotation is then already the new one, so the event says ``{"kid": env-new,
"previous_kid": env-new, "rewrapped": 1}``: the key that was retired — the one the
officer is asking about — is nowhere on record. Expected: the record names the keys the
data keys were re-wrapped from.

On the embedded default (the record's content does not depend on the backend).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.credentials import derive_master_key, fingerprint
from gateway.cli.main import cli
from gateway.core.settings import load_settings
from gateway.wiring.container import build_services
from tests.attacks.test_redteam6_admin_key_rotation_off_record import _events

OLD = "the secret manager's first master key, long"
NEW = "the secret manager's second master key, long"


def test_a_rotation_through_the_secret_manager_names_the_retired_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SLUICE_MASTER_KEY", OLD)
    services = build_services(load_settings())
    try:
        services.keyring.encrypt("a source's password")
    finally:
        services.close()
    monkeypatch.setenv("SLUICE_MASTER_KEY", NEW)
    monkeypatch.setenv("SLUICE_MASTER_KEY_PREVIOUS", OLD)
    result = CliRunner().invoke(cli, ["keys", "rotate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [event] = _events("keys.rotated")
    retired = f"env-{fingerprint(derive_master_key(OLD))}"
    assert event["details"]["rewrapped"] == 1, event
    assert retired in str(event["details"]), f"the retired key is not on record: {event}"
