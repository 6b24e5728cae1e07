"""Checked filters → ``pyarrow.compute`` expressions, for sources filtered on the Arrow side.

Used by the files adapter (pushed into ``pyarrow.dataset`` scans, where Parquet row-group
statistics prune reads) and by the HTTP adapter (applied after fetch). Semantics match
the SQL adapter: comparisons with null are false, ``prefix`` is case-sensitive, an empty
``in`` list or an empty row-filter prefix list matches nothing.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from adapters.arrow_types import arrow_type
from adapters.base import RowFilter
from adapters.plan import COMPARE, CheckedFilter, CheckedPlan


def _scalar(flt: CheckedFilter, value: Any) -> pa.Scalar:
    return pa.scalar(value, type=arrow_type(flt.column.type))


def filter_expression(flt: CheckedFilter) -> pc.Expression:
    field = pc.field(flt.column.name)
    if flt.op in COMPARE:
        return COMPARE[flt.op](field, _scalar(flt, flt.value))
    if flt.op == "in":
        if not flt.value:
            return pc.scalar(False)
        values = pa.array(list(flt.value), type=arrow_type(flt.column.type))
        return field.isin(values)
    if flt.op == "between":
        low, high = flt.value
        return (field >= _scalar(flt, low)) & (field <= _scalar(flt, high))
    if flt.op == "prefix":
        return pc.starts_with(field, pattern=flt.value)
    if flt.op == "is_null":
        return field.is_null() if flt.value else field.is_valid()
    raise ValueError(f"unhandled operator {flt.op!r}")  # check_plan refuses unknown ops


def row_filter_expression(row_filter: RowFilter) -> pc.Expression:
    """OR of ``starts_with`` over the prefixes; no prefix at all means no row."""
    if not row_filter.prefixes:
        return pc.scalar(False)
    field = pc.field(row_filter.field)
    terms = [pc.starts_with(field, pattern=prefix) for prefix in row_filter.prefixes]
    return functools.reduce(operator.or_, terms)


def plan_expression(checked: CheckedPlan) -> pc.Expression | None:
    """AND of every filter and of the row filter; ``None`` when there is nothing to filter."""
    terms = [filter_expression(f) for f in checked.filters]
    if checked.plan.row_filter is not None:
        terms.append(row_filter_expression(checked.plan.row_filter))
    if not terms:
        return None
    return functools.reduce(operator.and_, terms)


def needed_columns(checked: CheckedPlan) -> list[str]:
    """Projection plus every field a filter or order needs, in a stable order."""
    names: list[str] = [c.name for c in checked.plan.columns]
    extra = [f.column.name for f in checked.filters] + [o.field for o in checked.plan.order_by]
    if checked.plan.row_filter is not None:
        extra.append(checked.plan.row_filter.field)
    for name in extra:
        if name not in names:
            names.append(name)
    return names
