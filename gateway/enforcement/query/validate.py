"""Checks a query against the catalog entry and turns values into typed filters.

Every name must be a field of the entry (so identifiers only ever come from the
catalog); every value is coerced to the field's logical type, and a value that does
not fit is a 400, never a source error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from adapters.base import Filter, OrderBy
from adapters.plan import INT64_MAX, INT64_MIN
from catalog.errors import BadRequest
from gateway.enforcement.query.entries import Entry
from gateway.enforcement.query.schemas import QueryBody


def _coerce_scalar(value: Any, field_type: str, field: str) -> Any:
    try:
        if value is None:
            raise ValueError("null")
        if field_type == "string":
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise ValueError("not a string")
            return str(value)
        if field_type == "int64":
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise ValueError("not an integer")
            number = int(value)
            if not INT64_MIN <= number <= INT64_MAX:
                raise OverflowError("outside 64 bits")
            return number
        if field_type in ("float64", "decimal"):
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError("not a number")
            return float(value)
        if field_type == "bool":
            if not isinstance(value, bool):
                raise ValueError("not a boolean")
            return value
        if field_type == "date":
            return dt.date.fromisoformat(str(value))
        if field_type == "timestamp":
            return dt.datetime.fromisoformat(str(value))
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadRequest(
            f"bad value for field {field!r} ({field_type}): {exc}", field=field
        ) from None
    return value


def _check_text(value: Any, field: str) -> None:
    """A string a source cannot be sent (a lone surrogate is not UTF-8) is a 400."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest(f"bad value for field {field!r}: not valid text") from None


def _coerce(clause_value: Any, op: str, field_type: str, field: str, masked: bool) -> Any:
    _check_text(clause_value, field)
    if op == "is_null":
        if not isinstance(clause_value, bool):
            raise BadRequest(f"is_null on {field!r} takes true or false")
        return clause_value
    if masked:
        # only tokens (checked by policy); compared after masking, as strings
        if not isinstance(clause_value, str):
            raise BadRequest(f"filter on masked field {field!r} takes a tk_ token")
        return clause_value
    if op == "in":
        if not isinstance(clause_value, list) or not clause_value or len(clause_value) > 1000:
            raise BadRequest(f"'in' on {field!r} takes a list of 1 to 1000 values")
        return [_coerce_scalar(v, field_type, field) for v in clause_value]
    if op == "between":
        if not isinstance(clause_value, list) or len(clause_value) != 2:
            raise BadRequest(f"'between' on {field!r} takes [low, high]")
        return [_coerce_scalar(v, field_type, field) for v in clause_value]
    if op == "prefix":
        if not isinstance(clause_value, str) or not clause_value:
            raise BadRequest(f"'prefix' on {field!r} takes a non-empty string")
        return clause_value
    return _coerce_scalar(clause_value, field_type, field)


def check_names(body: QueryBody, dataset: Entry) -> None:
    """Every field named anywhere in the query must exist in the entry."""
    known = {f.name for f in dataset.fields}
    aliases = {a.as_ for a in body.aggregates}  # an aggregate query sorts on them too
    named = [*body.fields, *(w.field for w in body.where)]
    named += [o.field for o in body.orders() if o.field not in aliases]
    named += body.group_by + body.unmask
    named += [a.field for a in body.aggregates if a.field is not None]
    unknown = sorted({n for n in named if n not in known})
    if unknown:
        raise BadRequest(f"unknown field(s) for {dataset.id}: {', '.join(unknown)}", fields=unknown)
    if len(set(body.fields)) != len(body.fields):
        raise BadRequest("a field is named twice in 'fields'")


def build_filters(
    body: QueryBody, dataset: Entry, masked: set[str]
) -> tuple[list[Filter], list[Filter]]:
    """Split the user's filters into those pushed to the source and token filters
    applied after masking (equality on a ``hash``-masked field)."""
    types = {f.name: f.type for f in dataset.fields}
    pushed: list[Filter] = []
    post: list[Filter] = []
    for w in body.where:
        is_masked = w.field in masked
        value = _coerce(w.value, w.op, types[w.field], w.field, is_masked)
        (post if is_masked else pushed).append(Filter(w.field, w.op, value))
    return pushed, post


def build_order(body: QueryBody) -> list[OrderBy]:
    return [OrderBy(o.field, o.desc) for o in body.orders()]
