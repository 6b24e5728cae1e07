"""A checked plan → one parameterised SQLAlchemy Core ``SELECT``.

Identifiers come only from ``plan.known_columns`` and the plan's object name, always
quoted (``quoted_name(..., quote=True)``) so the dialect escapes them; every value is a
bound parameter (``in`` expands to one bind per value, ``between`` two binds, ``prefix``
``LIKE :p || '%'`` with ``autoescape`` so ``%`` and ``_`` in a value are literal).
Nothing from a request is ever formatted into SQL text.

On MySQL/MariaDB ``LIKE`` follows the column's collation, usually case-insensitive, and
on SQLite it ignores ASCII case; the prefix filters (and the policy's row filter, a
security control) compare ``BINARY`` on MySQL and ``substr(col, 1, n) = :p`` on SQLite
instead, so that a prefix means the same, case-sensitively, on every source.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement, quoted_name

from adapters.plan import CheckedFilter, CheckedPlan

SA_TYPES: dict[str, Callable[[], sa.types.TypeEngine[Any]]] = {
    "string": sa.String,
    "int64": sa.BigInteger,
    "float64": sa.Float,
    "decimal": lambda: sa.Numeric(asdecimal=False),
    "bool": sa.Boolean,
    "date": sa.Date,
    "timestamp": sa.DateTime,
}

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def table_clause(checked: CheckedPlan, schema: str | None) -> sa.TableClause:
    """A lightweight table built from the catalog's columns only (no reflection)."""
    cols = [
        sa.column(quoted_name(c.name, quote=True), SA_TYPES[c.type]())
        for c in checked.plan.known_columns
    ]
    return sa.table(
        quoted_name(checked.plan.object_name, quote=True),
        *cols,
        schema=quoted_name(schema, quote=True) if schema else None,
    )


def _prefix(col: ColumnElement[Any], value: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "sqlite":  # LIKE is case-insensitive there, whatever the collation
        return sa.func.substr(col, 1, len(value)) == value
    target = sa.func.binary(col) if dialect in {"mysql", "mariadb"} else col
    return target.startswith(value, autoescape=True)


def _filter(table: sa.TableClause, flt: CheckedFilter, dialect: str) -> ColumnElement[bool]:
    col = table.c[flt.column.name]
    if flt.op in _COMPARE:
        result: ColumnElement[bool] = _COMPARE[flt.op](col, flt.value)
        return result
    if flt.op == "in":
        return col.in_(list(flt.value)) if flt.value else sa.false()
    if flt.op == "between":
        return col.between(flt.value[0], flt.value[1])
    if flt.op == "prefix":
        return _prefix(col, flt.value, dialect)
    if flt.op == "is_null":
        return col.is_(None) if flt.value else col.is_not(None)
    raise ValueError(f"unhandled operator {flt.op!r}")  # check_plan refuses unknown ops


def _output(table: sa.TableClause, name: str, logical: str, dialect: sa.Dialect) -> Any:
    """The projected column; ``decimal`` is cast to DOUBLE by the database, which is
    much cheaper than converting ``Decimal`` objects one by one in Python."""
    col = table.c[name]
    if logical == "decimal" and getattr(dialect, "_support_float_cast", True):
        return sa.cast(col, sa.Double()).label(quoted_name(name, quote=True))
    return col


def build_select(
    checked: CheckedPlan, *, schema: str | None, dialect: sa.Dialect
) -> sa.Select[Any]:
    """The statement for ``checked``: projection, filters, row filter, order, limit."""
    plan = checked.plan
    table = table_clause(checked, schema)
    stmt = sa.select(*[_output(table, c.name, c.type, dialect) for c in plan.columns])
    conditions = [_filter(table, f, dialect.name) for f in checked.filters]
    if plan.row_filter is not None:
        col = table.c[plan.row_filter.field]
        prefixes = [_prefix(col, p, dialect.name) for p in plan.row_filter.prefixes]
        conditions.append(functools.reduce(operator.or_, prefixes) if prefixes else sa.false())
    if conditions:
        stmt = stmt.where(sa.and_(*conditions))
    for order in plan.order_by:
        col = table.c[order.field]
        stmt = stmt.order_by(col.desc() if order.descending else col.asc())
    stmt = stmt.limit(checked.limit)
    if checked.offset:
        stmt = stmt.offset(checked.offset)
    return stmt
