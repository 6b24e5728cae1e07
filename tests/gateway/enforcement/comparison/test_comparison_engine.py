"""The comparison model language and the embedded engine, on small hand-made tables.

Each case states what the rule means (inner, anti, self-join, conditions over dates,
amounts and statuses) and checks the engine against a plain-Python reading of it; the
shape and type rules are table tests: one row per refusal, each a 422 naming the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pyarrow as pa
import pytest
from pydantic import ValidationError

from catalog.errors import TooLarge, Unprocessable
from gateway.enforcement.comparison.arrow_engine import ArrowEngine
from gateway.enforcement.comparison.engine import CancelToken, RunCancelled
from gateway.enforcement.comparison.spec import CompiledModel, ModelSpec, compile_model

FIELDS = {
    "civil.dibao": {"id": "string", "status": "string", "last_paid": "date",
                    "amount": "float64", "size": "int64"},
    "civil.deaths": {"id": "string", "death_date": "timestamp"},
    "fin.pay": {"id": "string", "salary": "float64"},
    "fin.funds": {"no": "string", "payee": "string", "project": "string", "amount": "float64"},
}  # fmt: skip
DIBAO = pa.table({
    "id": ["a", "b", "c", "e", None],
    "status": ["active", "active", "terminated", "active", "active"],
    "last_paid": [date(2024, 12, 1)] * 5,
    "amount": [500.0, 600.0, 700.0, 800.0, 900.0],
    "size": [1, 2, 3, 4, 5],
})  # fmt: skip
DEATHS = pa.table({
    "id": ["a", "b", "c", "e", "z"],
    "death_date": pa.array([date(2024, 1, 1), date(2024, 11, 20), date(2024, 1, 1),
                            date(2024, 1, 1), date(2024, 1, 1)]).cast(pa.timestamp("us")),
})  # fmt: skip
PAY = pa.table({"id": ["e", "q"], "salary": [5000.0, 6000.0]})


def f(ref: str) -> dict[str, str]:
    return {"field": ref}


def c(value: Any, type_: str) -> dict[str, Any]:
    return {"value": value, "type": type_}


def op(name: str, *args: Any, **extra: Any) -> dict[str, Any]:
    return {"op": name, "args": list(args), **extra}


def compiled(body: dict[str, Any]) -> CompiledModel:
    return compile_model(ModelSpec.model_validate(body), model_id="m", version=1, fields=FIELDS)


def run(
    model: CompiledModel, tables: Mapping[str, pa.Table], limit: int = 100
) -> list[dict[str, Any]]:
    readers = {a: pa.RecordBatchReader.from_batches(t.schema, t.to_batches())
               for a, t in tables.items()}  # fmt: skip
    out = ArrowEngine().run(model, readers, limit=limit, cancel=CancelToken(),
                            progress=lambda _: None)  # fmt: skip
    return list(out.table.to_pylist())


DEAD_PAID: dict[str, Any] = {
    "sides": [{"alias": "d", "dataset": "civil.dibao"}, {"alias": "x", "dataset": "civil.deaths"}],
    "joins": [{"left": "d", "left_key": "id", "right": "x", "right_key": "id"}],
    "conditions": [
        op("=", f("d.status"), c("active", "string")),
        op(">=", op("-", f("d.last_paid"), f("x.death_date")), c(30, "number")),
    ],
    "output": ["d.amount", "x.death_date"],
}


def test_inner_join_with_a_status_and_date_arithmetic() -> None:
    """Paid 30 days or more after death: b died 11 days before the last payment, c was
    terminated, z was never on the roll, the null key matches nothing."""
    rows = run(compiled(DEAD_PAID), {"d": DIBAO, "x": DEATHS})
    assert [r["key_token"] for r in rows] == ["a", "e"]
    assert [r["d.amount"] for r in rows] == [500.0, 800.0]


def test_anti_join_keeps_rows_without_a_match() -> None:
    """Dead and still paid, but not on the payroll: e is on the payroll."""
    body = {**DEAD_PAID,
            "sides": [*DEAD_PAID["sides"], {"alias": "p", "dataset": "fin.pay"}],
            "joins": [*DEAD_PAID["joins"],
                      {"left": "d", "left_key": "id", "right": "p", "right_key": "id",
                       "kind": "anti"}]}  # fmt: skip
    assert [r["key_token"] for r in run(compiled(body), {"d": DIBAO, "x": DEATHS, "p": PAY})] == [
        "a"
    ]


def test_anti_join_conditions_are_part_of_the_match() -> None:
    """ "Not on the payroll with a salary over 5,500": e's salary is 5,000, so e has no
    such match and stays."""
    body = {**DEAD_PAID,
            "sides": [*DEAD_PAID["sides"], {"alias": "p", "dataset": "fin.pay"}],
            "joins": [*DEAD_PAID["joins"],
                      {"left": "d", "left_key": "id", "right": "p", "right_key": "id",
                       "kind": "anti"}],
            "conditions": [
                *DEAD_PAID["conditions"],
                op(">", f("p.salary"), op("*", f("d.amount"), c(6.875, "number"))),
            ]}  # fmt: skip
    rows = run(compiled(body), {"d": DIBAO, "x": DEATHS, "p": PAY})
    assert [r["key_token"] for r in rows] == ["a", "e"]


def test_self_join_counts_each_pair_once() -> None:
    funds = pa.table({"no": ["1", "2", "3", "4", "5"], "payee": ["p", "p", "p", "q", "q"],
                      "project": ["x", "x", "x", "x", "y"],
                      "amount": [10.0, 10.0, 10.0, 10.0, 10.0]})  # fmt: skip
    body = {
        "sides": [{"alias": "a", "dataset": "fin.funds"}, {"alias": "b", "dataset": "fin.funds"}],
        "joins": [{"left": "a", "left_key": "payee", "right": "b", "right_key": "payee"}],
        "conditions": [op("=", f("a.project"), f("b.project")),
                       op("=", f("a.amount"), f("b.amount")),
                       op("<", f("a.no"), f("b.no"))],
        "output": ["a.no", "b.no"],
    }  # fmt: skip
    rows = run(compiled(body), {"a": funds, "b": funds})
    assert [(r["a.no"], r["b.no"]) for r in rows] == [("1", "2"), ("1", "3"), ("2", "3")]


def test_in_null_tests_division_and_boolean_logic() -> None:
    body = {**DEAD_PAID, "conditions": [
        op("in", f("d.status"), values=["active", "suspended"]),
        op("or", op("is_null", f("x.death_date")),
           op("and", op(">", op("/", f("d.amount"), f("d.size")), c(199.5, "number")),
              op("not", op("=", f("d.size"), c(4, "number"))))),
        op("not_null", f("d.last_paid")),
    ]}  # fmt: skip
    rows = run(compiled(body), {"d": DIBAO, "x": DEATHS})
    assert [r["key_token"] for r in rows] == ["a", "b"]  # e: size 4; c: terminated


def test_date_constants_and_date_plus_days() -> None:
    body = {**DEAD_PAID, "conditions": [
        op("<", op("+", f("x.death_date"), c(30, "number")), c("2024-12-01", "date")),
        op("in", f("x.death_date"), values=["2024-01-01"]),
    ]}  # fmt: skip
    assert [r["key_token"] for r in run(compiled(body), {"d": DIBAO, "x": DEATHS})] == [
        "a",
        "c",
        "e",
    ]


def test_limit_cuts_and_says_so() -> None:
    model = compiled({**DEAD_PAID, "conditions": []})
    readers = {"d": DIBAO.to_reader(), "x": DEATHS.to_reader()}
    out = ArrowEngine().run(model, readers, limit=2, cancel=CancelToken(), progress=lambda _: None)
    assert out.truncated and out.table.num_rows == 2


def test_a_join_past_max_pairs_is_refused_not_cut() -> None:
    many = pa.table({"id": ["k"] * 50, "status": ["active"] * 50,
                     "last_paid": [date(2024, 1, 1)] * 50, "amount": [1.0] * 50,
                     "size": [1] * 50})  # fmt: skip
    dead = pa.table({"id": ["k"] * 50, "death_date": pa.array([date(2023, 1, 1)] * 50).cast(
        pa.timestamp("us"))})  # fmt: skip
    with pytest.raises(TooLarge):
        ArrowEngine(max_pairs=2000).run(
            compiled(DEAD_PAID), {"d": many.to_reader(), "x": dead.to_reader()},
            limit=10, cancel=CancelToken(), progress=lambda _: None,
        )  # fmt: skip


def test_a_cancelled_run_stops() -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(RunCancelled):
        ArrowEngine().run(compiled(DEAD_PAID), {"d": DIBAO.to_reader(), "x": DEATHS.to_reader()},
                          limit=10, cancel=token, progress=lambda _: None)  # fmt: skip


def _with(**changes: Any) -> dict[str, Any]:
    return {**DEAD_PAID, **changes}


def _nest(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = op("not_null", f("d.id"))
    for _ in range(depth):
        node = op("not", node)
    return node


REFUSED = [  # (body, words the 422 message holds)
    (_with(sides=[{"alias": "d", "dataset": "civil.dibao"},
                  {"alias": "d", "dataset": "civil.deaths"}]), "distinct"),
    (_with(joins=[{"left": "x", "left_key": "id", "right": "d", "right_key": "id"}]),
     "not joined yet"),
    (_with(joins=[{"left": "d", "left_key": "id", "right": "q", "right_key": "id"}]), "no side"),
    (_with(joins=[{"left": "d", "left_key": "nope", "right": "x", "right_key": "id"}]),
     "no key field"),
    (_with(conditions=[op("=", f("d.status"), c(1, "number"))]), "compares a string"),
    (_with(conditions=[op("<", f("d.status"), f("x.death_date"))]), "compares a string"),
    (_with(conditions=[op("+", f("d.status"), f("d.amount"))]), "does not take"),
    (_with(conditions=[op("-", f("d.amount"), f("x.death_date"))]), "does not take"),
    (_with(conditions=[op("and", f("d.status"), f("d.status"))]), "takes conditions"),
    (_with(conditions=[op("=", f("d.nothing"), c("a", "string"))]), "no field"),
    (_with(conditions=[op("=", f("d.last_paid"), c("2024-02-30", "date"))]), "not a date"),
    (_with(conditions=[op("in", f("d.status"))]), "needs 'values'"),
    (_with(conditions=[op("in", f("d.status"), values=[1])]), "is not a string"),
    (_with(conditions=[op("+", f("d.amount"), c(1, "number"))]), "not true or false"),
    (_with(output=["d.id"]), "key_token"),
    (_with(output=["x.nothing"]), "no such field"),
    (_with(conditions=[_nest(20)]), "nested deeper"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "words"), REFUSED)
def test_shapes_and_types_that_cannot_run_are_refused(body: dict[str, Any], words: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        compiled(body)
    assert words in refused.value.message


@pytest.mark.parametrize("body", [
    _with(conditions=[{"op": "like", "args": [f("d.status")]}]),
    _with(conditions=[{"sql": "1=1"}]),
    _with(conditions=[op("=", f("d.status"), {"value": "x", "type": "regex"})]),
    _with(conditions=[op("=", f("DROP TABLE"), c("x", "string"))]),
    _with(output=[]),
    _with(sides=[DEAD_PAID["sides"][0]]),
    _with(conditions=[op("=", f("d.amount"), c(float("nan"), "number"))]),
])  # fmt: skip
def test_what_is_not_in_the_schema_is_refused_by_it(body: dict[str, Any]) -> None:
    with pytest.raises((ValidationError, Unprocessable)):
        compiled(body)
