"""A witness checks an envelope's shape before trusting anything in it: one row per
check, so a change that drops or reorders one is seen."""

from __future__ import annotations

from typing import Any

import pytest

from audit.witness_book import _parse
from catalog.errors import BadRequest

CP = {"seq": 7, "hash": "a" * 64, "ts": "2025-01-01T00:00:00.000000Z", "kid": "k1",
      "signature": "sig"}  # fmt: skip
GOOD = {"sender": "gw-a", "epoch": 0, "checkpoint": CP, "kid": "k1", "keys": {"k1": "pub"},
        "signature": "env"}  # fmt: skip


def test_a_good_envelope_is_taken_apart() -> None:
    assert _parse(GOOD) == ("gw-a", 0, CP, "k1", {"k1": "pub"})


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"extra": 1}, "exactly"),
        ({"sender": "gw a"}, "sender"),
        ({"epoch": -1}, "epoch"),
        ({"epoch": True}, "epoch"),
        ({"checkpoint": {**CP, "more": 1}}, "checkpoint must have exactly"),
        ({"checkpoint": [1]}, "checkpoint must have exactly"),
        ({"checkpoint": {**CP, "seq": 0}}, "checkpoint seq"),
        ({"checkpoint": {**CP, "hash": "A" * 64}}, "checkpoint hash"),
        ({"checkpoint": {**CP, "ts": ""}}, "short strings"),
        ({"kid": 5}, "short strings"),
        ({"signature": "s" * 201}, "short strings"),
        ({"keys": {}}, "keys must map"),
        ({"keys": {"k1": 1}}, "keys must map"),
        ({"keys": [("k1", "pub")]}, "keys must map"),
    ],
)
def test_each_shape_check_refuses(change: dict[str, Any], says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        _parse({**GOOD, **change})


def test_not_an_object() -> None:
    with pytest.raises(BadRequest, match="object"):
        _parse([])  # type: ignore[arg-type]
