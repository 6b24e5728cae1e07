"""Red team 8, as an operator on a gateway host: rotate keys while the trail is sealed.

Rule (sixth pass): ``sluice keys rotate`` and ``sluice audit keys rotate`` are on the
trail (``keys.rotated``), and a change whose record cannot be written does not happen.

Attack: the trail is sealed. ``sluice keys rotate`` made a new master key current and
re-wrapped every data key, and ``sluice audit keys rotate`` made and published a new
checkpoint signing key; only then did each try its ``keys.rotated``, which a sealed
trail refuses: the command failed, the rotation stood, and the trail never said so.

Expected: refused before anything changes while sealed; the current keys stay.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from audit.seal import SealStore
from gateway.cli.main import cli


def _files(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("SLUICE_HOME", str(path))
    assert CliRunner().invoke(cli, ["keys", "rotate"]).exit_code == 0  # a current key
    assert CliRunner().invoke(cli, ["audit", "keys", "rotate"]).exit_code == 0
    assert SealStore(path).seal("red team 8: rotation while sealed", {"test": True})
    return path


@pytest.mark.parametrize("command", [["keys", "rotate"], ["audit", "keys", "rotate"]])
def test_no_rotation_while_sealed(home: Path, command: list[str]) -> None:
    keys = home / "keys"
    before = _files(keys)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code != 0, result.output
    assert "sealed" in result.output
    assert _files(keys) == before
