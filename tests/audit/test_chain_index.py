"""The verifier's fast index extraction always agrees with ``index_of``."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.chain import fast_index_of
from audit.events import index_of, prepare
from tests.audit.helpers import event

SHAPES: list[dict[str, Any]] = [
    {},
    {"actor": []},
    {"actor": {"sub": 1}, "decision": "x"},
    {"details": None},
    {"details": [], "actor": {"sub": "a", "dept": None}},
    {"decision": {"reasons": []}},
]


@pytest.mark.parametrize(
    "raw",
    [
        event(1),
        event(2, decision=None),
        event(3, details={"resource_dept": 5}),
        event(4, details={}),
        event(5, actor={"sub": "x"}),
    ],
)
def test_fast_index_matches_on_written_bodies(raw: dict[str, Any]) -> None:
    body = orjson.loads(orjson.dumps(prepare(raw).body))
    assert fast_index_of(body) == index_of(body)


@pytest.mark.parametrize("body", SHAPES)
def test_fast_index_matches_on_odd_shapes(body: dict[str, Any]) -> None:
    assert fast_index_of(body) == index_of(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
keys = st.sampled_from(
    ["ts", "type", "actor", "resource", "details", "outcome", "purpose", "case_ref", "decision"]
)


def _outcome(fn: Any, body: dict[str, Any]) -> Any:
    try:
        return fn(body)
    except Exception as exc:  # index_of itself is not total: same failure either way
        return type(exc)


@given(st.dictionaries(keys, json_values))
def test_fast_index_matches_on_any_body(body: dict[str, Any]) -> None:
    assert _outcome(fast_index_of, body) == _outcome(index_of, body)
