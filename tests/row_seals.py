"""A row-seal key for tests that write users or role lines without a gateway's wiring
(``gateway.wiring.row_seals`` registers the deployment's own at start-up)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from catalog.row_seals import RowSeals, register


def register_test_seals(url: str) -> RowSeals:
    """Register a fresh key for the catalog at ``url`` and return it."""
    seals = RowSeals(secrets.token_bytes(32))
    register(url, seals)
    return seals


class ListSink:
    """A trail that keeps what it is given, for code that appends before a gateway runs
    (``gateway.wiring.row_seals.adopt_unsealed_rows``)."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []

    def append(self, event: Mapping[str, object], /) -> None:
        self.events.append(dict(event))
