"""Aggregates at the source (issue 16): the plan, its checks, and Arrow's side.

The broker asks an adapter for *every* group of a grouping over the rows the policy's
row filter leaves — never filtered by the caller, never cut: small-count suppression is
decided over the whole grouping (``gateway.enforcement.query.aggregate``), so a group
must come back with the same numbers whatever else was asked. The adapter returns one
table whose columns are, in order and under these names,

- ``g0 … g(n-1)``: the group fields' values (typed as the catalog's fields),
- ``__rows``: the group's row count (always: suppression is decided on it),
- ``a0 … a(k-1)``: each aggregate's value (``output_type``).

The names are the gateway's own, so a catalog field called ``a0`` cannot collide with
one. More than ``max_groups`` groups is refused (``TooLarge``), never cut.

Where each runs: SQL sources compile one ``GROUP BY`` (``adapters.sql_compile``); file
sources scan with the row filter pushed into ``pyarrow.dataset`` and group with
``Table.group_by(...).aggregate`` (``ArrowGrouper``); HTTP sources are grouped in the
gateway by the same ``ArrowGrouper`` over the rows the adapter reads
(``SourceAdapter.aggregate``'s default). Semantics are SQL's on every path: nulls form
one group of their own, ``count(field)`` and ``count_distinct`` count non-null values,
``sum``/``avg``/``min``/``max`` ignore nulls and are null over no value, and a grouping
with no group field is one group (of 0 rows over an empty source).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from adapters.arrow_types import arrow_type
from adapters.base import Column, QueryPlan
from catalog.errors import BadRequest, TooLarge

if TYPE_CHECKING:
    from adapters.base import SourceAdapter

ROWS = "__rows"
FUNCTIONS = ("count", "count_distinct", "sum", "avg", "min", "max")
NUMERIC = frozenset({"int64", "float64", "decimal"})
# which logical types each function takes (count and count_distinct: any)
TAKES: dict[str, frozenset[str]] = {
    "sum": NUMERIC,
    "avg": NUMERIC,
    # min/max of text would follow each database's collation (case-insensitive on
    # MariaDB): refused rather than answered differently per source
    "min": NUMERIC | {"date", "timestamp"},
    "max": NUMERIC | {"date", "timestamp"},
}


def group_name(index: int) -> str:
    return f"g{index}"


def value_name(index: int) -> str:
    return f"a{index}"


@dataclass(frozen=True)
class Aggregate:
    """One aggregate: ``fn`` over ``column`` (``None``: ``count`` of rows)."""

    fn: str
    column: Column | None = None


@dataclass(frozen=True)
class AggregatePlan:
    """What a source is asked to group. ``rows`` names the object, the catalog's
    columns and the policy's row filter (no caller filter, order or limit: see the
    module doc); its ``columns`` are what the in-gateway path reads."""

    rows: QueryPlan
    group_by: tuple[Column, ...]
    aggregates: tuple[Aggregate, ...]
    max_groups: int

    def result_columns(self) -> tuple[Column, ...]:
        """The result's columns as logical types, in order (see the module doc)."""
        groups = [Column(group_name(i), c.type) for i, c in enumerate(self.group_by)]
        values = [Column(value_name(i), output_type(a)) for i, a in enumerate(self.aggregates)]
        return (*groups, Column(ROWS, "int64"), *values)

    def result_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, arrow_type(c.type)) for c in self.result_columns()])


def output_type(aggregate: Aggregate) -> str:
    """The logical type of an aggregate's value."""
    if aggregate.fn in ("count", "count_distinct"):
        return "int64"
    if aggregate.fn == "avg":
        return "float64"
    assert aggregate.column is not None
    if aggregate.fn == "sum":
        return "int64" if aggregate.column.type == "int64" else "float64"
    return "float64" if aggregate.column.type == "decimal" else aggregate.column.type


def read_columns(
    group_by: Iterable[Column], aggregates: Iterable[Aggregate], known: tuple[Column, ...]
) -> tuple[Column, ...]:
    """The columns an in-gateway grouping reads: group fields and aggregated fields, or
    (rows per group with nothing grouped) one catalog column to count rows by."""
    names: dict[str, Column] = {c.name: c for c in group_by}
    for agg in aggregates:
        if agg.column is not None:
            names.setdefault(agg.column.name, agg.column)
    return tuple(names.values()) or known[:1]


def check_aggregate_plan(plan: AggregatePlan) -> None:
    """Every adapter's check before it touches its source: names known (``check_plan``
    on ``plan.rows`` does the rest), functions known and applicable, groups bounded."""
    known = {c.name: c for c in plan.rows.known_columns}
    for col in (*plan.group_by, *(a.column for a in plan.aggregates if a.column is not None)):
        if known.get(col.name) != col:
            raise BadRequest(f"unknown field {col.name!r}: not in the catalog entry")
    if len({c.name for c in plan.group_by}) != len(plan.group_by):
        raise BadRequest("a field is grouped on twice")
    for agg in plan.aggregates:
        check_function(agg.fn, agg.column)
    if not plan.aggregates:
        raise BadRequest("an aggregate query computes at least one aggregate")
    if not isinstance(plan.max_groups, int) or plan.max_groups < 1:
        raise BadRequest("max_groups must be a positive integer")


def check_function(fn: str, column: Column | None) -> None:
    if fn not in FUNCTIONS:
        raise BadRequest(f"unknown aggregate function {fn!r}")
    if column is None:
        if fn != "count":
            raise BadRequest(f"{fn} needs a field")
        return
    takes = TAKES.get(fn)
    if takes is not None and column.type not in takes:
        raise BadRequest(f"{fn} does not apply to {column.name!r} ({column.type})")


def too_many_groups(limit: int) -> TooLarge:
    return TooLarge(
        f"the grouping has more than {limit} groups over your rows; group on fewer or "
        "coarser fields"
    )


# -- Arrow: grouping batch by batch, partial results combined --------------------------

# how a partial aggregate is combined: counts and sums add up, extremes stay extremes
_COMBINE = {"count": "sum", "count_all": "sum", "sum": "sum", "min": "min", "max": "max"}
COMPACT_ROWS = 262_144  # partial rows held before they are combined again


class ArrowGrouper:
    """Groups record batches with ``Table.group_by(...).aggregate``, in bounded memory:
    each batch is reduced to partial aggregates per group (row counts, counts, sums,
    extremes; ``avg`` as a sum and a count) and, for ``count_distinct``, to its distinct
    (group, value) pairs; both are combined again whenever they pile up, and ``result``
    combines them once more (a distinct pair counts one if its value is not null).
    Refuses (``TooLarge``) a grouping above ``plan.max_groups``."""

    def __init__(self, plan: AggregatePlan) -> None:
        self.plan = plan
        self._keys = [group_name(i) for i in range(len(plan.group_by))]
        self._partials: list[pa.Table] = []
        self._pairs: dict[int, list[pa.Table]] = {
            i: [] for i, a in enumerate(plan.aggregates) if a.fn == "count_distinct"
        }
        self._held = 0
        self._specs: list[tuple[Any, str]] = [([], "count_all")]
        self._parts: list[tuple[str, str]] = [("count_all", "sum")]  # (partial, combine)
        for i, agg in enumerate(plan.aggregates):
            if agg.column is None or agg.fn == "count_distinct":
                continue  # rows: count_all; distinct values: kept as pairs
            for part in ["sum", "count"] if agg.fn == "avg" else [agg.fn]:
                self._specs.append((f"v{i}", part))
                self._parts.append((f"v{i}_{part}", _COMBINE[part]))

    def _frame(self, batch: pa.RecordBatch | pa.Table) -> pa.Table:
        """The batch under the grouper's own names: g{i} keys, v{i} aggregate inputs."""
        arrays, names = [], []
        for i, col in enumerate(self.plan.group_by):
            arrays.append(batch.column(col.name))
            names.append(group_name(i))
        for i, agg in enumerate(self.plan.aggregates):
            if agg.column is not None:
                arrays.append(batch.column(agg.column.name))
                names.append(f"v{i}")
        if not arrays:  # rows only, nothing grouped: any column of the batch's length
            arrays, names = [pa.nulls(batch.num_rows, pa.int8())], ["_"]
        return pa.Table.from_arrays(arrays, names=names)

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        if batch.num_rows == 0:
            return
        frame = self._frame(batch)
        partial = frame.group_by(self._keys, use_threads=False).aggregate(self._specs)
        self._partials.append(_named(partial, self._keys, [p for p, _ in self._parts]))
        self._held += partial.num_rows
        for i, tables in self._pairs.items():
            tables.append(_distinct(frame.select([*self._keys, f"v{i}"])))
            self._held += tables[-1].num_rows
        if self._held > COMPACT_ROWS:
            self._compact()

    def _combine(self, tables: list[pa.Table], extra: list[tuple[str, str]]) -> pa.Table:
        table = pa.concat_tables(tables, promote_options="default")
        specs = [*self._parts, *extra]
        combined = table.group_by(self._keys, use_threads=False).aggregate(specs)
        out = _named(combined, self._keys, [name for name, _ in specs])
        if out.num_rows > self.plan.max_groups:
            raise too_many_groups(self.plan.max_groups)
        return out

    def _compact(self) -> None:
        self._partials = [self._combine(self._partials, [])]
        self._held = self._partials[0].num_rows
        for i, tables in self._pairs.items():
            self._pairs[i] = [_distinct(pa.concat_tables(tables))]
            self._held += self._pairs[i][0].num_rows

    def result(self) -> pa.Table:
        """Every group, in the module doc's layout (``AggregatePlan.result_schema``)."""
        schema = self.plan.result_schema()
        if not self._partials:
            if self._keys:
                return schema.empty_table()
            self._partials = [self._frame_partial(self._empty_frame())]
        tables = list(self._partials)
        extra: list[tuple[str, str]] = []
        for i, pairs in self._pairs.items():
            if not pairs:
                continue
            distinct = _distinct(pa.concat_tables(pairs))
            ones = pc.cast(pc.is_valid(distinct.column(f"v{i}")), pa.int64())
            tables.append(distinct.select(self._keys).append_column(f"d{i}", ones))
            extra.append((f"d{i}", "sum"))
        combined = self._combine(tables, extra)
        columns: list[Any] = [combined.column(k) for k in self._keys]
        columns.append(combined.column("count_all"))
        columns += [self._value(i, agg, combined) for i, agg in enumerate(self.plan.aggregates)]
        arrays = [
            col.cast(field.type) if col.type != field.type else col
            for col, field in zip(columns, schema, strict=True)
        ]
        return pa.Table.from_arrays(arrays, schema=schema)

    def _empty_frame(self) -> pa.Table:
        cols = read_columns(self.plan.group_by, self.plan.aggregates, self.plan.rows.known_columns)
        return pa.schema([pa.field(c.name, arrow_type(c.type)) for c in cols]).empty_table()

    def _frame_partial(self, table: pa.Table) -> pa.Table:
        """No row at all and nothing grouped: one group of 0 rows (SQL's answer), its
        partials typed by the same aggregation over an empty frame."""
        frame = self._frame(table)
        partial = frame.group_by([], use_threads=False).aggregate(self._specs)
        return _named(partial, [], [p for p, _ in self._parts])

    def _value(self, i: int, agg: Aggregate, combined: pa.Table) -> Any:
        column = f"v{i}"
        if agg.column is None:
            return combined.column("count_all")
        if agg.fn == "count":
            return combined.column(f"{column}_count")
        if agg.fn == "count_distinct":
            if f"d{i}" not in combined.column_names:
                return pa.array([0] * combined.num_rows, pa.int64())
            return pc.fill_null(combined.column(f"d{i}"), 0)
        if agg.fn == "avg":
            total = combined.column(f"{column}_sum").cast(pa.float64())
            count = combined.column(f"{column}_count").cast(pa.float64())
            # null over no value (SQL's AVG), never a division by zero
            none = pa.scalar(None, pa.float64())
            return pc.if_else(pc.greater(count, 0.0), pc.divide(total, count), none)
        return combined.column(f"{column}_{agg.fn}")


def _distinct(pairs: pa.Table) -> pa.Table:
    """The distinct rows of ``pairs`` (nulls are values here, as in a GROUP BY)."""
    return pairs.group_by(pairs.column_names, use_threads=False).aggregate([])


def _named(table: pa.Table, keys: list[str], parts: list[str]) -> pa.Table:
    """A ``group_by`` result under the partial names: keys, then each part in order
    (Arrow names an aggregate ``<column>_<function>`` and may put the keys last)."""
    aggregated = [n for n in table.column_names if n not in keys]
    columns = [table.column(k) for k in keys] + [table.column(n) for n in aggregated]
    return pa.Table.from_arrays(columns, names=[*keys, *parts])


def group_batches(plan: AggregatePlan, batches: Iterable[pa.RecordBatch]) -> pa.Table:
    grouper = ArrowGrouper(plan)
    for batch in batches:
        grouper.add(batch)
    return grouper.result()


def rows_plan(plan: AggregatePlan) -> QueryPlan:
    """What the in-gateway path reads: the needed columns, every row the row filter
    leaves (the adapter's ``max_rows`` bounds it: reaching it is refused, see below)."""
    known = plan.rows.known_columns
    return replace(
        plan.rows,
        columns=read_columns(plan.group_by, plan.aggregates, known),
        filters=(),
        order_by=(),
        limit=None,
        offset=0,
    )


def in_gateway(adapter: SourceAdapter, plan: AggregatePlan, max_rows: int) -> pa.Table:
    """Group what ``adapter.execute`` reads (HTTP sources). A read that reaches the
    adapter's ``max_rows`` may have been cut, and a grouping of a cut read would be
    wrong: refused, never answered."""
    check_aggregate_plan(plan)
    seen = 0

    def counted(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        nonlocal seen
        for batch in batches:
            seen += batch.num_rows
            if seen >= max_rows:
                raise TooLarge(
                    f"the source holds {max_rows} or more rows in your jurisdiction: too "
                    "many to group in the gateway"
                )
            yield batch

    return group_batches(plan, counted(adapter.execute(rows_plan(plan))))
