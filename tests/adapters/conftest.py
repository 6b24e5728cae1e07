"""Fixtures shared by the adapter tests."""

from __future__ import annotations

from typing import Any

import pytest

import adapters.sql as sql_module


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the reads that went through PostgreSQL's COPY path."""
    calls: list[int] = []
    real = sql_module.copy_batches

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sql_module, "copy_batches", counted)
    return calls
