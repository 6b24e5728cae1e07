"""The typed expression language of comparison-model conditions.

A condition is a small JSON tree — field references, typed constants, arithmetic,
comparisons, ``in``, null tests and boolean logic — never a string of SQL or Python:
nothing an author writes is parsed as code or evaluated as text (the first review's
rule: never parse structure out of text that carries request data). Each engine
translates the *typed* tree (``Ref`` / ``Lit`` / ``Apply``) into its own vocabulary
(Arrow compute expressions here; Spark columns later), so what a model means does not
depend on the engine that runs it.

Four types: ``string``, ``number`` (int64, float64, decimal), ``date`` (date, and a
timestamp taken at its day) and ``bool``. Dates are compared and subtracted as days:
``date - date`` is a number of days, ``date ± number`` is a date. Every operand's type
is checked once, when a model is stored and again when it is compiled for a run, so a
run never fails on a type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from math import isfinite
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    Tag,
)

from catalog.errors import Unprocessable

ExprType = Literal["string", "number", "date", "bool"]
CATALOG_TYPES: Mapping[str, ExprType] = {
    "string": "string", "int64": "number", "float64": "number", "decimal": "number",
    "bool": "bool", "date": "date", "timestamp": "date",
}  # fmt: skip
"""Catalog field type → expression type (``catalog.vocabulary.FIELD_TYPES``)."""

ALIAS = r"[a-z][a-z0-9_]{0,15}"
FIELD_REF = rf"^{ALIAS}\.[A-Za-z_][A-Za-z0-9_]{{0,127}}$"
MAX_DEPTH = 12
MAX_NODES = 200

ARITHMETIC = ("+", "-", "*", "/")
ORDERED = ("<", "<=", ">", ">=")
EQUALITY = ("=", "!=")
Op = Literal[
    "+", "-", "*", "/", "=", "!=", "<", "<=", ">", ">=", "in", "is_null", "not_null",
    "and", "or", "not",
]  # fmt: skip
Text = Annotated[str, Field(max_length=200)]
ScalarValue = Annotated[StrictBool | StrictInt | StrictFloat | Text,
                        Field(union_mode="left_to_right")]  # fmt: skip


class FieldRef(BaseModel):
    """A field of one side: ``{"field": "d.start_date"}`` (side alias, field name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(pattern=FIELD_REF, max_length=160)

    @property
    def alias(self) -> str:
        return self.field.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.field.split(".", 1)[1]


class Const(BaseModel):
    """A typed constant: ``{"value": "active", "type": "string"}``; dates as
    ``YYYY-MM-DD``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: ScalarValue
    type: ExprType


class Call(BaseModel):
    """An operator over its arguments: ``{"op": ">", "args": [e1, e2]}``; ``in`` takes
    one argument and ``values`` (constants of the argument's type)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Op
    args: list[Expr] = Field(min_length=1, max_length=20)
    values: list[ScalarValue] | None = Field(default=None, min_length=1, max_length=100)


def _kind(value: object) -> str | None:
    if isinstance(value, dict):
        for key, tag in (("field", "field"), ("op", "call"), ("value", "const")):
            if key in value:
                return tag
        return None
    tags: dict[type, str] = {FieldRef: "field", Const: "const", Call: "call"}
    return tags.get(type(value))


Expr = Annotated[
    Annotated[FieldRef, Tag("field")] | Annotated[Const, Tag("const")]
    | Annotated[Call, Tag("call")],
    Discriminator(_kind, custom_error_type="expression",
                  custom_error_message="an expression is {field}, {value, type} or {op, args}"),
]  # fmt: skip
Call.model_rebuild()


# -- the typed tree every engine translates --


@dataclass(frozen=True, slots=True)
class Ref:
    alias: str
    name: str
    type: ExprType

    @property
    def column(self) -> str:
        """The column's name once the sides are joined: ``<alias>.<field>``."""
        return f"{self.alias}.{self.name}"


@dataclass(frozen=True, slots=True)
class Lit:
    value: str | int | float | bool | date
    type: ExprType


@dataclass(frozen=True, slots=True)
class Apply:
    op: str
    args: tuple[Typed, ...]
    type: ExprType
    values: tuple[Lit, ...] = ()


Typed = Ref | Lit | Apply


def aliases(expr: Typed) -> frozenset[str]:
    """The sides an expression reads."""
    if isinstance(expr, Ref):
        return frozenset({expr.alias})
    if isinstance(expr, Lit):
        return frozenset()
    out: frozenset[str] = frozenset()
    for arg in expr.args:
        out |= aliases(arg)
    return out


def refs(expr: Typed) -> list[Ref]:
    """Every field an expression reads, in order (repeats kept)."""
    if isinstance(expr, Ref):
        return [expr]
    if isinstance(expr, Lit):
        return []
    return [r for arg in expr.args for r in refs(arg)]


# -- type checking: the author's tree to the typed tree --


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0

    def take(self, depth: int, where: str) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise Unprocessable(f"{where}: more than {MAX_NODES} nodes in one condition")
        if depth > MAX_DEPTH:
            raise Unprocessable(f"{where}: nested deeper than {MAX_DEPTH}")


def typed(
    expr: FieldRef | Const | Call, types: Mapping[str, Mapping[str, ExprType]], where: str
) -> Typed:
    """The typed tree of ``expr``; ``types`` maps a side alias to its fields' types.
    Refuses (422) an unknown side or field, a constant that is not of its type, and an
    operator applied to operands it does not take."""
    return _typed(expr, types, where, _Budget(), 1)


def _typed(
    expr: FieldRef | Const | Call, types: Mapping[str, Mapping[str, ExprType]], where: str,
    budget: _Budget, depth: int,
) -> Typed:  # fmt: skip
    budget.take(depth, where)
    if isinstance(expr, FieldRef):
        side = types.get(expr.alias)
        if side is None:
            raise Unprocessable(f"{where}: no side {expr.alias!r}")
        if expr.name not in side:
            raise Unprocessable(f"{where}: side {expr.alias!r} has no field {expr.name!r}")
        return Ref(expr.alias, expr.name, side[expr.name])
    if isinstance(expr, Const):
        return constant(expr.value, expr.type, where)
    args = tuple(_typed(a, types, where, budget, depth + 1) for a in expr.args)
    values = tuple(constant(v, _first(args).type, where) for v in expr.values or ())
    return Apply(expr.op, args, _result(expr.op, args, values, where), values)


def _first(args: tuple[Typed, ...]) -> Typed:
    return args[0]


def constant(value: object, type_: ExprType, where: str) -> Lit:
    """A constant checked against its declared type (a date from ``YYYY-MM-DD``)."""
    ok = {
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool)
        and isfinite(value),
        "date": isinstance(value, str),
    }[type_]  # fmt: skip
    if not ok:
        raise Unprocessable(f"{where}: {value!r} is not a {type_}")
    if type_ == "date":
        try:
            return Lit(date.fromisoformat(str(value)), "date")
        except ValueError:
            raise Unprocessable(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None
    return Lit(value, type_)  # type: ignore[arg-type]


def _result(op: str, args: tuple[Typed, ...], values: tuple[Lit, ...], where: str) -> ExprType:
    kinds = tuple(a.type for a in args)
    if op in ARITHMETIC:
        return _arithmetic(op, kinds, where)
    if op in (*EQUALITY, *ORDERED):
        _arity(op, kinds, 2, where)
        if kinds[0] != kinds[1]:
            raise Unprocessable(f"{where}: {op!r} compares a {kinds[0]} with a {kinds[1]}")
        if op in ORDERED and kinds[0] == "bool":
            raise Unprocessable(f"{where}: {op!r} does not order booleans")
        return "bool"
    if op == "in":
        _arity(op, kinds, 1, where)
        if not values:
            raise Unprocessable(f"{where}: 'in' needs 'values'")
        return "bool"
    if op in ("is_null", "not_null"):
        _arity(op, kinds, 1, where)
        return "bool"
    if op == "not":
        _arity(op, kinds, 1, where)
    elif len(kinds) < 2:
        raise Unprocessable(f"{where}: {op!r} takes two or more arguments")
    if any(k != "bool" for k in kinds):
        raise Unprocessable(f"{where}: {op!r} takes conditions (true or false), not values")
    return "bool"


_ARITHMETIC_TYPES: Mapping[tuple[str, str, str], ExprType] = {
    **{(op, "number", "number"): "number" for op in ARITHMETIC},
    ("-", "date", "date"): "number",  # days between
    ("+", "date", "number"): "date",
    ("+", "number", "date"): "date",
    ("-", "date", "number"): "date",
}


def _arithmetic(op: str, kinds: tuple[ExprType, ...], where: str) -> ExprType:
    _arity(op, kinds, 2, where)
    result = _ARITHMETIC_TYPES.get((op, kinds[0], kinds[1]))
    if result is None:
        raise Unprocessable(f"{where}: {op!r} does not take a {kinds[0]} and a {kinds[1]}")
    return result


def _arity(op: str, kinds: tuple[ExprType, ...], n: int, where: str) -> None:
    if len(kinds) != n:
        raise Unprocessable(f"{where}: {op!r} takes {n} argument{'s' if n > 1 else ''}")
