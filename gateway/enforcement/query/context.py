"""Who asks for what, from where: the typed context every step and every record of
one query reads.

Split in two on purpose. ``QueryRequest`` is what the HTTP route (or the comparison)
hands in — nothing about how the answer is encoded: the format and the BOM belong to
the response, not to enforcement. ``QueryContext`` is the same request once its catalog
entry is resolved; it is what a refusal, a start and an end of that query name on the
trail, so they cannot disagree about whom, what or which request they record.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.enforcement.query.entries import Entry
from gateway.enforcement.query.schemas import QueryBody
from policies.decision import UserContext


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the request came from, as the trail records it. ``request_id`` is the
    gateway's own; a client's ``X-Request-Id`` is only ever kept beside it."""

    request_id: str
    client: str | None = None
    client_request_id: str | None = None


@dataclass(frozen=True, slots=True)
class QueryRequest:
    """A governed query as asked: the caller, the entry's id, the body, the origin;
    ``generation``: the catalog generation read when the caller's identity was (the
    broker reads one itself when None)."""

    user: UserContext
    dataset_id: str
    body: QueryBody
    origin: Origin
    generation: int | None = None


@dataclass(frozen=True, slots=True)
class QueryContext:
    """A request whose entry is known (published, not frozen)."""

    user: UserContext
    entry: Entry
    body: QueryBody
    origin: Origin
    generation: int | None = None  # the catalog generation it is governed by

    @property
    def requested(self) -> tuple[str, ...]:
        """The columns the analyst asked for: those named, or every field of the entry
        when none is (what the request amounts to, before policy drops any). An
        aggregate query (issue 16) asks for what it groups on and aggregates, never rows
        (none at all for a count of every row)."""
        if self.body.aggregates:
            names = [
                *self.body.group_by,
                *(a.field for a in self.body.aggregates if a.field is not None),
            ]
            return tuple(dict.fromkeys(names))
        return tuple(self.body.fields) or tuple(f.name for f in self.entry.fields)

    @property
    def used(self) -> frozenset[str]:
        """Every field the result reads, as policy's ``used_names``: what it returns and
        every field it filters, sorts or groups on (a filter reads a field's values as
        surely as returning it does). A stream in flight is governed on these alone
        (``broker.still_covers``)."""
        body = self.body
        return frozenset((*self.requested, *(w.field for w in body.where),
                          *(o.field for o in body.orders()), *body.group_by))  # fmt: skip
