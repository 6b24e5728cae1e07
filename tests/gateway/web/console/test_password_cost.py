"""The cost console passwords are hashed at: argon2-cffi's defaults unless the operator
sets ``SLUICE_CONSOLE_ARGON2_*`` (the suite sets the lowest, tests/conftest.py)."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters
from pydantic import ValidationError

from gateway.web.console.passwords import password_hasher
from gateway.web.console.settings import ConsoleSettings


def test_production_hashes_at_argon2_cffis_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLUICE_CONSOLE_ARGON2_TIME_COST", raising=False)
    monkeypatch.delenv("SLUICE_CONSOLE_ARGON2_MEMORY_KIB", raising=False)
    params = extract_parameters(password_hasher().hash("a-password-1"))
    assert (params.type.name, params.time_cost, params.memory_cost) == ("ID", 3, 65536)


def test_the_cost_is_the_operators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_CONSOLE_ARGON2_TIME_COST", "4")
    monkeypatch.setenv("SLUICE_CONSOLE_ARGON2_MEMORY_KIB", "2048")
    hashed = password_hasher().hash("a-password-1")
    params = extract_parameters(hashed)
    assert (params.time_cost, params.memory_cost) == (4, 2048)
    assert password_hasher().verify(hashed, "a-password-1")


@pytest.mark.parametrize("name, value", [("TIME_COST", "0"), ("MEMORY_KIB", "64")])
def test_a_cost_below_the_floor_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"SLUICE_CONSOLE_ARGON2_{name}", value)
    with pytest.raises(ValidationError):
        ConsoleSettings()
