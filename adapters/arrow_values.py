"""The Python values a batch built from row tuples (``arrow_types.batch_from_rows``) gives
back (``to_pylist``), found without building it, for the values where that is certain.

Why: a governed 20-row answer spent ~100 us in the server turning ~21 row tuples into
an Arrow batch that was masked, read back into Python and dumped as JSON at once
(``gateway.enforcement.query.small_answer``). Where the tuples already hold what the
batch would give back, the batch is skipped.

Exactness is the rule, as in ``gateway.enforcement.masking.small``: ``plain_values``
answers only where its answer is certainly Arrow's, and ``None`` (unsure) otherwise —
the caller then builds the batch. What is decided here:

- ``string``: ``str`` values that encode to UTF-8 (Arrow refuses a lone surrogate);
- ``int64``: ``int`` (not ``bool``) within 64 bits; ``bool``: ``bool``;
- ``float64`` / ``decimal``: a column of ``float`` values as they are; a column of finite
  ``Decimal`` values (PostgreSQL's ``numeric``) as Arrow converts them — it infers one
  ``decimal128`` of the column's largest scale, then casts to ``float64`` as
  ``unscaled × 10^-scale`` in double precision while the unscaled integer is below
  2^53 (Arrow's ``DecimalRealConversion``; not the correctly rounded ``float(d)``: the
  two differ on about a fifth of random 16-digit values). Anything else is unsure;
- ``date``: ``datetime.date`` values (not ``datetime``); ``timestamp``: naive
  ``datetime.datetime`` values (Arrow's microseconds hold every one; ``fold`` is 0);
- ``None`` is ``None`` in every type. Any other Python type (SQLite's dates as text,
  integers in a float column) is unsure.

``tests/gateway/enforcement/query/test_small_answer.py`` checks each type against
``batch_from_rows`` (hypothesis).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EXACT = 2**53  # below this Arrow converts an unscaled decimal without splitting it
# 10^-scale as the double nearest it (Arrow's table of powers of ten)
_NEGATIVE_POWERS = [float(f"1e-{scale}") for scale in range(19)]


def plain_values(values: Sequence[Any], logical: str) -> list[Any] | None:
    """``values`` as the batch column of logical type ``logical`` gives them back, or
    ``None`` when that is not certain here."""
    out = list(values)
    present = [v for v in out if v is not None]
    if not present:
        return out
    check = _CHECKS.get(logical)
    return None if check is None else check(out, present)


def _ints(out: list[Any], present: list[Any]) -> list[Any] | None:
    ok = all(type(v) is int and _INT64_MIN <= v <= _INT64_MAX for v in present)
    return out if ok else None


def _floats(out: list[Any], present: list[Any]) -> list[Any] | None:
    if all(type(v) is float for v in present):
        return out
    return _decimals(out, present) if all(type(v) is Decimal for v in present) else None


def _texts(out: list[Any], present: list[Any]) -> list[Any] | None:
    if not all(type(v) is str for v in present):
        return None
    try:
        "".join(present).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: Arrow refuses the value
        return None
    return out


def _of_type(kind: type) -> Callable[[list[Any], list[Any]], list[Any] | None]:
    def check(out: list[Any], present: list[Any]) -> list[Any] | None:
        return out if all(type(v) is kind for v in present) else None

    return check


def _timestamps(out: list[Any], present: list[Any]) -> list[Any] | None:
    if not all(type(v) is datetime.datetime and v.tzinfo is None for v in present):
        return None
    if any(v.fold for v in present):  # Arrow keeps no fold: it gives back fold=0
        return [v if v is None else v.replace(fold=0) for v in out]
    return out


def _decimals(values: list[Any], present: list[Decimal]) -> list[Any] | None:
    """``Decimal`` values as Arrow's inferred ``decimal128`` cast to ``float64``."""
    scale = 0
    for value in present:
        exponent = value.as_tuple().exponent
        if not isinstance(exponent, int) or exponent > 0:  # NaN, infinity, 1E+3
            return None
        scale = max(scale, -exponent)
    if scale >= len(_NEGATIVE_POWERS):
        return None
    power, ten = _NEGATIVE_POWERS[scale], 10**scale
    out: list[Any] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        numerator, denominator = value.as_integer_ratio()  # the denominator divides 10^scale
        unscaled = abs(numerator) * (ten // denominator)
        if unscaled >= _EXACT:
            return None
        number = float(unscaled) * power if scale else float(unscaled)
        out.append(-number if numerator < 0 else number)
    return out


_CHECKS: dict[str, Callable[[list[Any], list[Any]], list[Any] | None]] = {
    "string": _texts,
    "int64": _ints,
    "float64": _floats,
    "decimal": _floats,
    "bool": _of_type(bool),
    "date": _of_type(datetime.date),
    "timestamp": _timestamps,
}
