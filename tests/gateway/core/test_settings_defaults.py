"""The production defaults the suite's environment changes (tests/conftest.py) are still
the defaults where nothing sets them."""

from __future__ import annotations

import pytest

from gateway.core.settings import load_settings


def test_the_audit_confirmation_bound_is_two_seconds_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLUICE_AUDIT_APPEND_TIMEOUT_S", raising=False)
    assert load_settings().audit_append_timeout_s == 2.0
    monkeypatch.setenv("SLUICE_AUDIT_APPEND_TIMEOUT_S", "7.5")
    assert load_settings().audit_append_timeout_s == 7.5
