"""A model's typed conditions as Spark columns: the same tree the embedded engine
turns into Arrow expressions (``arrow_engine.expression``), with the same meaning.

Dates are days since 1970 (``unix_date``), so ``date - date`` is a number of days and
``date ± number`` a day number, exactly as in Arrow. Division is over doubles. Column
names are ``<alias>.<field>``, quoted: a dot inside a quoted name is part of the name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from gateway.enforcement.comparison.expressions import Apply, Lit, Ref, Typed

if TYPE_CHECKING:
    from pyspark.sql import Column

_EPOCH = date(1970, 1, 1)


def col(name: str) -> Column:
    """A column by its exact name (dots and all)."""
    from pyspark.sql import functions as F

    return F.col(f"`{name}`")


def column(node: Typed) -> Column:
    """The Spark column of a typed node."""
    from pyspark.sql import functions as F

    if isinstance(node, Ref):
        ref = col(node.column)
        return F.unix_date(ref.cast("date")) if node.type == "date" else ref
    if isinstance(node, Lit):
        return F.lit(_literal(node))
    return _apply(node)


def _literal(node: Lit) -> object:
    if isinstance(node.value, date):
        return (node.value - _EPOCH).days
    return node.value


def _apply(node: Apply) -> Column:
    args = [column(a) for a in node.args]
    op = node.op
    if op == "/":
        return args[0].cast("double") / args[1].cast("double")
    binary: dict[str, Callable[[Column, Column], Column]] = {
        "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
        "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    }  # fmt: skip
    if op in binary:
        return binary[op](args[0], args[1])
    if op == "in":
        return args[0].isin([_literal(v) for v in node.values])
    if op == "is_null":
        return args[0].isNull()
    if op == "not_null":
        return args[0].isNotNull()
    if op == "not":
        return ~args[0]
    combined = args[0]
    for arg in args[1:]:
        combined = (combined & arg) if op == "and" else (combined | arg)
    return combined
