"""What the gateway writes under its home is private whatever the umask (a service
manager may start it with 0000): keys, their pointers, the console secret, the master
keys, the alert state and outbox 0600 in 0700 folders; and ``sluice doctor`` reports
an existing one that is open to others, with the ``chmod`` that fixes it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.alert_outbox import outbox
from audit.alert_state import alert_states
from gateway.cli.doctor.home import _walk
from gateway.core.settings import load_settings
from gateway.web.app import create_app
from gateway.wiring.container import build_services

ALERT = {"id": "al-1", "rule": "off_hours", "severity": "high", "subject": "arthur",
         "summary": "test", "first_seq": 1, "last_seq": 1, "count": 1}  # fmt: skip


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def home(tmp_path: Path, permissive_umask: None) -> Path:
    """A home made from nothing (its parent too) by a gateway that runs once."""
    home = tmp_path / "srv" / "sluice"
    services = build_services(load_settings(home=home))
    try:
        create_app(services.settings, services)  # the console's secret
        services.keyring.rotate_master()  # a master key file and its pointer
        alert_states(home).open(ALERT)
        outbox(home).enqueue(ALERT, ["webhook"])
    finally:
        services.close()
    return home


def test_everything_private_is_created_private_under_umask_0(home: Path) -> None:
    private = [home, *(home / "keys").rglob("*"), home / "keys",
               *home.glob("alerts-*.jsonl"), home / "gateway-id"]  # fmt: skip
    names = {p.relative_to(home).as_posix() for p in private}
    for expected in ("keys/audit/current", "keys/master/current", "keys/mask.secret",
                     "keys/console.secret", "keys/issuer/signing-key.pem",
                     "alerts-state.jsonl", "alerts-outbox.jsonl"):  # fmt: skip
        assert expected in names, sorted(names)
    wrong = {
        p.relative_to(home).as_posix() or ".": oct(_mode(p))
        for p in private
        if _mode(p) != (0o700 if p.is_dir() else 0o600)
    }
    assert wrong == {}
    assert _mode(home.parent) == 0o700  # a parent it had to create, too
    assert _walk(home) == []


@pytest.mark.parametrize(
    ("relative", "mode", "want"),
    [
        ("keys", 0o755, "700"),
        ("keys/audit", 0o750, "700"),
        ("keys/audit/current", 0o644, "600"),
        ("keys/master/current", 0o640, "600"),
        ("alerts-state.jsonl", 0o644, "600"),
        ("alerts-outbox.jsonl", 0o640, "600"),
    ],
)
def test_the_doctor_reports_a_wider_mode(home: Path, relative: str, mode: int, want: str) -> None:
    path = home / relative
    path.chmod(mode)
    problems = _walk(home)
    assert problems == [(f"{path} is open to other users (mode {mode:04o}, want {want})",
                         f"chmod {want} {path}")]  # fmt: skip
