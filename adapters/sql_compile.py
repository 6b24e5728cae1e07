"""A checked plan → one parameterised ``SELECT``, compiled once per plan *shape*.

Identifiers come only from ``plan.known_columns`` and the plan's object name, always
quoted (``quoted_name(..., quote=True)``) so the dialect escapes them; every value is a
bound parameter. Nothing from a request is ever formatted into SQL text.

Shapes and values are kept apart. ``bind_plan`` walks a checked plan once and returns
its *shape* (everything that changes the SQL text: object, projection, each filter's
field, type, operator and arity — ``in`` list length, ``is_null`` polarity — the row
filter's field and number of prefixes, the order, whether there is an offset) and its
*values*, keyed by bind names this module owns (``f0``, ``f2_1``, ``r0``, ``lim`` …).
``build_select`` builds the statement for a shape with ``bindparam``s of exactly those
names and **no value**, so a compiled statement cached under a shape cannot carry a
value from the query that compiled it: each execution binds the dict ``bind_plan`` made
for it. ``compile_select`` checks the compiled bind names equal the value names, and
``Compiled.params`` checks it again on every execution.

Prefixes (``prefix`` filters and the policy's row filter): ``LIKE :p || '%' ESCAPE '/'``
with ``%``, ``_`` and ``/`` escaped in the bound value, so they are literal. On
MySQL/MariaDB ``LIKE`` follows the column's collation, usually case-insensitive, and
on SQLite it ignores ASCII case; the prefix filters (and the row filter, a security
control) compare ``BINARY`` on MySQL and ``substr(col, 1, :n) = :p`` on SQLite instead,
so that a prefix means the same, case-sensitively, on every source.
"""

from __future__ import annotations

import functools
import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import BindParameter, ColumnElement, quoted_name

from adapters.aggregate import ROWS, Aggregate, AggregatePlan, group_name, value_name
from adapters.base import Column
from adapters.plan import COMPARE, CheckedPlan

SA_TYPES: dict[str, Callable[[], sa.types.TypeEngine[Any]]] = {
    "string": sa.String,
    "int64": sa.BigInteger,
    "float64": sa.Float,
    "decimal": lambda: sa.Numeric(asdecimal=False),
    "bool": sa.Boolean,
    "date": sa.Date,
    "timestamp": sa.DateTime,
}

LIKE_ESCAPE = "/"
LIMIT, OFFSET = "lim", "off"


def escape_like(value: str) -> str:
    """``value`` with LIKE's wildcards and the escape character made literal."""
    return (
        value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


# -- shape and values ---------------------------------------------------------------


def bind_plan(checked: CheckedPlan, dialect_name: str) -> tuple[Hashable, dict[str, Any]]:
    """The shape key of ``checked`` and its values keyed by bind name (see module doc).

    The names here and in ``build_select`` follow the same rules: filter ``i`` binds
    ``f{i}`` (a comparison, a prefix), ``f{i}_{j}`` (the j-th ``in`` value, the two ends
    of ``between``) and ``f{i}_n`` (a prefix's length on SQLite); row-filter prefix
    ``k`` binds ``r{k}`` (and ``r{k}_n``); ``lim`` and ``off`` the limit and offset."""
    plan = checked.plan
    sqlite = dialect_name == "sqlite"
    values: dict[str, Any] = {}
    filters: list[Hashable] = []
    for i, flt in enumerate(checked.filters):
        name = f"f{i}"
        arity: Hashable = None
        if flt.op == "in":
            arity = len(flt.value)
            for j, value in enumerate(flt.value):
                values[f"{name}_{j}"] = value
        elif flt.op == "between":
            values[f"{name}_0"], values[f"{name}_1"] = flt.value
        elif flt.op == "prefix":
            _bind_prefix(values, name, flt.value, sqlite)
        elif flt.op == "is_null":
            arity = bool(flt.value)  # IS NULL / IS NOT NULL: two shapes, no bind
        else:
            values[name] = flt.value
        filters.append((flt.column, flt.op, arity))
    row_filter: Hashable = None
    if plan.row_filter is not None:
        prefixes = plan.row_filter.prefixes
        row_filter = (plan.row_filter.field, len(prefixes))
        for k, prefix in enumerate(prefixes):
            _bind_prefix(values, f"r{k}", prefix, sqlite)
    values[LIMIT] = checked.limit
    has_offset = bool(checked.offset) or sqlite  # SQLite's LIMIT always has an OFFSET
    if has_offset:
        values[OFFSET] = checked.offset
    shape = (
        plan.object_name,
        plan.columns,
        plan.known_columns,
        tuple(filters),
        row_filter,
        plan.order_by,
        has_offset,
    )
    return shape, values


def _bind_prefix(values: dict[str, Any], name: str, prefix: str, sqlite: bool) -> None:
    if sqlite:
        values[name] = prefix
        values[f"{name}_n"] = len(prefix)
    else:
        values[name] = escape_like(prefix)


# -- the statement of a shape -------------------------------------------------------


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


def _bind(name: str, column: Column | None = None) -> BindParameter[Any]:
    """A placeholder with no value: ``required``, so a missing value fails loudly."""
    type_ = SA_TYPES[column.type]() if column is not None else sa.BigInteger()
    return sa.bindparam(name, type_=type_, required=True)


def _prefix(col: ColumnElement[Any], name: str, column: Column, dialect: str) -> Any:
    if dialect == "sqlite":  # LIKE is case-insensitive there, whatever the collation
        start: Any = sa.literal_column("1")  # a constant in the text, not a bind
        return sa.func.substr(col, start, _bind(f"{name}_n")) == _bind(name, column)
    target = sa.func.binary(col) if dialect in {"mysql", "mariadb"} else col
    return target.startswith(_bind(name, column), escape=LIKE_ESCAPE)


def _filter(table: sa.TableClause, i: int, checked: CheckedPlan, dialect: str) -> Any:
    flt = checked.filters[i]
    col, name = table.c[flt.column.name], f"f{i}"
    if flt.op in COMPARE:
        return COMPARE[flt.op](col, _bind(name, flt.column))
    if flt.op == "in":
        binds = [_bind(f"{name}_{j}", flt.column) for j in range(len(flt.value))]
        return col.in_(binds) if binds else sa.false()
    if flt.op == "between":
        return col.between(_bind(f"{name}_0", flt.column), _bind(f"{name}_1", flt.column))
    if flt.op == "prefix":
        return _prefix(col, name, flt.column, dialect)
    if flt.op == "is_null":
        return col.is_(None) if flt.value else col.is_not(None)
    raise ValueError(f"unhandled operator {flt.op!r}")  # check_plan refuses unknown ops


def _row_filter(table: sa.TableClause, checked: CheckedPlan, dialect: sa.Dialect) -> Any:
    """The policy's row filter: the region field starts with one of the prefixes (none:
    no row)."""
    row_filter = checked.plan.row_filter
    assert row_filter is not None
    column = checked.by_name[row_filter.field]
    col = table.c[column.name]
    count = len(row_filter.prefixes)
    prefixes = [_prefix(col, f"r{k}", column, dialect.name) for k in range(count)]
    return functools.reduce(operator.or_, prefixes) if prefixes else sa.false()


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
    """The statement of ``checked``'s shape: projection, filters, row filter, order,
    limit — every value a named ``bindparam`` without a value (see ``bind_plan``)."""
    plan = checked.plan
    table = table_clause(checked, schema)
    stmt = sa.select(*[_output(table, c.name, c.type, dialect) for c in plan.columns])
    conditions = [_filter(table, i, checked, dialect.name) for i in range(len(checked.filters))]
    if plan.row_filter is not None:
        conditions.append(_row_filter(table, checked, dialect))
    if conditions:
        stmt = stmt.where(sa.and_(*conditions))
    for order in plan.order_by:
        col = table.c[order.field]
        stmt = stmt.order_by(col.desc() if order.descending else col.asc())
    stmt = stmt.limit(_bind(LIMIT))
    if checked.offset or dialect.name == "sqlite":
        stmt = stmt.offset(_bind(OFFSET))
    return stmt


# -- aggregates (issue 16) ----------------------------------------------------------


def bind_aggregate(
    checked: CheckedPlan, plan: AggregatePlan, dialect_name: str
) -> tuple[Hashable, dict[str, Any]]:
    """The shape key and values of ``plan``'s ``GROUP BY`` (``checked`` is its rows
    plan): only the row filter's prefixes and the limit (``max_groups + 1``: one group
    more tells us there are too many) are values; no filter of the caller is pushed."""
    sqlite = dialect_name == "sqlite"
    values: dict[str, Any] = {}
    row_filter: Hashable = None
    if checked.plan.row_filter is not None:
        prefixes = checked.plan.row_filter.prefixes
        row_filter = (checked.plan.row_filter.field, len(prefixes))
        for k, prefix in enumerate(prefixes):
            _bind_prefix(values, f"r{k}", prefix, sqlite)
    values[LIMIT] = plan.max_groups + 1
    if sqlite:
        values[OFFSET] = 0
    shape = ("aggregate", checked.plan.object_name, checked.plan.known_columns, plan.group_by,
             plan.aggregates, row_filter)  # fmt: skip
    return shape, values


def _aggregate_expr(table: sa.TableClause, agg: Aggregate, dialect: sa.Dialect) -> Any:
    """One aggregate in SQL; decimal and average results cast to DOUBLE where the
    database can (as ``_output`` does), so no ``Decimal`` is converted in Python."""
    if agg.column is None:
        return sa.func.count()
    col = table.c[agg.column.name]
    if agg.fn == "count":
        return sa.func.count(col)
    if agg.fn == "count_distinct":
        return sa.func.count(sa.distinct(col))
    floats = getattr(dialect, "_support_float_cast", True)
    if agg.fn == "avg" and floats:  # MySQL averages integers to 4 decimal places
        return sa.func.avg(sa.cast(col, sa.Double()))
    expr = getattr(sa.func, agg.fn)(col)
    if agg.fn == "sum" and agg.column.type == "int64":
        return sa.cast(expr, sa.BigInteger())  # PostgreSQL and MySQL sum to NUMERIC
    floating = agg.fn in ("sum", "avg") or agg.column.type == "decimal"
    if floating and floats:
        return sa.cast(expr, sa.Double())
    return expr


def build_aggregate_select(
    checked: CheckedPlan, plan: AggregatePlan, *, schema: str | None, dialect: sa.Dialect
) -> sa.Select[Any]:
    """``SELECT g…, count(*), a… FROM t WHERE <row filter> GROUP BY g… LIMIT :lim``,
    labelled as ``adapters.aggregate`` names the result's columns."""
    table = table_clause(checked, schema)
    keys = [table.c[c.name] for c in plan.group_by]
    outputs: list[Any] = [
        _output(table, c.name, c.type, dialect).label(group_name(i))
        if c.type == "decimal" else table.c[c.name].label(group_name(i))
        for i, c in enumerate(plan.group_by)
    ]  # fmt: skip
    outputs.append(sa.func.count().label(ROWS))
    outputs += [_aggregate_expr(table, a, dialect).label(value_name(i))
                for i, a in enumerate(plan.aggregates)]  # fmt: skip
    stmt = sa.select(*outputs).select_from(table)
    if checked.plan.row_filter is not None:
        stmt = stmt.where(_row_filter(table, checked, dialect))
    if keys:
        stmt = stmt.group_by(*keys)
    stmt = stmt.limit(_bind(LIMIT))
    if dialect.name == "sqlite":
        stmt = stmt.offset(_bind(OFFSET))
    return stmt


# -- compiled shapes ----------------------------------------------------------------


@dataclass(frozen=True)
class Compiled:
    """A shape's SQL text in the driver's paramstyle. It holds no value: ``params``
    turns one execution's values into the driver's parameters."""

    select: sa.Select[Any]
    sql: str
    names: frozenset[str]
    order: tuple[str, ...] | None  # positional paramstyles: the names in order

    def params(self, values: dict[str, Any]) -> Any:
        if values.keys() != self.names:  # a shape/value mismatch must never execute
            raise RuntimeError("bind values do not match the compiled statement")
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)


def compile_select(stmt: sa.Select[Any], dialect: sa.Dialect, names: frozenset[str]) -> Compiled:
    """Compile ``stmt`` for ``dialect``; ``names``: the bind names its values will use."""
    compiled = stmt.compile(dialect=dialect)
    if frozenset(compiled.binds) != names:
        raise RuntimeError("the compiled statement binds other names than its values")
    order = tuple(compiled.positiontup or ()) if compiled.positional else None
    return Compiled(stmt, compiled.string, names, order)


class ShapeCache:
    """Compiled statements by plan shape, least recently used dropped beyond ``size``."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Compiled | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, compiled: Compiled) -> None:
        with self._lock:
            self._items[key] = compiled
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
