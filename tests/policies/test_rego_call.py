"""The direct C-API input builder and output reader give what regopy's own do."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from regopy import Bundle, Interpreter

from policies.authoring import load_cases
from policies.bundle import load_policy_set
from policies.pdp import compile_policy_set
from policies.rego_call import RegoCallError, query_binding
from tests.policies.adversarial import text


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


@pytest.mark.parametrize(
    "value", [{"x": object()}, {"x": 2**64}, {"x": "\ud800"}, {"x": "a\0b"}, {"a\0": 1}]
)
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


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_any_text_comes_back_exactly_and_as_structure_never(value: Any) -> None:
    """Quotes, backslashes, control characters, non-BMP, JSON fragments: the walk of
    the node tree returns the input's strings verbatim, structure unchanged."""
    assert query_binding(ECHO, {"v": value}) == {"v": value}


ECHO = echo_bundle()


def test_engine_string_spellings_are_what_the_reader_assumes() -> None:
    """Pins rego-cpp's quirks ``policies.rego_call`` documents: input strings verbatim,
    literals as spelled in the source, builtin results wrapped in quotes. If a regopy
    upgrade changes this, the schema's closed sets still hold, but read the notes."""
    builder = Interpreter()
    source = 'package q\n\nx := {"lit": "a\\"b", "in": input.s, "made": concat("", [input.s])}\n'
    builder.add_module("q.rego", source)
    bundle = builder.build("x = data.q.x", [])
    got = query_binding(bundle, {"s": 'c"d'})
    assert got == {"lit": 'a\\"b', "in": 'c"d', "made": 'c"d'}
    got = query_binding(bundle, {"s": '"c"'})  # pushed as ""c"", read back as "c"
    assert got == {"lit": 'a\\"b', "in": '"c"', "made": '"c"'}


@pytest.mark.parametrize(
    ("one", "other"), [('""', ""), ('"x"', "x"), ('"a"b"', 'a"b'), ('"analyst"', "analyst")]
)
def test_a_quoted_string_is_not_the_string_it_quotes(one: str, other: str) -> None:
    """rego-cpp alone would find ``"analyst"`` (quotes included) equal to ``analyst``."""
    builder = Interpreter()
    source = 'package q\n\nx := [input.a == input.b, input.a == "analyst", {input.a, input.b}]\n'
    builder.add_module("q.rego", source)
    bundle = builder.build("x = data.q.x", [])
    equal, literal, both = query_binding(bundle, {"a": one, "b": other})
    assert (equal, literal, sorted(both)) == (False, False, sorted([one, other]))
