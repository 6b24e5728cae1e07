"""``ComparisonEngine`` on Apache Spark: the same model, the same hits, on a cluster.

The join runs where Spark runs it (``local[2]`` in tests, a cluster in production:
``docs/comparison-spark.md``); the gateway only builds the plan from the model's typed
tree and receives the hits. A side arrives either as the broker's governed Arrow
reader (turned into a DataFrame) or, when the broker planned it and the source has a
Spark reader, as a ``PushedSide`` that Spark reads itself (``reads``): projection and
row filter in the read, masks and key tokens applied on the executors.

The order of work and the result are the embedded engine's (``arrow_engine``), so hit
lists are identical: each side's own conditions first, the joins in model order with
their conditions (an anti join's inside the match), the columns ``key_token``,
``<alias>.<field>``…, the subject tokens, ordered by every output column (nulls last),
cut to ``limit``, cast back to the types the sides had. A join that would make more
than ``max_pairs`` pairs is refused before it runs.

Cancelling: every Spark job of a run is in one job group; a watcher thread cancels the
group when the run's ``CancelToken`` is set, and the run ends as ``RunCancelled``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import pyarrow as pa

from catalog.errors import TooLarge, Unprocessable
from gateway.enforcement.comparison.engine import CancelToken, Hits, Progress
from gateway.enforcement.comparison.expressions import Typed
from gateway.enforcement.comparison.spark.columns import col, column
from gateway.enforcement.comparison.spark.govern import (
    governed_frame,
    governor,
    pushable,
    side_stats,
)
from gateway.enforcement.comparison.spark.session import JDBC_JARS, jdbc_jars, spark_session
from gateway.enforcement.comparison.spark.sources import FILE_KINDS, READ_KINDS, SparkSources
from gateway.enforcement.comparison.spec import KEY_COLUMN, CompiledJoin, CompiledModel
from gateway.enforcement.query.subjects import MAX_COUNTIES, MAX_TOKENS, SUBJECT_COLUMN

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from gateway.enforcement.comparison.planned import PlannedSide

SideInput: TypeAlias = "pa.RecordBatchReader | PlannedSide"

DEFAULT_MAX_PAIRS = 5_000_000_000
_JARS = dict(zip(("postgresql", "mysql", "sqlite"), JDBC_JARS, strict=True))


JAVA_INT_MAX = 2**31 - 1


class SparkEngine:
    """Joins governed sides on a Spark master (made on first use)."""

    name = "spark"

    def __init__(
        self, *, master: str = "local[2]", max_pairs: int = DEFAULT_MAX_PAIRS,
        sources: SparkSources | None = None,
        session: Callable[[str], SparkSession] = spark_session,
    ) -> None:  # fmt: skip
        self.master = master
        self.max_pairs = max_pairs
        self.sources = sources  # None: every side comes through the gateway's reader
        self._session = session

    def reads(self, side: PlannedSide) -> bool:
        """Spark reads a side itself when it has a reader for the source's kind (JDBC
        needs the driver jar) and the plan is one it carries out."""
        kind = side.entry.source.kind
        if self.sources is None or kind not in READ_KINDS or not pushable(side.plan):
            return False
        return kind in FILE_KINDS or _JARS[kind] in {Path(j).name for j in jdbc_jars()}

    @property
    def spark(self) -> SparkSession:
        return self._session(self.master)

    def run(
        self,
        model: CompiledModel,
        sides: Mapping[str, SideInput],
        *,
        limit: int,
        cancel: CancelToken,
        progress: Progress,
    ) -> Hits:
        spark = self.spark
        cancel.check()
        with _job_group(spark, cancel):
            try:
                return self._run(spark, model, sides, limit, cancel, progress)
            except Exception as exc:
                cancel.check()  # a cancelled job's error is the cancel
                raise _as_refusal(exc) from None

    def _run(
        self, spark: SparkSession, model: CompiledModel, sides: Mapping[str, SideInput],
        limit: int, cancel: CancelToken, progress: Progress,
    ) -> Hits:  # fmt: skip
        cached: list[DataFrame] = []
        try:
            return self._joined(spark, model, sides, limit, cancel, progress, cached)
        finally:
            for frame in cached:  # the sides held on the executors for this run
                frame.unpersist()

    def _joined(
        self, spark: SparkSession, model: CompiledModel, sides: Mapping[str, SideInput],
        limit: int, cancel: CancelToken, progress: Progress, cached: list[DataFrame],
    ) -> Hits:  # fmt: skip
        frames: dict[str, DataFrame] = {}
        types: dict[str, pa.DataType] = {}
        for s in model.sides:
            frame, schema = self._frame(spark, sides[s.alias], cached, cancel)
            cancel.check()
            types.update({f"{s.alias}.{f.name}": f.type for f in schema})
            frames[s.alias] = _prepared(frame, s.alias, model.side_conditions.get(s.alias, ()))
        current = frames[model.base]
        steps = len(model.joins)
        for i, join in enumerate(model.joins):
            current = self._join(current, frames[join.right], join)
            cancel.check()
            progress((i + 1) / (steps + 1))
        keep = [f"{model.base}.{model.side(model.base).key}", *model.output_columns[1:]]
        subjects = [
            f"{s.alias}.{SUBJECT_COLUMN}"
            for s in model.sides
            if not s.anti and f"{s.alias}.{SUBJECT_COLUMN}" in current.columns
        ]
        names = [KEY_COLUMN, *keep[1:], *subjects]
        hits = current.select([col(c).alias(n) for c, n in zip([*keep, *subjects], names,
                                                               strict=True)])  # fmt: skip
        order = [col(n).asc_nulls_last() for n in model.output_columns]
        # Spark's limit takes a Java int: a larger cap (a caller's 10**12) failed the run
        table = hits.orderBy(order).limit(min(limit + 1, JAVA_INT_MAX)).toArrow()
        cancel.check()
        schema = pa.schema([pa.field(n, types[c]) for n, c in
                            zip(names, [*keep, *subjects], strict=True)])  # fmt: skip
        table = _typed(table, schema)
        progress(1.0)
        truncated = table.num_rows > limit
        return Hits(table.slice(0, limit) if truncated else table, truncated)

    def _join(self, current: DataFrame, right: DataFrame, join: CompiledJoin) -> DataFrame:
        left_key, right_key = f"{join.left}.{join.left_key}", f"{join.right}.{join.right_key}"
        self._guard(current, left_key, right, right_key, join)
        on = col(left_key) == col(right_key)
        if join.kind == "inner":
            return _filter(current.join(right, on, "inner"), join.conditions)
        for cond in join.conditions:  # inside the match: kept when no row satisfies them
            on = on & column(cond)
        return current.join(right, on, "left_anti")

    def _guard(
        self, left: DataFrame, left_key: str, right: DataFrame, right_key: str,
        join: CompiledJoin,
    ) -> None:  # fmt: skip
        """Refuse a join past ``max_pairs`` pairs (counted per key on the cluster)."""
        from pyspark.sql import functions as F

        counts = [
            frame.where(col(key).isNotNull()).groupBy(col(key).alias("k")).agg(
                F.count(F.lit(1)).alias(f"n{i}"))
            for i, (frame, key) in enumerate(((left, left_key), (right, right_key)))
        ]  # fmt: skip
        row = counts[0].join(counts[1], "k").agg(F.sum(F.col("n0") * F.col("n1"))).first()
        pairs = int(row[0] or 0) if row is not None else 0
        if pairs > self.max_pairs:
            raise TooLarge(
                f"joining {join.left!r} and {join.right!r} makes {pairs:,} pairs, more than "
                f"{self.max_pairs:,}: narrow the sides with 'where' or a condition"
            )

    def _frame(
        self, spark: SparkSession, side: SideInput, cached: list[DataFrame], cancel: CancelToken
    ) -> tuple[DataFrame, pa.Schema]:
        """A side as a DataFrame, and the Arrow schema its columns come back in."""
        if isinstance(side, pa.RecordBatchReader):
            table = side.read_all()
            if table.num_rows == 0:  # Spark infers nothing from no batch: give it the schema
                return spark.createDataFrame([], _spark_schema(table.schema)), table.schema
            return spark.createDataFrame(table), table.schema
        return self._pushed(spark, side, cached, cancel)

    def _pushed(
        self, spark: SparkSession, side: PlannedSide, cached: list[DataFrame], cancel: CancelToken
    ) -> tuple[DataFrame, pa.Schema]:
        """Read by Spark (``govern``), cached on the executors for the join; the side's
        end on record with what was read, before the join starts."""
        from pyspark import StorageLevel

        assert self.sources is not None  # ``reads`` said so
        side.start()  # nothing is read before the side's start is durable
        read = self.sources.describe(side.entry)
        cancel.check()  # the last point before the source is read
        govern = governor(side.plan, audit_key=side.audit_key, entry=side.entry)
        frame = governed_frame(spark, read, govern, side.plan)
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(frame)
        stats = side_stats(frame, token_names=govern.token_names, max_tokens=MAX_TOKENS,
                           max_counties=MAX_COUNTIES, own=side.own_token())  # fmt: skip
        side.read(rows=stats["rows"], tokens=stats["tokens"], counties=stats["counties"],
                  own_seen=stats["own_seen"])  # fmt: skip
        dropped = govern.record_only  # the side's record's alone: never in the hits
        schema = govern.schema()
        kept = pa.schema([f for f in schema if f.name not in dropped])
        return frame.drop(*dropped), kept


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _prepared(frame: DataFrame, alias: str, conditions: Sequence[Typed]) -> DataFrame:
    renamed = frame.toDF(*[f"{alias}.{n}" for n in frame.columns])
    return _filter(renamed, conditions)


def _filter(frame: DataFrame, conditions: Sequence[Typed]) -> DataFrame:
    for cond in conditions:
        frame = frame.where(column(cond))
    return frame


def _typed(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Spark's answer in the sides' own types (Spark widens strings, marks time zones)."""
    table = table.rename_columns(schema.names)
    return pa.Table.from_arrays(
        [table.column(i).cast(f.type) for i, f in enumerate(schema)], schema=schema
    ).combine_chunks()


def _as_refusal(exc: Exception) -> Exception:
    """A model's arithmetic that fails on the data (an overflow, a zero divisor) is the
    model's problem (422), as in the embedded engine; anything else stays an error."""
    if isinstance(exc, (TooLarge, Unprocessable)):
        return exc
    text = str(exc)
    for marker in ("ARITHMETIC_OVERFLOW", "DIVIDE_BY_ZERO", "CAST_OVERFLOW"):
        if marker in text:
            return Unprocessable(f"a condition could not be evaluated: {marker.lower()}")
    return exc


@contextmanager
def _job_group(spark: SparkSession, cancel: CancelToken) -> Iterator[None]:
    """Every job this thread starts is in one group, cancelled with the run."""
    sc = spark.sparkContext
    group = f"sluice-{uuid.uuid4().hex}"
    sc.setJobGroup(group, "sluice comparison run", interruptOnCancel=True)
    stop = threading.Event()

    def watch() -> None:
        # Once cancelled, keep cancelling the group until the run has returned: a cancel
        # that lands between two jobs cancels nothing, and the next job (the final collect
        # of a cross-product-sized join) would then run to its end — seen as a test hung
        # for an hour with Spark at full CPU.
        while not stop.is_set():
            if cancel.wait(0.1):
                sc.cancelJobGroup(group)
                stop.wait(0.2)

    watcher = threading.Thread(target=watch, name="sluice-spark-cancel", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
