"""The direct C-API input builder and output reader give what regopy's own do."""

from __future__ import annotations

import functools
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from regopy import Bundle, Interpreter
from regopy.rego_shared import (
    rego_bundle_query,
    rego_free_input,
    rego_free_output,
    rego_new_input,
    rego_set_input,
)

from policies import rego_call
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


def python_binding(bundle: Bundle, value: Any) -> Any:
    """``query_binding`` with the input built and the result read by the ctypes path
    alone."""
    interpreter = Interpreter()
    handle = rego_new_input()
    try:
        assert rego_call._push(handle, value) == 0
        rego_set_input(interpreter._impl, handle)
    finally:
        rego_free_input(handle)
    output = rego_bundle_query(interpreter._impl, bundle._impl)
    try:
        return rego_call._Reader().binding(rego_call._OUTPUT_NODE(output), "x")
    finally:
        rego_free_output(output)


def test_the_native_calls_are_built() -> None:
    """``make install`` builds them (setup.py); without them a cold decision still works,
    on the ctypes path, about 0.35 ms slower."""
    assert rego_call._native() is not None


values_with_floats = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | text
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(values_with_floats)
def test_the_native_calls_give_what_the_ctypes_path_gives(value: Any) -> None:
    native = rego_call._native()
    assert native is not None
    handle = rego_new_input()
    try:
        pushed = native.push(handle, {"v": value})
    finally:
        rego_free_input(handle)
    assert pushed  # every plain JSON shape of its exact type, hostile text included
    assert query_binding(ECHO, {"v": value}) == python_binding(ECHO, {"v": value})


@pytest.mark.parametrize(
    "value",
    [
        {"level": Level.L3},  # a str subclass
        {"tags": {"x"}},  # a set
        {"x": 2**63},  # past 64 bits
        {"x": "a\0b"},  # NUL
        {"x": "\ud800"},  # a lone surrogate
        {"deep": functools.reduce(lambda inner, _: [inner], range(200), [])},
    ],
)
def test_the_native_push_declines_what_the_ctypes_path_converts_or_refuses(value: Any) -> None:
    """Declined, not raised: ``set_input`` then builds the input anew with the ctypes
    path, which converts it (or raises its own refusal)."""
    native = rego_call._native()
    assert native is not None
    handle = rego_new_input()
    try:
        assert native.push(handle, value) is False
    finally:
        rego_free_input(handle)


def test_a_declined_input_decides_as_the_ctypes_path_decides() -> None:
    value = {"level": Level.L3, "tags": {"x", "y"}, "deep": [[[["a"]]]]}
    assert query_binding(ECHO, value) == python_binding(ECHO, value) == regopy_binding(ECHO, value)


def test_the_native_read_refuses_as_the_ctypes_read_refuses() -> None:
    """An object key that is not a string (the engine keeps an integer key as one)."""
    with pytest.raises(RegoCallError, match="an object key that is not a string"):
        query_binding(ECHO, {1: "a"})
    with pytest.raises(RegoCallError, match="an object key that is not a string"):
        python_binding(ECHO, {1: "a"})
