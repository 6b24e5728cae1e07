"""Aggregate queries (issue 16): the request's shape, the plan, and small-count
suppression of what the source grouped.

An aggregate query asks ``"group_by": ["village_code"], "aggregates": [{"fn": "count",
"as": "n"}, {"fn": "sum", "field": "monthly_amount", "as": "total"}]``; each row of the
answer carries the group fields, the aliases and ``_suppressed``: the aliases whose
cells were withheld (every alias of a suppressed group; ``[]`` otherwise).

What is withheld, and why it holds against differencing:

1. **Primary**: every group with fewer rows than the policy's ``min_group_size`` (per
   level, from the decision) has all its cells null and flagged — never dropped, the
   group's key stays.
2. **Secondary**, so that a coarser total cannot give a withheld cell back: for every
   coarsening of the grouping (each proper subset of the group fields, down to none —
   the grand total another query can ask), the groups sharing its values are a *part*;
   a part holds no withheld group, or at least two whose rows add up to more than their
   number (several withheld groups of one row each would be pinned by their total).
   Groups are added smallest first until that holds, preferring ones that no coarser
   grouping shows on their own. No total is ever returned. A part where it cannot hold
   — every group of it withheld and each of one row, at least ``min_group_size`` of
   them, so that their total may well be published by the coarser answer — refuses the
   whole answer (403, ``withheld_groups_pinned``): the groups are listed by design, and
   a total equal to their number would tell each one's size.
3. **Aggregates over a field not grouped on** (red team 5): ``sum``/``avg``/
   ``count(v)``/``count_distinct``/``min``/``max`` of a field ``v`` outside the group
   fields is withheld in every group whose breakdown by ``v`` (the grouping plus ``v``,
   nulls a group, suppressed by 1 and 2) withholds a group, everywhere if that
   breakdown is refused: otherwise a coarse ``sum(v)`` next to the answer split on
   ``v`` solves two withheld counts. The source is asked one grouping, the group fields
   and every aggregated field, rows only (``joint_plan``); ``aggregate_breakdown``
   computes the coarse groups, their aggregates and the breakdowns from it.
4. **Filters cannot difference**: an aggregate query may filter on its group fields
   only (``check_request``; anything else is refused, 400), so a filter keeps or drops
   whole groups. The source groups every row the policy's row filter leaves, without
   the caller's filters; suppression is decided over that whole grouping, and only then
   are the caller's filters, order, offset and limit applied to the groups. A group
   therefore has the same cells and the same suppression in every answer, whatever the
   filter: asking the same groups with different filters subtracts nothing.

What this does not claim: combining three or more answers over *different* groupings
(the statistical "linked tables" problem) can still narrow a cell in corner cases; the
per-level threshold, the secondary suppression over every coarsening and the audit
record of every aggregate query (its groups and suppressed counts) are the controls.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adapters.aggregate import Aggregate, AggregatePlan, check_function, output_type
from adapters.arrow_filters import plan_expression
from adapters.arrow_types import arrow_type
from adapters.base import AdapterLimits, Column, Filter, QueryPlan, RowFilter
from adapters.plan import check_plan
from catalog.errors import BadRequest, Forbidden
from catalog.reserved_names import SUPPRESSED as SUPPRESSED
from gateway.enforcement.query.aggregate_breakdown import coarse
from gateway.enforcement.query.entries import Entry
from gateway.enforcement.query.schemas import QueryBody
from policies.decision import Decision

MAX_GROUP_FIELDS = 4  # 15 coarsenings to keep consistent; more is refused
MAX_GROUPS = 100_000  # groups read from the source for one answer; more is refused
# formats that carry ``_suppressed`` as a list; the others get the aliases as text
LIST_FORMATS = frozenset({"json", "ndjson", "arrow", "parquet"})
TEXT_SEPARATOR = ";"


# -- the request ----------------------------------------------------------------------


def aliases(body: QueryBody) -> list[str]:
    return [a.as_ for a in body.aggregates]


def check_request(body: QueryBody, entry: Entry) -> None:
    """The shape of an aggregate query (400s); names are known (``check_names``)."""
    if not body.aggregates:
        if body.group_by:
            raise BadRequest(
                'group_by needs aggregates: e.g. "aggregates": [{"fn": "count", "as": "n"}]',
                field="aggregates",
            )
        return
    if body.fields:
        raise BadRequest(
            "an aggregate query names its columns in group_by and aggregates; leave fields empty",
            field="fields",
        )
    group = body.group_by
    if len(group) > MAX_GROUP_FIELDS:
        raise BadRequest(
            f"an aggregate query groups on at most {MAX_GROUP_FIELDS} fields", field="group_by"
        )
    if len(set(group)) != len(group):
        raise BadRequest("a field is named twice in group_by", field="group_by")
    if SUPPRESSED in group:  # the answer's own column: two of one name were a 500
        raise BadRequest(
            f"field {SUPPRESSED!r} has the name of the answer's own column and cannot be "
            "grouped on: its steward must rename the source's column", field="group_by",
        )  # fmt: skip
    names = aliases(body)
    if len(set(names)) != len(names):
        raise BadRequest("an alias ('as') is given twice", field="aggregates")
    clash = sorted(set(names) & {*group, SUPPRESSED})
    if clash:
        raise BadRequest(
            f"alias {clash[0]!r} is also a group field or reserved", field="aggregates"
        )
    types = {f.name: f.type for f in entry.fields}
    for agg in body.aggregates:
        column = Column(agg.field, types[agg.field]) if agg.field is not None else None
        check_function(agg.fn, column)
    outside = sorted({w.field for w in body.where} - set(group))
    if outside:
        raise BadRequest(
            f"an aggregate query filters on its group fields only ({', '.join(outside)} is "
            "not one): a filter on another field would split groups, and two answers "
            "could then be subtracted to reveal a suppressed one. Group on the field too, "
            "and filter on it",
            field="where",
        )
    sortable = {*group, *names}
    unsortable = sorted({o.field for o in body.orders()} - sortable)
    if unsortable:
        raise BadRequest(
            f"an aggregate query sorts on its group fields or aliases only "
            f"({', '.join(unsortable)} is neither)",
            field="order_by",
        )


def function_text(fn: str, field: str | None) -> str:
    """``count(*)``, ``sum(monthly_amount)``: how the header and the trail name it."""
    return f"{fn}({field if field is not None else '*'})"


# -- the plan -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Output:
    """One aggregate of the answer: its alias, function and field (None: rows)."""

    alias: str
    fn: str
    field: str | None


@dataclass(frozen=True, slots=True)
class AggregateExec:
    """What the run does with an aggregate query: the source's grouping, then
    suppression, the caller's filters on groups, order, offset (the limit is the
    plan's, so the quota reservation cuts it like any query's)."""

    source: AggregatePlan  # the joint grouping: G and every field aggregated (rows only)
    group_by: tuple[Column, ...]
    outputs: tuple[Output, ...]
    aggregates: tuple[Aggregate, ...]  # the outputs' functions, computed in the gateway
    breakdowns: tuple[str, ...]  # fields aggregated, not grouped on: one breakdown each
    min_group_size: int
    filters: tuple[Filter, ...]
    order: tuple[tuple[str, bool], ...]  # (group field or alias, descending)
    offset: int

    def output_schema(self) -> pa.Schema:
        fields = [pa.field(c.name, arrow_type(c.type)) for c in self.group_by]
        fields += [
            pa.field(o.alias, arrow_type(output_type(a)))
            for o, a in zip(self.outputs, self.aggregates, strict=True)
        ]
        fields.append(pa.field(SUPPRESSED, pa.list_(pa.string())))
        return pa.schema(fields)


def plan_aggregate(
    body: QueryBody,
    entry: Entry,
    decision: Decision,
    pushed: Sequence[Filter],
    row_filter: RowFilter | None,
    batch_size: int,
) -> AggregateExec:
    """The aggregate plan of an allowed decision. Defence in depth behind the policy:
    group fields must be released in clear, and every aggregate allowed by the
    decision's ``aggregates`` section (a decision without one refuses)."""
    rules = decision.aggregates
    if rules is None:
        raise Forbidden("the policy gave no rules for aggregates: refused")
    actions = {n: fa.action for n, fa in decision.fields.items()}
    for name in body.group_by:
        if actions.get(name) != "allow":
            raise Forbidden(f"grouping on {name!r} is refused")
    for agg in body.aggregates:
        if agg.field is not None and not rules.allows(agg.field, agg.fn):
            raise Forbidden(f"{agg.fn} of {agg.field!r} is refused")
    types = {f.name: Column(f.name, f.type) for f in entry.fields}
    known = tuple(Column(f.name, f.type) for f in entry.fields)
    group = tuple(types[n] for n in body.group_by)
    aggregates = tuple(
        Aggregate(a.fn, types[a.field] if a.field is not None else None) for a in body.aggregates
    )
    rows = QueryPlan(
        object_name=entry.object_name,
        columns=group or known[:1],
        known_columns=known,
        row_filter=row_filter,
        batch_size=batch_size,
    )
    source, split = joint_plan(rows, group, aggregates)
    return AggregateExec(
        source=source,
        group_by=group,
        outputs=tuple(Output(a.as_, a.fn, a.field) for a in body.aggregates),
        aggregates=aggregates,
        breakdowns=split,
        min_group_size=rules.min_group_size,
        filters=tuple(pushed),
        order=tuple((o.field, o.desc) for o in body.orders()),
        offset=body.offset,
    )


def joint_plan(
    rows: QueryPlan, group: tuple[Column, ...], aggregates: tuple[Aggregate, ...]
) -> tuple[AggregatePlan, tuple[str, ...]]:
    """What the source is asked: the grouping on the group fields and every field
    aggregated but not grouped on (the breakdown fields, returned too), rows only; the
    coarse groups and their aggregates are computed from it (``aggregate_breakdown``)."""
    grouped = {c.name for c in group}
    split: dict[str, Column] = {}
    for agg in aggregates:
        if agg.column is not None and agg.column.name not in grouped:
            split.setdefault(agg.column.name, agg.column)
    joint = (*group, *split.values())
    plan = AggregatePlan(
        rows=replace(rows, columns=joint or rows.known_columns[:1]),
        group_by=joint,
        aggregates=(Aggregate("count"),),
        max_groups=MAX_GROUPS,
    )
    return plan, tuple(split)


# -- suppression ----------------------------------------------------------------------


def _codes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Each group's value of one key as an integer code (null is a value of its own)."""
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks != 1 else encoded.chunk(0)
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def _parts(codes: list[np.ndarray], n: int) -> list[np.ndarray]:
    """For every proper subset of the keys (down to none), each group's part id."""
    parts = []
    for size in range(len(codes)):
        for subset in itertools.combinations(range(len(codes)), size):
            if not subset:
                parts.append(np.zeros(n, dtype=np.int64))
                continue
            stacked = np.stack([codes[i] for i in subset], axis=1)
            _, inverse = np.unique(stacked, axis=0, return_inverse=True)
            parts.append(np.asarray(inverse, dtype=np.int64).reshape(-1))
    return parts


def suppression(
    keys: Sequence[pa.ChunkedArray | pa.Array], rows: np.ndarray, min_group_size: int
) -> np.ndarray:
    """Which groups to withhold (see the module doc): every group under the threshold,
    then, in every coarsening, more groups until each part holds none or at least two
    whose rows exceed their number. Deterministic: smallest first, then first."""
    rows = np.asarray(rows, dtype=np.int64)
    n = len(rows)
    withheld = rows < min_group_size
    if n == 0 or not withheld.any():
        return withheld
    parts = _parts([_codes(k) for k in keys], n)
    # a group alone in a part of some coarsening is shown on its own by that coarser
    # answer: a poor second choice (its value would be known from there)
    alone = np.zeros(n, dtype=bool)
    for pid in parts:
        alone |= np.bincount(pid)[pid] == 1
    index = np.arange(n)
    changed = True
    while changed:
        changed = False
        for pid in parts:
            count = np.bincount(pid, weights=withheld)
            total = np.bincount(pid, weights=withheld * rows)
            bad = (count == 1) | ((count >= 2) & (total <= count))
            if not bad.any():
                continue
            candidates = np.flatnonzero(~withheld & bad[pid])
            if candidates.size == 0:
                continue  # the part is withheld whole already
            order = np.lexsort(
                (index[candidates], rows[candidates], alone[candidates], pid[candidates])
            )
            ranked = candidates[order]
            firsts = ranked[np.r_[True, pid[ranked][1:] != pid[ranked][:-1]]]
            withheld[firsts] = True
            changed = True
    if any(_pinned(pid, withheld, rows, min_group_size) for pid in parts):
        raise Forbidden(
            "this grouping is refused: some of its groups hold one row each, all withheld, "
            "and a coarser grouping's total would tell each one's size; group on fewer "
            "fields",
            problem="withheld_groups_pinned",
        )
    return withheld


def _pinned(pid: np.ndarray, withheld: np.ndarray, rows: np.ndarray, size: int) -> bool:
    """A part that could not be fixed: every group of it withheld, each of one row, and
    enough of them (``size``) that the part's total is itself published elsewhere."""
    groups = np.bincount(pid)
    count = np.bincount(pid, weights=withheld)
    total = np.bincount(pid, weights=withheld * rows)
    return bool(((count == groups) & (count >= 2) & (total == count) & (count >= size)).any())


# -- the answer -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """The groups to send, and what the trail and the trailer say of them."""

    table: pa.Table
    groups: int  # groups sent
    suppressed: int  # of which withheld
    groups_read: int  # groups the source returned (the whole grouping)
    truncated: bool


def answer(grouped: pa.Table, plan: AggregateExec, limit: int) -> Answer:
    """From the source's joint grouping to the groups sent (see the module doc and
    ``aggregate_breakdown``)."""
    names = [c.name for c in plan.group_by]
    groups = coarse(
        grouped, names, plan.breakdowns, plan.aggregates, plan.min_group_size, suppression
    )
    withheld = suppression(groups.keys, groups.rows, plan.min_group_size)
    columns: list[pa.Array | pa.ChunkedArray] = list(groups.keys)
    flags: list[np.ndarray] = []
    for output, values in zip(plan.outputs, groups.values, strict=True):
        hide = withheld.copy()
        if output.field is not None and output.field in groups.hidden:
            hide |= groups.hidden[output.field]
        flags.append(hide)
        columns.append(pc.if_else(pa.array(hide, pa.bool_()), pa.scalar(None, values.type), values))
    names_ = [o.alias for o in plan.outputs]
    by_row = np.stack(flags, axis=1) if flags else np.zeros((len(withheld), 0), bool)
    columns.append(
        pa.array(
            [[a for a, h in zip(names_, row, strict=True) if h] for row in by_row.tolist()],
            pa.list_(pa.string()),
        )
    )
    table = pa.Table.from_arrays(columns, schema=plan.output_schema())
    table = _filtered(table, plan)
    table = _ordered(table, plan)
    kept = table.slice(plan.offset) if plan.offset else table
    truncated = kept.num_rows > limit
    kept = kept.slice(0, limit)
    suppressed = int(
        pc.sum(
            pc.list_value_length(kept.column(SUPPRESSED)).cast(pa.bool_()).cast(pa.int64())
        ).as_py()
        or 0
    )
    return Answer(kept, kept.num_rows, suppressed, len(groups.rows), truncated)


def _filtered(table: pa.Table, plan: AggregateExec) -> pa.Table:
    """The caller's filters (on group fields: whole groups), as the adapters apply them
    (``adapters.arrow_filters``, checked by ``adapters.plan.check_plan``)."""
    if not plan.filters:
        return table
    group = plan.group_by
    checked = check_plan(
        QueryPlan(object_name="groups", columns=group, known_columns=group, filters=plan.filters),
        AdapterLimits(),
    )
    expression = plan_expression(checked)
    return table.filter(expression) if expression is not None else table


def _ordered(table: pa.Table, plan: AggregateExec) -> pa.Table:
    """The caller's order, then every group field ascending (a stable answer)."""
    keys = [(name, "descending" if desc else "ascending", "at_end") for name, desc in plan.order]
    named = {key[0] for key in keys}
    keys += [(c.name, "ascending", "at_end") for c in plan.group_by if c.name not in named]
    if not keys or table.num_rows < 2:
        return table
    return table.sort_by(keys)


def as_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``_suppressed`` as ``n;total`` text, for formats without lists (CSV, xlsx)."""
    index = batch.schema.get_field_index(SUPPRESSED)
    if index < 0:
        return batch
    text = pc.binary_join(batch.column(index), TEXT_SEPARATOR)
    return batch.set_column(index, pa.field(SUPPRESSED, pa.string()), text)


def for_format_schema(schema: pa.Schema, fmt: str) -> pa.Schema:
    """The answer's schema as ``fmt`` carries it (see ``for_format``)."""
    index = schema.get_field_index(SUPPRESSED)
    if fmt in LIST_FORMATS or index < 0:
        return schema
    return schema.set(index, pa.field(SUPPRESSED, pa.string()))


def for_format(batches: Iterator[pa.RecordBatch], fmt: str) -> Iterator[pa.RecordBatch]:
    """An aggregate answer's batches as ``fmt`` carries them: ``_suppressed`` a list in
    JSON, NDJSON, Arrow and Parquet, ``n;total`` text in the others (CSV, xlsx)."""
    try:
        for batch in batches:
            yield batch if fmt in LIST_FORMATS else as_text(batch)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def batches(result: Answer, size: int) -> Iterator[pa.RecordBatch]:
    yield from result.table.to_batches(max_chunksize=size)
