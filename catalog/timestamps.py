"""One way every timestamp leaves the API: RFC 3339 in UTC, ``Z``, microseconds —
``2026-01-02T03:04:05.000000Z`` — the style of the audit trail's own ``ts`` (which is
hashed into the chain and cannot change), so a client parses one format everywhere and
text order is time order.

``UtcDatetime`` is the type response schemas declare; ``utc_text`` is the same for the
few responses built as dictionaries. A naive value is UTC: the catalog stores UTC, and
SQLite hands it back without its offset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer, WithJsonSchema

RFC3339_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"


def as_utc(value: datetime) -> datetime:
    """The same instant, aware and in UTC (a naive value is taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc_text(value: datetime) -> str:
    return as_utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


UtcDatetime = Annotated[
    datetime,
    AfterValidator(as_utc),
    PlainSerializer(utc_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": RFC3339_UTC,
            "examples": ["2026-01-02T03:04:05.000000Z"],
        }
    ),
]
