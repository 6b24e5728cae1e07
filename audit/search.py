"""Reading the trail: filtered, cursor-paged event lists and single events.

Filters use the indexed columns; what is returned is always parsed from the hashed
body, never from the columns (``verify`` checks the two agree), so an edited column
can hide an event from a search until the next verify but can never change what a
reviewer reads. A decision that must see *every* event of a kind therefore does not
search: it reads ``audit.follow``'s index of the verified chain (red team 40).

"Who looked up whom": ``subject_token`` finds the events that carry a person's keyed
token in ``details.subject_tokens`` — queries that returned their records and
comparisons that matched them (``comparison.completed``), and the sides of comparisons
that read them without delivering them (``details.delivered`` false) — and every event
whose list was cut at 1,000 people (``details.subject_tokens_truncated``: it may have
read the person; the reviewer sees the flag). No column holds
the tokens (an index on every append would cost the writer), so the body is searched as
text for the exact quoted token and each hit is then confirmed on the parsed body; a
page may hold fewer items than ``limit`` while ``next_cursor`` still says where to go on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from audit.chain import parse_body
from audit.events import format_ts
from audit.store import AuditStore
from catalog.errors import BadRequest, NotFound, Unavailable

MAX_LIMIT = 1000
# an event whose token list was cut (the first 1,000 people) may have read anyone: a
# search for one person lists it too, marked so, rather than miss it (red team 13)
TRUNCATED = "subject_tokens_truncated"
UNREADABLE = "unreadable"  # an event whose stored body is not a JSON object
# ``tk_`` + hex, as ``gateway.enforcement.masking.tokens`` makes them (a bounded length)
SUBJECT_TOKEN = re.compile(r"^tk_[0-9a-f]{8,64}$")


@dataclass(frozen=True)
class EventFilter:
    """What a reviewer can ask for; every field is optional and they combine with AND."""

    actor: str | None = None
    department: str | None = None  # the actor's or the resource's department
    dataset: str | None = None
    resource: str | None = None
    type: str | None = None  # exact, or a family such as "query.*"
    decision: Literal["allow", "deny"] | None = None
    outcome: str | None = None
    purpose: str | tuple[str, ...] | None = None  # exact; a tuple: any of them
    case_ref: str | tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    from_seq: int | None = None
    to_seq: int | None = None
    subject_token: str | None = None  # a person's keyed token ("who looked up whom")

    def __post_init__(self) -> None:
        if self.subject_token is not None and not SUBJECT_TOKEN.match(self.subject_token):
            raise BadRequest("subject_token must be a token: tk_ and 8-64 hex digits")

    def matches(self, event: dict[str, Any]) -> bool:
        """The checks the SQL cannot make exactly, on the parsed (hashed) body."""
        if self.subject_token is None:
            return True
        details = event.get("details")
        if not isinstance(details, dict):
            return False
        tokens = details.get("subject_tokens")
        found = isinstance(tokens, list) and self.subject_token in tokens
        return found or details.get(TRUNCATED) is True

    def said_by_body(self, event: dict[str, Any]) -> bool:
        """Whether the hashed body says the type, resource and actor the indexed columns
        were searched for. A reader that takes a decision from what a search found must
        ask: the columns are an insider's to edit without touching a body, hash or MAC,
        so a genuine event of someone else's, indexed as another subject's
        ``user.suspended``, was found as one and believed (red team 47)."""
        actor = event.get("actor")
        said = {"type": event.get("type"), "resource": event.get("resource"),
                "actor": actor.get("sub") if isinstance(actor, dict) else None}  # fmt: skip
        family = self.type[:-1] if self.type and self.type.endswith(".*") else None
        wanted = {"resource": self.resource or (self.dataset and f"dataset:{self.dataset}"),
                  "actor": self.actor, "type": None if family else self.type}  # fmt: skip
        if family is not None and not str(said["type"]).startswith(family):
            return False
        return all(said[k] == v for k, v in wanted.items() if v)

    def where(self, p: str) -> tuple[str, list[Any]]:
        # the chain's seqs only: a row an insider INSERTed below seq 1 is outside what
        # the writer and verification check, so no event of the trail (red team 17)
        clauses: list[str] = ["seq >= 1"]
        params: list[Any] = []

        def add(sql: str, *values: Any) -> None:
            clauses.append(sql)
            params.extend(values)

        if self.actor:
            add(f"actor_sub = {p}", self.actor)
        if self.department:
            add(f"(actor_dept = {p} OR resource_dept = {p})", self.department, self.department)
        if self.dataset:
            add(f"resource = {p}", f"dataset:{self.dataset}")
        if self.resource:
            add(f"resource = {p}", self.resource)
        if self.type:
            if self.type.endswith(".*"):
                add(f"type LIKE {p}", self.type[:-1] + "%")
            else:
                add(f"type = {p}", self.type)
        if self.decision:
            add(f"decision_allow = {p}", self.decision == "allow")
        for column in ("outcome", "purpose", "case_ref"):
            value = getattr(self, column)
            if isinstance(value, tuple) and value:
                add(f"{column} IN ({', '.join([p] * len(value))})", *value)
            elif value:
                add(f"{column} = {p}", value)
        if self.since:
            add(f"ts >= {p}", format_ts(self.since))
        if self.until:
            add(f"ts < {p}", format_ts(self.until))
        if self.from_seq is not None:
            add(f"seq >= {p}", self.from_seq)
        if self.to_seq is not None:
            add(f"seq <= {p}", self.to_seq)
        if self.subject_token is not None:
            # the token is [a-z0-9_] only (validated): escaping '_' makes LIKE exact
            add(f"(body LIKE {p} ESCAPE '!' OR body LIKE {p} ESCAPE '!')",
                '%"' + self.subject_token.replace("_", "!_") + '"%',
                '%"' + TRUNCATED.replace("_", "!_") + '":true%')  # fmt: skip
        return " AND ".join(clauses), params


def present(seq: int, prev_hash: str, hash_hex: str, body: str | bytes) -> dict[str, Any]:
    """An event as reviewers see it: the hashed body plus its chain links. A body that
    is not a JSON object (written behind the gateway: verification names it, the
    monitor's walk seals on it) is shown as such, not a 500 for whoever reads past it."""
    parsed = parse_body(body)
    event: dict[str, Any] = parsed if type(parsed) is dict else {UNREADABLE: True}
    event["seq"] = seq
    event["prev_hash"] = prev_hash
    event["hash"] = hash_hex
    return event


MAX_CURSOR = 2**63 - 1  # a sequence number: the store's BIGINT


def list_events(
    *,
    store: AuditStore,
    filters: EventFilter,
    cursor: str | None = None,
    limit: int = 100,
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    """One page of events and the cursor of the next page (None at the end)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    p = store.p
    where, params = filters.where(p)
    if cursor:
        # ASCII digits within the store's BIGINT: '²' passes isdigit, 20 digits overflow
        if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > MAX_CURSOR:
            raise BadRequest("bad cursor")
        where += f" AND seq {'<' if order == 'desc' else '>'} {p}"
        params.append(int(cursor))
    direction = "DESC" if order == "desc" else "ASC"
    sql = (
        f"SELECT seq, prev_hash, hash, body FROM audit_events WHERE {where} "
        f"ORDER BY seq {direction} LIMIT {int(limit) + 1}"
    )
    rows = _query(store, sql, params)
    items = [event for event in (present(*row) for row in rows[:limit])
             if filters.matches(event)]  # fmt: skip
    next_cursor = str(rows[limit - 1][0]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


def get_event(*, store: AuditStore, seq: int) -> dict[str, Any]:
    p = store.p
    rows = _query(
        store, f"SELECT seq, prev_hash, hash, body FROM audit_events WHERE seq = {p}", [seq]
    )
    if not rows:
        raise NotFound(f"no audit event {seq}")
    return present(*rows[0])


def iter_bodies(
    *, store: AuditStore, filters: EventFilter, chunk: int = 5000
) -> list[dict[str, Any]]:
    """Every matching event in seq order (for alerts over a bounded time window)."""
    where, params = filters.where(store.p)
    sql = f"SELECT seq, prev_hash, hash, body FROM audit_events WHERE {where} ORDER BY seq"
    with store.reading() as conn:
        try:
            found = (present(*row) for rows in store.stream(conn, sql, params, chunk)
                     for row in rows)  # fmt: skip
            return [event for event in found if filters.matches(event)]
        except store.driver_errors as exc:
            raise Unavailable(f"audit store failed: {exc}") from exc


def _query(store: AuditStore, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with store.reading() as conn:
        try:
            return store.fetch_all(conn, sql, params)
        except store.driver_errors as exc:
            raise Unavailable(f"audit store failed: {exc}") from exc
