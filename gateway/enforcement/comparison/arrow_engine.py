"""The embedded engine: the sides joined in this process with Arrow's hash joins.

Chosen by ``bench/comparison_engines.py`` (Arrow, DuckDB and Polars each joining
1,000,000 × 1,000,000 rows, against the same join in PostgreSQL): see
``bench/README.md`` for the figures. Arrow needs no new dependency, joins the broker's
batches without a copy into another engine's format, and its expressions are built
from the model's typed tree (``expressions``), never from text.

Order of work, for each model: every side's own conditions filter it first; then the
joins in model order, each followed by the conditions whose sides are all present
(an anti join evaluates the conditions that read its side *inside* the match: a row
is kept when no row of that side matches on the key and satisfies them). Before each
join the number of pairs it makes is counted per key; past ``max_pairs`` the run is
refused rather than left to exhaust memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from catalog.errors import TooLarge, Unprocessable
from gateway.enforcement.comparison.engine import CancelToken, Hits, Progress
from gateway.enforcement.comparison.expressions import Apply, Lit, Ref, Typed
from gateway.enforcement.comparison.spec import KEY_COLUMN, CompiledJoin, CompiledModel
from gateway.enforcement.query.subjects import SUBJECT_COLUMN

ROW = "__row"
DEFAULT_MAX_PAIRS = 50_000_000
_EPOCH = date(1970, 1, 1)
_COMPARE = {"=": "equal", "!=": "not_equal", "<": "less", "<=": "less_equal",
            ">": "greater", ">=": "greater_equal"}  # fmt: skip


class ArrowEngine:
    """``ComparisonEngine`` on pyarrow (``pyarrow.Table.join`` and compute expressions)."""

    name = "embedded"

    def __init__(self, *, max_pairs: int = DEFAULT_MAX_PAIRS) -> None:
        self.max_pairs = max_pairs

    def run(
        self,
        model: CompiledModel,
        sides: Mapping[str, pa.RecordBatchReader],
        *,
        limit: int,
        cancel: CancelToken,
        progress: Progress,
    ) -> Hits:
        tables = {s.alias: _prepared(s.alias, sides[s.alias].read_all(),
                                     model.side_conditions.get(s.alias, ()))
                  for s in model.sides}  # fmt: skip
        cancel.check()
        current = tables[model.base]
        steps = len(model.joins)
        for i, join in enumerate(model.joins):
            current = self._join(current, tables[join.right], join)
            cancel.check()
            progress((i + 1) / (steps + 1))
        keep = [f"{model.base}.{model.side(model.base).key}", *model.output_columns[1:]]
        subjects = [
            f"{s.alias}.{SUBJECT_COLUMN}"
            for s in model.sides
            if not s.anti and f"{s.alias}.{SUBJECT_COLUMN}" in current.column_names
        ]
        hits = current.select([*keep, *subjects]).rename_columns(
            [KEY_COLUMN, *keep[1:], *subjects]
        )  # fmt: skip
        order = [(name, "ascending") for name in model.output_columns]
        hits = hits.sort_by(order).combine_chunks()
        progress(1.0)
        truncated = hits.num_rows > limit
        return Hits(hits.slice(0, limit) if truncated else hits, truncated)

    def _join(self, current: pa.Table, right: pa.Table, join: CompiledJoin) -> pa.Table:
        left_key, right_key = f"{join.left}.{join.left_key}", f"{join.right}.{join.right_key}"
        self._guard(current, left_key, right, right_key, join)
        if join.kind == "inner":
            joined = current.join(right, keys=left_key, right_keys=right_key, join_type="inner",
                                  use_threads=True)  # fmt: skip
            # the join keeps one key column; the right side's key is the same token
            joined = joined.append_column(right_key, joined.column(left_key))
            return _filter(joined, join.conditions)
        if not join.conditions:
            return current.join(right, keys=left_key, right_keys=right_key,
                                join_type="left anti")  # fmt: skip
        numbered = current.append_column(ROW, pa.array(range(current.num_rows), pa.int64()))
        pairs = numbered.join(right, keys=left_key, right_keys=right_key, join_type="inner")
        matched = pc.unique(_filter(pairs, join.conditions).column(ROW))
        kept = numbered.filter(pc.invert(pc.is_in(numbered.column(ROW), value_set=matched)))
        return kept.drop_columns([ROW])

    def _guard(
        self, left: pa.Table, left_key: str, right: pa.Table, right_key: str, join: CompiledJoin
    ) -> None:
        """Refuse a join that would make more than ``max_pairs`` pairs (a key shared by
        many rows on both sides multiplies)."""
        counts = [
            t.group_by(k).aggregate([(k, "count")]).rename_columns(["k", f"n{i}"])
            for i, (t, k) in enumerate(((left, left_key), (right, right_key)))
        ]
        per_key = counts[0].join(counts[1], keys="k", join_type="inner")
        pairs = pc.sum(pc.multiply(per_key.column("n0").cast(pa.int64()),
                                   per_key.column("n1").cast(pa.int64()))).as_py() or 0  # fmt: skip
        if pairs > self.max_pairs:
            raise TooLarge(
                f"joining {join.left!r} and {join.right!r} makes {pairs:,} pairs, more than "
                f"{self.max_pairs:,}: narrow the sides with 'where' or a condition"
            )


def _prepared(alias: str, table: pa.Table, conditions: Sequence[Typed]) -> pa.Table:
    """A side's columns named ``<alias>.<field>``, its key as text, its own conditions
    applied."""
    table = table.rename_columns([f"{alias}.{n}" for n in table.column_names])
    return _filter(table, conditions)


def _filter(table: pa.Table, conditions: Sequence[Typed]) -> pa.Table:
    """Rows where every condition is true (null — an unknown — is not true)."""
    for cond in conditions:
        try:
            table = table.filter(expression(cond))
        except pa.ArrowInvalid as exc:  # an overflow in the model's arithmetic, say
            raise Unprocessable(f"a condition could not be evaluated: {exc}") from None
    return table


def expression(node: Typed) -> pc.Expression:
    """The Arrow compute expression of a typed node (dates as days since 1970)."""
    if isinstance(node, Ref):
        ref = pc.field(node.column)
        if node.type == "date":
            return ref.cast(pa.date32(), safe=False).cast(pa.int32())
        return ref
    if isinstance(node, Lit):
        return pc.scalar(_literal(node))
    return _apply(node)


def _literal(node: Lit) -> object:
    if isinstance(node.value, date):
        return (node.value - _EPOCH).days
    return node.value


def _apply(node: Apply) -> pc.Expression:
    args = [expression(a) for a in node.args]
    op = node.op
    if op == "/":
        return pc.Expression._call("divide", [a.cast(pa.float64()) for a in args])
    if op in ("+", "-", "*"):
        name = {"+": "add_checked", "-": "subtract_checked", "*": "multiply_checked"}[op]
        return pc.Expression._call(name, args)
    if op in _COMPARE:
        return pc.Expression._call(_COMPARE[op], args)
    if op == "in":
        kind = pa.int32() if node.args[0].type == "date" else None
        return args[0].isin(pa.array([_literal(v) for v in node.values], kind))
    if op == "is_null":
        return args[0].is_null()
    if op == "not_null":
        return args[0].is_valid()
    if op == "not":
        return ~args[0]
    combined = args[0]
    for arg in args[1:]:
        combined = (combined & arg) if op == "and" else (combined | arg)
    return combined
