"""A JDBC side read by several Spark tasks at once, split on one of its columns.

Without it Spark reads a JDBC table with one task on one connection: a province's side
(tens of millions of rows) through one executor core, while the projection in
``docs/comparison-spark.md`` assumes the read spreads over the cluster. Spark splits a
read on a numeric, date or timestamp column between two bounds into ``numPartitions``
ranges (the first also takes the NULLs and everything below, the last everything
above), each range read by its own task with its own query.

Why this is safe for the jurisdiction: the split only *adds* a range to each query.
The pushed filters — the policy's row filter (``startswith`` on the region field, a
``LIKE``) and the side's ``where`` — are compiled by Spark's JDBC reader into the
``WHERE`` of every partition's query, and the exact, case-sensitive prefix check that
``govern`` adds is evaluated by Spark after the read, on every partition: no range
holds a row another range would have filtered. The bounds themselves are read under
the row filter (one ``MIN``/``MAX`` query, pushed to the source), so nothing outside
the runner's jurisdiction decides even the split; they only place the ranges, never
which rows are read.

Chosen: SQL servers only (PostgreSQL, MariaDB/MySQL; a SQLite file is one local
reader), the first whole-number column of the entry, else its first date, else its
first timestamp (identifiers and dates spread; a float or a text does not split
evenly, Spark refuses a text); ``numPartitions`` the cluster's default parallelism,
at most ``MAX_PARTITIONS`` connections to the source at once; one partition (no
split) when the bounds are equal or the side is empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from adapters.base import QueryPlan

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from gateway.enforcement.comparison.spark.sources import SourceRead

MAX_PARTITIONS = 32  # connections one side's read opens on the source at once
SPLIT_SCHEMES = ("jdbc:postgresql:", "jdbc:mysql:")
_PREFERRED = ("int64", "date", "timestamp")


def split_column(source: QueryPlan, as_text: Sequence[str] = ()) -> str | None:
    """The column a read is split on, or None (no column Spark can split on)."""
    columns = source.known_columns or source.columns
    for wanted in _PREFERRED:
        for column in columns:
            if column.type == wanted and column.name not in as_text:
                return column.name
    return None


def partitioning(
    spark: SparkSession, read: SourceRead, source: QueryPlan, as_text: Sequence[str] = (),
    *, max_partitions: int = MAX_PARTITIONS,
) -> dict[str, str]:  # fmt: skip
    """Spark's JDBC options for a split read of ``read`` (empty: one task)."""
    if read.format != "jdbc" or not read.location.startswith(SPLIT_SCHEMES):
        return {}
    column = split_column(source, as_text)
    wanted = min(spark.sparkContext.defaultParallelism, max_partitions)
    if column is None or wanted < 2:
        return {}
    low, high = _bounds(spark, read, source, column)
    if low is None or high is None or low == high:
        return {}
    return {"partitionColumn": column, "lowerBound": str(low), "upperBound": str(high),
            "numPartitions": str(wanted)}  # fmt: skip


def _bounds(spark: SparkSession, read: SourceRead, source: QueryPlan,
            column: str) -> tuple[object, object]:  # fmt: skip
    """``MIN`` and ``MAX`` of ``column`` over the rows of the runner's jurisdiction (the
    row filter's pushed ``startswith``), in one aggregate query on the source."""
    from pyspark.sql import functions as F

    from gateway.enforcement.comparison.spark.govern import load_source, pushed_row_filter

    frame = load_source(spark, read, split={"pushDownAggregate": "true"})
    for predicate in pushed_row_filter(source):
        frame = frame.where(predicate)
    row = frame.agg(F.min(F.col(f"`{column}`")), F.max(F.col(f"`{column}`"))).first()
    return (row[0], row[1]) if row is not None else (None, None)
