"""What a comparison model says: its sides, how they join, its conditions and its output.

``ModelSpec`` is the stored, versioned rule (JSON in the catalog); ``compile_model``
turns one version, checked against the catalog entries' fields as they are now, into
the frozen ``CompiledModel`` an engine runs. The shape rules live here, once, so the
author is told at ``POST``/``PUT`` what a run would refuse:

- two to six sides, each a catalog entry under an alias (the same entry twice is a
  self-join: "one payee paid the same subsidy twice");
- joins form a tree from the first side: each join's left side is already joined and
  its right side is new; ``inner`` keeps the matches, ``anti`` keeps the rows of what
  is joined so far that have *no* match on the right side ("on the roll but not in the
  register"); an anti side contributes no output and no later join;
- a side has one key, the field it is joined on: the broker replaces it by its HMAC
  token under the case key before any row leaves the adapter layer
  (``SideOverrides.key``), so every key comparison is a token comparison;
- conditions over one side filter it before the joins; conditions over several are
  applied as soon as their sides are joined (inside the anti join when they read the
  anti side).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from catalog.errors import Unprocessable
from catalog.row_seals import sealable
from gateway.enforcement.comparison.expressions import (
    ALIAS,
    CATALOG_TYPES,
    FIELD_REF,
    Expr,
    ExprType,
    Typed,
    aliases,
    refs,
    typed,
)
from gateway.enforcement.query.schemas import WhereClause

FIELD_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
KEY_COLUMN = "key_token"
JoinKind = Literal["inner", "anti"]


class SideSpec(BaseModel):
    """One catalog entry of the model, under an alias the conditions and output use."""

    model_config = ConfigDict(extra="forbid")

    alias: str = Field(pattern=rf"^{ALIAS}$")
    dataset: str = Field(min_length=1, max_length=128)
    where: list[WhereClause] = Field(
        default_factory=list, max_length=20,
        description="filters pushed to the source (fields policy releases in clear)",
    )  # fmt: skip


class JoinSpec(BaseModel):
    """Two sides matched on their keys (compared as HMAC tokens under the case key)."""

    model_config = ConfigDict(extra="forbid")

    left: str = Field(pattern=rf"^{ALIAS}$")
    left_key: str = Field(pattern=FIELD_NAME)
    right: str = Field(pattern=rf"^{ALIAS}$")
    right_key: str = Field(pattern=FIELD_NAME)
    kind: JoinKind = "inner"


class ModelSpec(BaseModel):
    """The matching rule of one model version."""

    model_config = ConfigDict(extra="forbid")

    sides: list[SideSpec] = Field(min_length=2, max_length=6)
    joins: list[JoinSpec] = Field(min_length=1, max_length=5)
    conditions: list[Expr] = Field(default_factory=list, max_length=20)
    output: list[str] = Field(
        min_length=1, max_length=50,
        description="<alias>.<field> of inner sides, each as policy releases it; the key "
        "is always in the hit list as key_token",
    )  # fmt: skip

    @model_validator(mode="after")
    def _sealable(self) -> ModelSpec:
        """A version is sealed over its rule (``catalog.comparison_seals``)."""
        sealable(self.model_dump(mode="json", exclude_none=True))
        return self

    @property
    def entries(self) -> list[str]:
        """The catalog entries read, in side order, each once."""
        return list(dict.fromkeys(s.dataset for s in self.sides))


# -- the compiled model an engine runs --


@dataclass(frozen=True, slots=True)
class CompiledSide:
    alias: str
    dataset: str
    key: str
    reads: tuple[str, ...]  # key first, then condition fields, then output fields
    condition_fields: tuple[str, ...]  # must be released in clear to the runner
    output_fields: tuple[str, ...]
    where: tuple[WhereClause, ...]
    anti: bool


@dataclass(frozen=True, slots=True)
class CompiledJoin:
    left: str
    left_key: str
    right: str
    right_key: str
    kind: JoinKind
    conditions: tuple[Typed, ...]  # applied after (inner) or inside (anti) this join


@dataclass(frozen=True, slots=True)
class CompiledModel:
    """One model version, checked against the catalog: what each side reads, in which
    order the sides join, where each condition applies, what the hit list holds."""

    model_id: str
    version: int
    sides: tuple[CompiledSide, ...]
    side_conditions: Mapping[str, tuple[Typed, ...]]
    joins: tuple[CompiledJoin, ...]
    output: tuple[tuple[str, str], ...]  # (alias, field)

    @property
    def base(self) -> str:
        return self.sides[0].alias

    def side(self, alias: str) -> CompiledSide:
        return next(s for s in self.sides if s.alias == alias)

    @property
    def output_columns(self) -> list[str]:
        return [KEY_COLUMN, *(f"{a}.{f}" for a, f in self.output)]


def compile_model(
    spec: ModelSpec, *, model_id: str, version: int,
    fields: Mapping[str, Mapping[str, str]],
) -> CompiledModel:  # fmt: skip
    """``spec`` against ``fields`` (entry id → field name → catalog type); 422 for a
    rule that cannot run, naming what is wrong."""
    by_alias = _sides(spec, fields)
    keys = _keys(spec)
    order, anti = _join_order(spec, keys)
    types: dict[str, dict[str, ExprType]] = {
        a: {n: CATALOG_TYPES.get(t, "string") for n, t in fields[s.dataset].items()}
        for a, s in by_alias.items()
    }
    conditions = [typed(c, types, f"condition {i + 1}") for i, c in enumerate(spec.conditions)]
    side_conditions, at_join = _place(conditions, order, anti, spec.sides[0].alias)
    output = _output(spec.output, types, anti, keys)
    cond_fields: dict[str, list[str]] = {a: [] for a in by_alias}
    for c in conditions:
        for r in refs(c):
            cond_fields[r.alias].append(r.name)
    for s in spec.sides:
        for w in s.where:
            if w.field not in types[s.alias]:
                raise Unprocessable(f"side {s.alias!r} has no field {w.field!r} to filter on")
    sides = tuple(
        CompiledSide(
            alias=s.alias, dataset=s.dataset, key=keys[s.alias],
            reads=tuple(dict.fromkeys([keys[s.alias], *cond_fields[s.alias],
                                       *(f for a, f in output if a == s.alias)])),
            condition_fields=tuple(dict.fromkeys(cond_fields[s.alias])),
            output_fields=tuple(f for a, f in output if a == s.alias),
            where=tuple(s.where), anti=s.alias in anti,
        )
        for s in spec.sides
    )  # fmt: skip
    joins = tuple(
        CompiledJoin(j.left, j.left_key, j.right, j.right_key, j.kind, tuple(at_join[i]))
        for i, j in enumerate(order)
    )
    return CompiledModel(model_id=model_id, version=version, sides=sides,
                         side_conditions={a: tuple(c) for a, c in side_conditions.items()},
                         joins=joins, output=tuple(output))  # fmt: skip


def check_shape(spec: ModelSpec) -> None:
    """The rules that need no catalog (aliases, join tree, keys, output): 422."""
    aliases_ = [s.alias for s in spec.sides]
    if len(set(aliases_)) != len(aliases_):
        raise Unprocessable("side aliases must be distinct")
    keys = _keys(spec)
    _, anti = _join_order(spec, keys)
    for name in spec.output:
        alias = name.split(".", 1)[0]
        if alias not in aliases_:
            raise Unprocessable(f"output {name!r}: no side {alias!r}")
        if alias in anti:
            raise Unprocessable(f"output {name!r}: an anti-joined side has no rows in a hit")


def _sides(spec: ModelSpec, fields: Mapping[str, Mapping[str, str]]) -> dict[str, SideSpec]:
    check_shape(spec)
    by_alias = {s.alias: s for s in spec.sides}
    for s in spec.sides:
        if s.dataset not in fields:
            raise Unprocessable(f"side {s.alias!r}: no catalog entry {s.dataset!r}")
    for j in spec.joins:
        for alias, key in ((j.left, j.left_key), (j.right, j.right_key)):
            if key not in fields[by_alias[alias].dataset]:
                raise Unprocessable(f"side {alias!r} has no key field {key!r}")
    return by_alias


def _keys(spec: ModelSpec) -> dict[str, str]:
    """Each side's one key (the field the broker tokenises)."""
    known = {s.alias for s in spec.sides}
    keys: dict[str, str] = {}
    for j in spec.joins:
        for alias, key in ((j.left, j.left_key), (j.right, j.right_key)):
            if alias not in known:
                raise Unprocessable(f"join names no side {alias!r}")
            if keys.setdefault(alias, key) != key:
                raise Unprocessable(
                    f"side {alias!r} is joined on {keys[alias]!r} and on {key!r}: a side has "
                    "one key (it is replaced by its token before any row is read)"
                )
    return keys


def _join_order(spec: ModelSpec, keys: Mapping[str, str]) -> tuple[list[JoinSpec], set[str]]:
    """The joins as given, checked to form a tree grown from the first side."""
    joined = {spec.sides[0].alias}
    anti: set[str] = set()
    for i, j in enumerate(spec.joins):
        where = f"join {i + 1}"
        if j.left not in joined:
            raise Unprocessable(
                f"{where}: its left side {j.left!r} is not joined yet "
                f"(joins grow from the first side, {spec.sides[0].alias!r})"
            )
        if j.left in anti:
            raise Unprocessable(f"{where}: an anti-joined side cannot be joined on")
        if j.right in joined:
            raise Unprocessable(f"{where}: side {j.right!r} is joined twice")
        joined.add(j.right)
        if j.kind == "anti":
            anti.add(j.right)
    missing = [s.alias for s in spec.sides if s.alias not in joined]
    if missing:
        raise Unprocessable(f"sides never joined: {', '.join(missing)}")
    return list(spec.joins), anti


def _place(
    conditions: Sequence[Typed], order: Sequence[JoinSpec], anti: set[str], base: str
) -> tuple[dict[str, list[Typed]], list[list[Typed]]]:
    """Where each condition applies: on one side before the joins, or at the first join
    after which every side it reads is there (inside an anti join that reads it)."""
    single: dict[str, list[Typed]] = {}
    at_join: list[list[Typed]] = [[] for _ in order]
    for i, cond in enumerate(conditions):
        if cond.type != "bool":
            raise Unprocessable(f"condition {i + 1} is a {cond.type}, not true or false")
        reads = aliases(cond)
        if len(reads) == 1:
            single.setdefault(next(iter(reads)), []).append(cond)
            continue
        if not reads:
            raise Unprocessable(f"condition {i + 1} reads no field")
        present = {base}
        for n, j in enumerate(order):
            present.add(j.right)
            if reads <= present:
                if reads & (anti - {j.right}):
                    raise Unprocessable(f"condition {i + 1} reads two anti-joined sides")
                at_join[n].append(cond)
                break
            if j.right in reads and j.right in anti:
                raise Unprocessable(
                    f"condition {i + 1} reads anti-joined {j.right!r} and a side joined later"
                )
    return single, at_join


def _output(
    names: Sequence[str], types: Mapping[str, Mapping[str, ExprType]], anti: set[str],
    keys: Mapping[str, str],
) -> list[tuple[str, str]]:  # fmt: skip
    out: list[tuple[str, str]] = []
    for name in dict.fromkeys(names):
        if not _is_ref(name):
            raise Unprocessable(f"output {name!r}: name fields as <alias>.<field>")
        alias, field = name.split(".", 1)
        if alias not in types or field not in types[alias]:
            raise Unprocessable(f"output {name!r}: no such field")
        if alias in anti:
            raise Unprocessable(f"output {name!r}: an anti-joined side has no rows in a hit")
        if keys.get(alias) == field:
            raise Unprocessable(f"output {name!r}: the key is in every hit as {KEY_COLUMN}")
        out.append((alias, field))
    return out


def _is_ref(name: str) -> bool:
    return re.fullmatch(FIELD_REF, name) is not None
