"""The fast canonical form is byte-identical to RFC 8785 (the ``rfc8785`` reference)."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.canonical import canonical_json
from catalog.errors import BadRequest

SAFE = 2**53 - 1
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-SAFE, SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _valid(value: Any) -> bool:
    try:
        rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return False
    return True


@settings(max_examples=150, deadline=None)
@given(values)
def test_matches_rfc8785(value: Any) -> None:
    if _valid(value):
        assert canonical_json(value) == rfc8785.dumps(value)


def test_refuses_non_json() -> None:
    for bad in (float("nan"), 2**60, {1: "x"}, object()):
        with pytest.raises(BadRequest):
            canonical_json(bad)
