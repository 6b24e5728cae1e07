"""The direct C-API input builder and output reader give what regopy's own do."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
from regopy import Bundle, Interpreter

from policies.authoring import load_cases
from policies.bundle import load_policy_set
from policies.pdp import compile_policy_set
from policies.rego_call import RegoCallError, query_binding


class Level(StrEnum):
    L3 = "L3"


def echo_bundle() -> Bundle:
    builder = Interpreter()
    builder.add_module("echo.rego", "package echo\n\nx := input\n")
    return builder.build("x = data.echo.x", [])


def regopy_binding(bundle: Bundle, value: Any) -> Any:
    interpreter = Interpreter()
    interpreter.set_input(value)
    return interpreter.query_bundle(bundle).results[0].bindings["x"]


@pytest.mark.parametrize(
    "value",
    [
        {"s": "张三 ü \u2028", "i": -(2**63), "j": 2**63 - 1, "f": 0.1, "b": True, "n": None},
        {"nested": [{"a": [1, [2, {"b": False}]]}, (), ("t", 1)], "empty": {}},
        {"level": Level.L3, "tags": {"x", "y"}, "flag": False, "zero": 0},
        ["not", "an", "object"],
    ],
)
def test_input_reaches_the_engine_as_regopy_would_pass_it(value: Any) -> None:
    bundle = echo_bundle()
    assert query_binding(bundle, value) == regopy_binding(bundle, value)


def test_every_fixture_decides_the_same_through_regopys_own_calls() -> None:
    bundle = compile_policy_set(load_policy_set())
    for case in load_cases():
        assert query_binding(bundle, case["input"]) == regopy_binding(bundle, case["input"])


@pytest.mark.parametrize("value", [{"x": object()}, {"x": 2**64}, {"x": "\ud800"}])
def test_unpassable_input_raises(value: Any) -> None:
    with pytest.raises((RegoCallError, UnicodeEncodeError)):
        query_binding(echo_bundle(), value)


def test_undefined_and_failed_queries_raise() -> None:
    builder = Interpreter()
    builder.add_module("m.rego", "package m\n\nx := input.missing\n")
    with pytest.raises(RegoCallError, match="undefined"):
        query_binding(builder.build("x = data.m.x", []), {})
    builder = Interpreter()
    builder.add_module("m.rego", "package m\n\nx := 1 / input.zero\n")
    with pytest.raises(RegoCallError):
        query_binding(builder.build("x = data.m.x", []), {"zero": 0})
