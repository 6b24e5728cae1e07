"""A source's pool keeps the connections a steady load needs: readers at the most a
source is read through at once (the broker's per-source slots) reuse pooled
connections instead of opening one per query (each a new server process on
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import Pool

from adapters.base import Column, QueryPlan
from adapters.registry import open_adapter
from adapters.sql_config import POOL_SIZE
from tests.adapters.sql_sources import config_for, limits_for, people_database


@pytest.fixture
def connects() -> Iterator[list[int]]:
    """Every DBAPI connection any pool opens while the test runs."""
    opened: list[int] = []

    def count(*_args: Any) -> None:
        opened.append(1)

    sa.event.listen(Pool, "connect", count)
    try:
        yield opened
    finally:
        sa.event.remove(Pool, "connect", count)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_concurrent_readers_reuse_pooled_connections(
    kind: str, tmp_path: Path, connects: list[int]
) -> None:
    readers = POOL_SIZE  # the broker's slots (source_max_connections) stay at or under it
    columns = (Column("id", "int64"),)
    plan = QueryPlan(object_name="people", columns=columns, known_columns=columns, limit=10)
    with people_database(kind, tmp_path) as url:
        adapter = open_adapter(config_for(kind, url), limits_for(tmp_path))
        connects.clear()  # creating the table opened its own
        try:
            for round_ in range(3):
                streams = [adapter.execute(plan) for _ in range(readers)]
                for stream in streams:  # each holds its connection until closed
                    assert next(stream).num_rows == 7
                for stream in streams:
                    stream.close()  # type: ignore[attr-defined]
                if round_ == 0:
                    assert len(connects) == readers
            assert len(connects) == readers  # rounds 2 and 3 opened nothing
        finally:
            adapter.close()
