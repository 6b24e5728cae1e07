"""A side read by Spark, governed as the broker planned it.

The read (``governed_frame``) is the plan's projection — only the columns the plan
reads — and its filters: the runner's jurisdiction (the policy's row filter) and the
side's own ``where``, as Spark column predicates that its JDBC and file readers push
into the source's query or scan. A prefix is also checked by Spark itself, exactly
(``substring = prefix``): a pushed ``LIKE`` follows MariaDB's case-insensitive
collations, the jurisdiction filter must not. A PostgreSQL or MariaDB read is split
over several tasks (``partitions``), each partition's query carrying the same filters.
A CSV file's texts are typed first (``CsvTyped``), as the gateway's CSV reader types
them, so the filters see the values the embedded engine filters.

Then, on the executors, each Arrow batch passes through ``Govern`` — the same code the
gateway's reader runs (``gateway.enforcement.masking.mask_batch``, the subject tokens
of ``query.subjects``): cast to the plan's types, the county and the subject tokens of
every ID-number field read noted, masked (the key becomes its HMAC token under the
case key; an ID-number field's of its canonical spelling, as the gateway's reader makes
it: stop 37), token-filtered, narrowed. Raw values exist only inside that function on the
executor; what leaves it is what the gateway's own read would have produced, plus the
columns for the side's record alone (``Govern.record_only``: the county, the tokens of
ID-number fields other than the subject column), dropped before the join.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from adapters.arrow_types import schema_for
from adapters.base import Filter, QueryPlan
from catalog.reserved_names import SPARK_COUNTY
from gateway.enforcement.comparison.spark.partitions import partitioning
from gateway.enforcement.comparison.spark.sources import SourceRead
from gateway.enforcement.masking import mask_batch
from gateway.enforcement.query.entries import Entry
from gateway.enforcement.query.plan import ExecutionPlan
from gateway.enforcement.query.subjects import (
    COUNTY_CHARS,
    SUBJECT_COLUMN,
    id_fields,
    subject_tokens_of,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

COUNTY = SPARK_COUNTY  # a name no field is read under (``reserved_names``)
# the texts the gateway's CSV reader (``adapters.files``: Arrow's defaults,
# ``strings_can_be_null``) reads as null — in every column, text or not
CSV_NULLS: tuple[str, ...] = tuple(pacsv.ConvertOptions().null_values)
PUSHED_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "between", "prefix", "is_null"})


def pushable(plan: ExecutionPlan) -> bool:
    """Whether Spark can carry out the plan: a row query, from the first row, every
    filter one it translates."""
    source = plan.source
    return (plan.aggregate is None and plan.skip == 0 and not source.order_by
            and not source.offset and all(f.op in PUSHED_OPS for f in source.filters))  # fmt: skip


@dataclass(frozen=True)
class Govern:
    """The executors' half of the read (picklable: shipped with the plan)."""

    raw: pa.Schema
    masks: Mapping[str, str]
    hash_key: bytes | None
    shift_key: bytes | None
    key_hashes: Mapping[str, bytes]
    # the ID-number fields read: tokenised in their canonical spelling (``mask_batch``)
    id_numbers: frozenset[str]
    audit_key: bytes
    # each ID-number field read and the column of its subject tokens (``token_columns``)
    tokens: tuple[tuple[str, str], ...]
    region_field: str | None
    post_filters: tuple[Filter, ...]
    output: tuple[str, ...] | None

    @property
    def token_names(self) -> tuple[str, ...]:
        """The subject-token columns, in the entry's order of their fields."""
        return tuple(column for _, column in self.tokens)

    @property
    def record_only(self) -> tuple[str, ...]:
        """The columns for the side's record alone (``side_stats``), dropped before the
        join: the county and the tokens of every ID-number field but the subject column
        (whose tokens name the people the hits match, as on the embedded engine)."""
        return (*(n for n in self.token_names if n != SUBJECT_COLUMN), COUNTY)

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield self.batch(batch)

    def batch(self, raw: pa.RecordBatch) -> pa.RecordBatch:
        raw = pa.Table.from_batches([raw]).select(self.raw.names).cast(self.raw)
        raw = raw.combine_chunks().to_batches()[0] if raw.num_rows else _empty(self.raw)
        county = _county(raw, self.region_field)
        for name, column in self.tokens:  # the values ``SubjectTokens.collect`` hashes
            values = raw.column(name).cast(pa.string())
            raw = raw.append_column(column, subject_tokens_of(values, self.audit_key))
        batch = mask_batch(raw, self.masks, hash_key=self.hash_key, shift_key=self.shift_key,
                           hash_keys=self.key_hashes, id_numbers=self.id_numbers)  # fmt: skip
        batch = batch.append_column(COUNTY, county)
        for flt in self.post_filters:  # token equality on a masked field
            keep = pc.fill_null(pc.equal(batch.column(flt.field), pa.scalar(str(flt.value))),
                                False)  # fmt: skip
            batch = batch.filter(keep)
        if self.output is not None:
            batch = batch.select([*self.output, *self.token_names, COUNTY])
        return batch

    def schema(self) -> pa.Schema:
        return self.batch(_empty(self.raw)).schema


def governor(plan: ExecutionPlan, *, audit_key: bytes, entry: Entry) -> Govern:
    return Govern(
        raw=schema_for(plan.source.columns), masks=dict(plan.masks), hash_key=plan.hash_key,
        shift_key=plan.shift_key, key_hashes=dict(plan.key_hashes),
        id_numbers=plan.id_numbers, audit_key=audit_key,
        tokens=token_columns(plan, entry), region_field=entry.region_field,
        post_filters=plan.post_filters, output=plan.output,
    )  # fmt: skip


def token_columns(plan: ExecutionPlan, entry: Entry) -> tuple[tuple[str, str], ...]:
    """Each ID-number field the side reads, and the column its subject tokens go to:
    the plan's subject column's to ``SUBJECT_COLUMN`` (carried into the match), each
    other's to ``__subject_token_<n>`` (a name no field may take: ``plan``), for the
    side's record. One column of the subject field's alone named no one of a second
    ID-number field (a guardian's, a household head's), and a runner's own number there
    went unflagged on Spark where the gateway's reader flags it (red team 38)."""
    fields = id_fields(entry, [c.name for c in plan.source.columns])
    subject = plan.subject_column
    if subject is not None and subject not in fields:  # belt and braces: always among them
        fields.insert(0, subject)
    return tuple((name, SUBJECT_COLUMN if name == subject else f"{SUBJECT_COLUMN}_{i}")
                 for i, name in enumerate(fields))  # fmt: skip


@dataclass(frozen=True)
class CsvTyped:
    """A CSV side's texts typed on the executors as the gateway's CSV reader types them
    (``adapters.files``: Arrow's conversion with ``strings_can_be_null``): the texts in
    ``CSV_NULLS`` are null, in every column, quoted or not; the rest cast to the plan's
    types. Before any predicate, so a ``where`` and the jurisdiction filter see the
    values the embedded engine filters (``NA`` is null there, not a text)."""

    schema: pa.Schema

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        value_set = pa.array(CSV_NULLS, pa.string())
        for batch in batches:
            table = pa.Table.from_batches([batch]).select(self.schema.names)
            columns = []
            for column in table.columns:
                hit = pc.fill_null(pc.is_in(column, value_set=value_set), False)
                columns.append(pc.if_else(hit, pa.scalar(None, column.type), column))
            typed = pa.Table.from_arrays(columns, names=table.column_names).cast(self.schema)
            yield from typed.combine_chunks().to_batches() or [_empty(self.schema)]


def governed_frame(spark: SparkSession, read: SourceRead, govern: Govern,
                   plan: ExecutionPlan) -> DataFrame:  # fmt: skip
    """The side as Spark reads it: projected and filtered at the source, governed on the
    executors; columns as the gateway's reader gives them, plus ``__county``."""
    from pyspark.sql.pandas.types import from_arrow_schema

    as_text = _as_text(read, plan.source)
    split = partitioning(spark, read, plan.source, as_text)
    frame = load_source(spark, read, as_text, split)
    frame = frame.select([_col(c.name) for c in plan.source.columns])
    if read.format == "csv":  # texts: typed as the gateway's CSV reader types them
        raw = schema_for(plan.source.columns)
        frame = frame.mapInArrow(CsvTyped(raw), from_arrow_schema(raw))
    for predicate in _predicates(plan.source):
        frame = frame.where(predicate)
    return frame.mapInArrow(govern, from_arrow_schema(govern.schema()))


def _as_text(read: SourceRead, source: QueryPlan) -> list[str]:
    """Columns to read as their text: SQLite keeps dates and times as text, which its
    JDBC driver parses with one fixed pattern (a plain ``YYYY-MM-DD`` fails); the
    plan's cast on the executors types them, as the gateway's SQLite reader does."""
    if not read.location.startswith("jdbc:sqlite:"):
        return []
    return [c.name for c in source.columns if c.type in ("date", "timestamp")]


def load_source(
    spark: SparkSession, read: SourceRead, as_text: Sequence[str] = (),
    split: Mapping[str, str] | None = None,
) -> DataFrame:  # fmt: skip
    """The source as Spark reads it, every column (the projection follows); ``as_text``:
    JDBC columns read as text; ``split``: the JDBC read's partitioning (``partitioning``)."""
    if read.format == "jdbc":
        reader = spark.read.format("jdbc").option("url", read.location)
        if as_text:
            reader = reader.option("customSchema", ", ".join(f"`{n}` STRING" for n in as_text))
        reader = reader.option("dbtable", read.table).option("fetchsize", "10000")
        for key, value in {**read.options, **(split or {})}.items():
            reader = reader.option(key, value)
        return reader.load()
    if read.format == "parquet":
        return spark.read.parquet(read.location)
    # CSV: every column as text, typed by the plan's cast on the executors (Arrow's
    # parsing of each text, the same as the gateway's CSV reader's conversion). Read as
    # Arrow's CSV reader reads: a quote inside a quoted field is doubled (RFC 4180; Spark's
    # default escape is a backslash, which left ``""`` in the text), and the texts Arrow
    # takes as null are made null on the executors (``CsvTyped``): Spark knows only the
    # empty field as null, it kept ``NA``, ``NULL``, ``nan`` … as text
    from pyspark.sql.types import StringType, StructField, StructType

    # FAILFAST: a record with too few or too many fields (a line break inside quotes, a
    # stray separator) fails the read, as it fails Arrow's; Spark's default filled the
    # missing fields with null and read the rest of the record as a row of its own
    csv = {"header": "true", "escape": '"', "mode": "FAILFAST"}
    header = spark.read.options(**csv).csv(read.location).columns
    schema = StructType([StructField(n, StringType()) for n in header])
    return spark.read.options(**csv).schema(schema).csv(read.location)


def _col(name: str) -> Column:
    from pyspark.sql import functions as F

    return F.col(f"`{name}`")


def _predicates(source: QueryPlan) -> list[Column]:
    from pyspark.sql import functions as F

    out: list[Column] = []
    if source.row_filter is not None:
        out += _prefixes(_col(source.row_filter.field), source.row_filter.prefixes)
    for flt in source.filters:
        c = _col(flt.field)
        if flt.op == "prefix":
            out += _prefixes(c, (str(flt.value),))
        elif flt.op == "in":
            out.append(c.isin(list(flt.value)))
        elif flt.op == "between":
            out.append(c.between(F.lit(flt.value[0]), F.lit(flt.value[1])))
        elif flt.op == "is_null":
            out.append(c.isNull() if flt.value else c.isNotNull())
        else:
            out.append(_compare(c, flt.op, F.lit(flt.value)))
    return out


def pushed_row_filter(source: QueryPlan) -> list[Column]:
    """The row filter as pushed into a source's query (``startswith``): a superset of
    the jurisdiction's rows (MariaDB's ``LIKE`` ignores case), for the split's bounds."""
    from pyspark.sql import functions as F

    if source.row_filter is None:
        return []
    if not source.row_filter.prefixes:
        return [F.lit(False)]
    return _prefixes(_col(source.row_filter.field), source.row_filter.prefixes)[:1]


def _compare(c: Column, op: str, value: Column) -> Column:
    if op == "=":
        return c == value
    if op == "!=":
        return c != value
    if op == "<":
        return c < value
    if op == "<=":
        return c <= value
    if op == ">":
        return c > value
    return c >= value


def _prefixes(c: Column, prefixes: tuple[str, ...]) -> list[Column]:
    """Two predicates: ``startswith`` (pushed into the source's query) and the exact,
    case-sensitive check Spark evaluates itself. No prefix: no row."""
    from pyspark.sql import functions as F

    if not prefixes:
        return [F.lit(False)]
    pushed = exact = None
    for p in prefixes:
        starts = c.startswith(p)
        same = F.substring(c.cast("string"), 1, len(p)) == F.lit(p) if p else c.isNotNull()
        pushed = starts if pushed is None else pushed | starts
        exact = same if exact is None else exact | same
    assert pushed is not None and exact is not None
    return [pushed, exact]


def _county(raw: pa.RecordBatch, region_field: str | None) -> pa.Array:
    if region_field is None or region_field not in raw.schema.names:
        return pa.nulls(raw.num_rows, pa.string())
    values = raw.column(region_field).cast(pa.string())
    return pc.utf8_slice_codeunits(values, 0, COUNTY_CHARS)


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=schema)


def side_stats(
    frame: DataFrame, *, token_names: Sequence[str], max_tokens: int, max_counties: int,
    own: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Rows, subject tokens and counties of a governed side, for its record (one pass
    over the cached side, one short one per ID-number field for the tokens, in
    ``token_names``' order: field by field, as ``SubjectTokens.collect``), and whether
    the token ``own`` (the runner's own) is in any of those columns of any row: the
    tokens recorded are the first ``max_tokens`` people, and a runner's own record past
    them went unflagged (red team 36's left row; one more short pass, only for a runner
    whose number is known)."""
    from pyspark.sql import functions as F

    row = frame.agg(F.count(F.lit(1)).alias("n"),
                    F.collect_set(F.col(COUNTY)).alias("c")).first()  # fmt: skip
    rows, counties = (int(row["n"]), sorted(row["c"])[:max_counties]) if row else (0, [])
    tokens: list[str] = []
    for name in token_names:
        room = max_tokens - len(tokens)
        if room <= 0:
            break
        picked = frame.where(_col(name).isNotNull()).select(_col(name))
        tokens += [r[0] for r in picked.limit(room).collect()]
    own_seen = own is not None and (own in tokens or (
        len(tokens) >= max_tokens and _holds(frame, token_names, own)))  # fmt: skip
    return {"rows": rows, "tokens": tokens, "counties": set(counties), "own_seen": own_seen}


def _holds(frame: DataFrame, token_names: Sequence[str], own: str) -> bool:
    """Whether any row holds the token ``own`` in any of the columns ``token_names``."""
    hits = [_col(name) == own for name in token_names]
    return bool(hits) and frame.where(reduce(lambda a, b: a | b, hits)).limit(1).count() > 0
