"""Reading 1,000,000 rows from PostgreSQL through the SQL adapter in bounded memory.

Measured by peak RSS growth (psutil, sampled in a thread), never by time. Holding the
whole result as Python rows would take several hundred MB; a streamed read stays
within a few batches."""

from __future__ import annotations

import threading
import time

import psutil
import pytest
import sqlalchemy as sa

from adapters.base import AdapterLimits, Column, Filter, QueryPlan, SourceConfig
from adapters.registry import open_adapter
from adapters.sql_stream import FIRST_CHUNK
from tests.adapters.sql_sources import TEST_SERVER_HOSTS

ROWS = 1_000_000
MAX_GROWTH_BYTES = 200 * 1024 * 1024


class PeakRss:
    """Samples this process's RSS every few milliseconds until stopped."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


@pytest.mark.slow
@pytest.mark.postgres
def test_million_rows_stream_in_bounded_memory(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE big AS SELECT g::bigint AS id, md5(g::text) AS payload, "
                "mod(g, 1000)::text AS region FROM generate_series(1, 1000000) g"
            )
    finally:
        engine.dispose()
    columns = (Column("id", "int64"), Column("payload", "string"), Column("region", "string"))
    plan = QueryPlan(
        object_name="big",
        columns=columns,
        known_columns=columns,
        filters=(Filter("id", ">", 0),),
        batch_size=50_000,
    )
    adapter = open_adapter(
        SourceConfig("postgresql", {"url": pg_url}),
        AdapterLimits(statement_timeout_s=120, http_allow_hosts=TEST_SERVER_HOSTS),
    )
    sizes: list[int] = []
    try:
        with PeakRss() as rss:
            for batch in adapter.execute(plan):
                sizes.append(batch.num_rows)
    finally:
        adapter.close()
    assert sum(sizes) == ROWS
    # a small first chunk (first bytes out early), then batches of the plan's size
    assert sizes[0] == FIRST_CHUNK and max(sizes) == 50_000
    assert len(sizes) == 1 + -(-(ROWS - FIRST_CHUNK) // 50_000)
    growth = rss.peak - rss.baseline
    print(f"peak RSS growth: {growth / 2**20:.0f} MiB")
    assert growth < MAX_GROWTH_BYTES, f"peak RSS grew by {growth / 2**20:.0f} MiB"
