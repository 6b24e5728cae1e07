"""Checks every adapter runs on a ``QueryPlan`` before touching its source.

The broker builds plans from the catalog, but the adapter is the last line before the
source system, so it re-checks: every name (projection, filter, order, row filter) must
be one of ``plan.known_columns``, every operator one of ``FILTER_OPS``, every value of a
shape the operator accepts and coercible to the field's logical type. Values are
returned coerced so each backend can bind or compare them without guessing.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.base import FILTER_OPS, AdapterLimits, Column, Filter, QueryPlan
from catalog.errors import BadRequest
from catalog.vocabulary import FIELD_TYPES

MAX_IN_VALUES = 10_000
# the plain comparisons, as Python operators: Arrow expressions and SQLAlchemy columns
# both overload them, so each backend applies the same table to its own column type
COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class CheckedFilter:
    """A filter whose field is known and whose value is coerced to the field's type."""

    column: Column
    op: str
    value: Any


@dataclass(frozen=True)
class CheckedPlan:
    """A plan that passed every check, with the effective limit already bounded."""

    plan: QueryPlan
    by_name: dict[str, Column]
    filters: tuple[CheckedFilter, ...]
    limit: int
    offset: int


def check_plan(plan: QueryPlan, limits: AdapterLimits) -> CheckedPlan:
    """Validate names, operators and values; bound the limit by ``limits.max_rows``."""
    by_name = {c.name: c for c in plan.known_columns}
    for col in plan.known_columns:
        if col.type not in FIELD_TYPES:
            raise BadRequest(f"field {col.name!r} has unknown type {col.type!r}")
    if not plan.columns:
        raise BadRequest("the query selects no field")
    for col in plan.columns:
        _known(by_name, col.name)
    for order in plan.order_by:
        _known(by_name, order.field)
    if plan.row_filter is not None:
        rf_col = _known(by_name, plan.row_filter.field)
        if rf_col.type != "string":
            raise BadRequest(f"row filter field {rf_col.name!r} must be a string field")
        for prefix in plan.row_filter.prefixes:
            if not isinstance(prefix, str):
                raise BadRequest("row filter prefixes must be strings")
    checked = tuple(_check_filter(by_name, f) for f in plan.filters)
    if plan.limit is not None and (not isinstance(plan.limit, int) or plan.limit < 0):
        raise BadRequest("limit must be a non-negative integer")
    if not isinstance(plan.offset, int) or plan.offset < 0:
        raise BadRequest("offset must be a non-negative integer")
    if not isinstance(plan.batch_size, int) or plan.batch_size < 1:
        raise BadRequest("batch_size must be a positive integer")
    limit = limits.max_rows if plan.limit is None else min(plan.limit, limits.max_rows)
    return CheckedPlan(plan, by_name, checked, limit, plan.offset)


def _known(by_name: dict[str, Column], name: object) -> Column:
    if not isinstance(name, str) or name not in by_name:
        raise BadRequest(f"unknown field {name!r}: not in the catalog entry")
    return by_name[name]


def _check_filter(by_name: dict[str, Column], flt: Filter) -> CheckedFilter:
    col = _known(by_name, flt.field)
    op, value = flt.op, flt.value
    if op not in FILTER_OPS:
        raise BadRequest(f"unknown filter operator {op!r}")
    if op == "is_null":
        if not isinstance(value, bool):
            raise BadRequest(f"is_null on {col.name!r} takes true or false")
        return CheckedFilter(col, op, value)
    if op == "in":
        if not isinstance(value, list | tuple | set | frozenset):
            raise BadRequest(f"'in' on {col.name!r} takes a list")
        if len(value) > MAX_IN_VALUES:
            raise BadRequest(f"'in' takes at most {MAX_IN_VALUES} values")
        return CheckedFilter(col, op, tuple(coerce(col, v) for v in value))
    if op == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise BadRequest(f"'between' on {col.name!r} takes a pair [low, high]")
        return CheckedFilter(col, op, (coerce(col, value[0]), coerce(col, value[1])))
    if op == "prefix":
        if col.type != "string":
            raise BadRequest(f"'prefix' needs a string field; {col.name!r} is {col.type}")
        if not isinstance(value, str):
            raise BadRequest(f"'prefix' on {col.name!r} takes a string")
        return CheckedFilter(col, op, value)
    return CheckedFilter(col, op, coerce(col, value))


def coerce(col: Column, value: Any) -> Any:
    """Convert a request value (often JSON: str, int, float, bool) to ``col``'s type."""
    if value is None:
        raise BadRequest(f"null is not a value for {col.name!r}; use is_null")
    try:
        return _COERCE[col.type](value)
    except (ValueError, TypeError, InvalidOperation, OverflowError):
        raise BadRequest(
            f"value {_short(value)} is not a valid {col.type} for {col.name!r}"
        ) from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float | Decimal):
        return str(value)
    raise TypeError


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        number = int(value.strip())
    else:
        raise TypeError
    if not INT64_MIN <= number <= INT64_MAX:  # drivers raise OverflowError past this
        raise OverflowError
    return number


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int | float | Decimal | str):
        result = float(value)
        if math.isnan(result):
            raise ValueError
        return result
    raise TypeError


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise TypeError


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise TypeError
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    raise TypeError


def _to_timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    raise TypeError


_COERCE = {
    "string": _to_string,
    "int64": _to_int,
    "float64": _to_float,
    "decimal": _to_float,
    "bool": _to_bool,
    "date": _to_date,
    "timestamp": _to_timestamp,
}
