"""Canonical JSON (RFC 8785) for audit events, fast.

The hash chain is only as good as its canonical form: the same event must always give
the same bytes, in any process and in any third-party verifier. RFC 8785 (JCS) is the
reference; the ``rfc8785`` package implements it in Python, several times slower than
``orjson`` (``python -m bench.audit_design`` measures the ratio), which the
group-commit writer cannot afford at 10,000 events/s. ``orjson`` with sorted keys
produces byte-identical output for the values audit events carry, so we use it and
fall back to ``rfc8785`` for the few values where the two differ:

- object keys containing code points >= U+E000 (JCS sorts by UTF-16 code units,
  orjson by code points; they only disagree above that point);
- floats that are integral, or outside 1e-5 <= |x| < 1e15 (different exponent forms).

``tests/audit/test_canonical.py`` checks the equivalence with hypothesis.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import orjson
import rfc8785

from catalog.errors import BadRequest

MAX_SAFE_INT = 2**53 - 1
_HIGH = "\ue000"
_PLAIN = frozenset({str, bool, type(None)})  # always safe, whatever their value


def _orjson_safe(value: Any) -> bool:
    """Walk the value: raise BadRequest for non-JSON values, False if orjson may differ."""
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return True
    if kind is int:
        if -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            return True
        raise BadRequest("integer outside the JSON safe range in audit event")
    if kind is float:
        if not math.isfinite(value):
            raise BadRequest("non-finite number in audit event")
        magnitude = abs(value)
        return bool(value != int(value) and 1e-5 <= magnitude < 1e15)
    if kind is dict:
        return _keys_safe(value) & _items_safe(value.values())
    if kind is list or kind is tuple:
        return _items_safe(value)
    raise BadRequest(f"audit event value of type {kind.__name__} is not JSON")


def _keys_safe(value: dict[Any, Any]) -> bool:
    safe = True
    for key in value:
        if type(key) is not str:
            raise BadRequest("audit event keys must be strings")
        if not key.isascii() and max(key) >= _HIGH:
            safe = False
    return safe


def _items_safe(items: Iterable[Any]) -> bool:
    """Every item walked (each may raise); texts and flags, most of an event, answer
    without a call: a call per leaf was most of the walk's cost on the query's records."""
    safe = True
    for item in items:
        if type(item) not in _PLAIN and not _orjson_safe(item):
            safe = False
    return safe


def canonical_json(value: Any, *, checked: bool | None = None) -> bytes:
    """RFC 8785 bytes of ``value``; ``checked`` skips the walk when the caller did it."""
    safe = _orjson_safe(value) if checked is None else checked
    if safe:
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError as exc:  # lone surrogates and the like
            raise BadRequest(f"audit event is not valid JSON: {exc}") from exc
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:
        raise BadRequest(f"audit event cannot be canonicalised: {exc}") from exc


def is_orjson_safe(value: Any) -> bool:
    """Public form of the walk, so callers can validate once and reuse the answer."""
    return _orjson_safe(value)
