"""The audit event: its fields, validation, and the indexed columns derived from it.

An event is validated and completed (ts, event_id, defaults) in the caller's thread so
that a malformed event fails the caller at once with ``MalformedEvent`` (a
BadRequest), an unknown type included, and the single writer
thread only has to add ``seq`` and hash. Top-level keys are an allow-list: the chain
hashes exactly what DESIGN.md lists plus ``details`` for rule-specific extras (the
gateway puts ``subject_tokens``, ``self_hash_hit`` and ``resource_dept`` there).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audit.canonical import canonical_json, is_orjson_safe
from audit.event_types import EventType, MalformedEvent, Outcome

# the vocabulary lives in audit.event_types (StrEnum: members are their strings)
EVENT_TYPES = frozenset(str(t) for t in EventType)
OUTCOMES = frozenset(str(o) for o in Outcome)
GENESIS_HASH = "0" * 64
_TYPE_RE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")

FIELDS = (
    "ts",
    "event_id",
    "type",
    "actor",
    "resource",
    "purpose",
    "case_ref",
    "decision",
    "policy_version",
    "fields",
    "row_filter",
    "rows",
    "result_sha256",
    "client",
    "request_id",
    "duration_ms",
    "outcome",
    "details",
)
INDEX_COLUMNS = (
    "ts",
    "type",
    "actor_sub",
    "actor_dept",
    "resource",
    "resource_dept",
    "outcome",
    "purpose",
    "case_ref",
    "decision_allow",
)


def format_ts(moment: datetime) -> str:
    """Fixed-width UTC ISO-8601 with microseconds, so text order is time order."""
    if moment.tzinfo is None:
        raise MalformedEvent("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


# ``format_ts``'s own shape: ``fromisoformat`` reads it ~20x faster than ``strptime``
# (the alert runner parses every event it reads); any other text keeps strptime's rules
_FORMATTED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def parse_ts(text: str) -> datetime:
    if _FORMATTED.fullmatch(text):
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Prepared:
    """A validated event without ``seq``, serialised in the caller's thread.

    ``data`` is the canonical JSON of ``body``; the writer inserts ``,"seq":N`` at
    ``split`` (keys are sorted and every body has ``rows`` then ``ts``, so seq's place
    is fixed), giving exactly ``canonical_json(body | {"seq": N})``."""

    body: dict[str, Any]
    orjson_safe: bool
    index: tuple[Any, ...]
    data: bytes = b""
    split: int = 0

    def canonical(self, seq: int) -> bytes:
        """The canonical bytes of the event with its seq."""
        split = self.split
        return b'%s,"seq":%d%s' % (self.data[:split], seq, self.data[split:])


_FIELD_SET = frozenset(FIELDS)
_TS_UTC = UTC
# The indexed columns' widths (migration 0002): a longer value, or a NUL (PostgreSQL
# text cannot hold one), would fail the writer's whole batch, so it is refused here.
_INDEX_LIMITS = (
    (2, "actor.sub", 128),
    (3, "actor.dept", 64),
    (4, "resource", 300),
    (5, "details.resource_dept", 64),
    (7, "purpose", 300),
    (8, "case_ref", 200),
)


def _opt_str(event: Mapping[str, Any], key: str) -> str | None:
    value = event.get(key)
    if value is None or isinstance(value, str):
        return value
    raise MalformedEvent(f"audit event field {key!r} must be a string")


def _actor(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not isinstance(value.get("sub"), str):
        raise MalformedEvent("audit event needs actor.sub")
    dept = value.get("dept")
    roles = value.get("roles") or []
    if dept is not None and not isinstance(dept, str):
        raise MalformedEvent("actor.dept must be a string")
    if not all(isinstance(r, str) for r in roles):
        raise MalformedEvent("actor.roles must be strings")
    return {"sub": value["sub"], "dept": dept, "roles": sorted(roles)}


def _decision(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("allow"), bool):
        raise MalformedEvent("decision needs a boolean allow")
    reasons = list(value.get("reasons") or [])
    return {"allow": value["allow"], "reasons": reasons, "decision_id": value.get("decision_id")}


def _timestamp(ts: Any, clock: Callable[[], datetime]) -> str:
    if ts is None:
        moment = clock()
        if moment.tzinfo is _TS_UTC:  # the common case; cheaper than format_ts (bench.audit_design)
            return moment.isoformat(timespec="microseconds")[:-6] + "Z"
        return format_ts(moment)
    if isinstance(ts, datetime):
        return format_ts(ts)
    return format_ts(parse_ts(str(ts)))


# what one action's records share (``Family``): who, on what, why, under which decision
SHARED = ("actor", "resource", "purpose", "case_ref", "decision", "policy_version", "fields",
          "row_filter", "client", "request_id")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Family:
    """The part of one action's records that no record of it changes (a query's start
    and its end share all of ``SHARED``), checked and walked once: ``family_of``.
    Each record is then a ``FamilyEvent`` naming only what differs, and ``prepare``
    gives it exactly the body and bytes the whole event would have had."""

    shared: dict[str, Any]
    safe: bool

    def event(
        self, type_: str, outcome: str, *, rows: int | None = None,
        result_sha256: str | None = None, duration_ms: float | None = None,
        details: Mapping[str, object] | None = None,
    ) -> FamilyEvent:  # fmt: skip
        return FamilyEvent(self, type_, outcome, rows, result_sha256, duration_ms,
                           details or {})  # fmt: skip


@dataclass(frozen=True, slots=True)
class FamilyEvent:
    """One record of a ``Family``: what it does not share."""

    family: Family
    type: str
    outcome: str
    rows: int | None
    result_sha256: str | None
    duration_ms: float | None
    details: Mapping[str, object]


def family_of(event: Mapping[str, Any]) -> Family:
    """``event``'s shared part, checked as ``prepare`` checks it (``MalformedEvent``)."""
    if not _FIELD_SET.issuperset(event):
        raise MalformedEvent(f"unknown audit event fields: {sorted(set(event) - _FIELD_SET)}")
    body = _body(event, "", _event_type(event.get("type")), _outcome(event.get("outcome")))
    shared = {key: body[key] for key in SHARED}
    return Family(shared, is_orjson_safe(shared["fields"]) and is_orjson_safe(shared["decision"]))


def family_from(
    *, actor: Mapping[str, Any], resource: str | None, purpose: str | None,
    case_ref: str | None, decision: Mapping[str, Any] | None, policy_version: str | None,
    fields: Mapping[str, Any], row_filter: str | None, client: str | None,
    request_id: str | None,
) -> Family:  # fmt: skip
    """``family_of`` an event holding these shared parts, built from them directly: the
    same checks (``MalformedEvent``) and the same ``Family``, without a whole event made
    and walked first (issue 17: the query's start, once per governed request)."""
    texts = {"resource": resource, "purpose": purpose, "case_ref": case_ref,
             "policy_version": policy_version, "row_filter": row_filter, "client": client,
             "request_id": request_id}  # fmt: skip
    for key, value in texts.items():
        if value is not None and not isinstance(value, str):
            raise MalformedEvent(f"audit event field {key!r} must be a string")
    if not isinstance(fields, Mapping):
        raise MalformedEvent("fields and details must be objects")
    shared = {"actor": _actor(actor), "decision": _decision(decision), "fields": dict(fields),
              **texts}  # fmt: skip
    return Family(shared, is_orjson_safe(shared["fields"]) and is_orjson_safe(shared["decision"]))


def _prepare_member(event: FamilyEvent, clock: Callable[[], datetime]) -> Prepared:
    """``prepare`` for one record of a family: only what differs is checked and walked."""
    details = event.details
    if not isinstance(details, Mapping):
        raise MalformedEvent("fields and details must be objects")
    sha = event.result_sha256
    if sha is not None and not isinstance(sha, str):
        raise MalformedEvent("audit event field 'result_sha256' must be a string")
    etype, outcome = _event_type(event.type), _outcome(event.outcome)
    body = {
        **event.family.shared,
        "ts": _timestamp(None, clock),
        "event_id": os.urandom(16).hex(),
        "type": etype,
        "rows": _rows(event.rows),
        "result_sha256": sha,
        "duration_ms": _duration(event.duration_ms),
        "outcome": outcome,
        "details": dict(details),
    }
    safe = event.family.safe and is_orjson_safe(body["details"])
    safe = safe and abs(body["duration_ms"] or 0) < 1e15
    index = _index(body)
    _check_index(index)
    data, split = _serialise(body, safe)
    return Prepared(body, safe, index, data, split)


def prepare(
    event: Mapping[str, Any] | FamilyEvent, *, clock: Callable[[], datetime] = utc_now
) -> Prepared:
    """Validate, complete and serialise an event; raises ``MalformedEvent`` naming the bad
    field (or the unknown type) before anything reaches the chain."""
    if isinstance(event, FamilyEvent):
        return _prepare_member(event, clock)
    if not _FIELD_SET.issuperset(event):
        raise MalformedEvent(f"unknown audit event fields: {sorted(set(event) - _FIELD_SET)}")
    etype = _event_type(event.get("type"))
    outcome = _outcome(event.get("outcome"))
    ts = _timestamp(event.get("ts"), clock)
    body = _body(event, ts, etype, outcome)
    # Only the free-form parts need the walk: _body() built the rest from checked types
    # (duration_ms is rounded to 3 decimals, so it is either an int or orjson-safe).
    safe = is_orjson_safe(body["fields"]) and is_orjson_safe(body["details"])
    safe = safe and is_orjson_safe(body["decision"]) and abs(body["duration_ms"] or 0) < 1e15
    index = _index(body)
    _check_index(index)
    data, split = _serialise(body, safe)
    return Prepared(body, safe, index, data, split)


def _event_type(value: Any) -> str:
    if isinstance(value, EventType):  # a member is its string; the body keeps plain str
        value = value.value
    if type(value) is not str or not _TYPE_RE.fullmatch(value):
        raise MalformedEvent(f"bad audit event type {value!r}")
    if value not in EVENT_TYPES:
        raise MalformedEvent(
            f"unknown audit event type {value!r}: add it to audit.event_types.EventType"
        )
    return value


def _outcome(value: Any) -> str:
    if isinstance(value, Outcome):
        value = value.value
    if value not in OUTCOMES:
        raise MalformedEvent(f"bad audit event outcome {value!r}")
    return str(value)


def _rows(value: Any) -> int | None:
    if value is not None and (type(value) is not int or value < 0):
        raise MalformedEvent("rows must be a non-negative integer")
    return value


def _duration(value: Any) -> int | float | None:
    """Milliseconds rounded to 3 decimals, an int when whole (one canonical form)."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise MalformedEvent("duration_ms must be a number")
    rounded = round(float(value), 3)
    return int(rounded) if rounded == int(rounded) else rounded


def _body(event: Mapping[str, Any], ts: str, etype: str, outcome: str) -> dict[str, Any]:
    """Every field DESIGN.md lists, checked, in the one shape the chain hashes."""
    rows = _rows(event.get("rows"))
    duration = _duration(event.get("duration_ms"))
    details = event.get("details") or {}
    fields = event.get("fields") or {}
    if not isinstance(details, Mapping) or not isinstance(fields, Mapping):
        raise MalformedEvent("fields and details must be objects")
    actor = _actor(event.get("actor"))
    decision = _decision(event.get("decision"))
    return {
        "ts": ts,
        "event_id": _opt_str(event, "event_id") or os.urandom(16).hex(),
        "type": etype,
        "actor": actor,
        "resource": _opt_str(event, "resource"),
        "purpose": _opt_str(event, "purpose"),
        "case_ref": _opt_str(event, "case_ref"),
        "decision": decision,
        "policy_version": _opt_str(event, "policy_version"),
        "fields": dict(fields),
        "row_filter": _opt_str(event, "row_filter"),
        "rows": rows,
        "result_sha256": _opt_str(event, "result_sha256"),
        "client": _opt_str(event, "client"),
        "request_id": _opt_str(event, "request_id"),
        "duration_ms": duration,
        "outcome": outcome,
        "details": dict(details),
    }


def _index(body: dict[str, Any]) -> tuple[Any, ...]:
    """``index_of`` for a body ``_body`` built (known shape: direct reads, the hot path)."""
    actor, decision, dept = body["actor"], body["decision"], body["details"].get("resource_dept")
    return (
        body["ts"],
        body["type"],
        actor["sub"],
        actor["dept"],
        body["resource"],
        dept if isinstance(dept, str) else None,
        body["outcome"],
        body["purpose"],
        body["case_ref"],
        None if decision is None else decision["allow"],
    )


def _check_index(index: tuple[Any, ...]) -> None:
    for position, name, limit in _INDEX_LIMITS:
        value = index[position]
        if value is not None and (len(value) > limit or "\x00" in value):
            raise MalformedEvent(f"audit event field {name} is too long or holds a NUL character")


def _serialise(body: dict[str, Any], safe: bool) -> tuple[bytes, int]:
    """The canonical bytes and where ``seq`` goes in them (see ``Prepared``).

    Serialised here, not in the writer: a value that cannot be canonicalised (a lone
    surrogate) fails this caller only, and the writer's loop stays short."""
    data = canonical_json(body, checked=safe)
    tail = b',"ts":"%s","type":"%s"}' % (body["ts"].encode(), body["type"].encode())
    if not data.endswith(tail):  # cannot happen: ts and type are plain ASCII, keys sorted
        raise MalformedEvent("audit event cannot be serialised")
    return data, len(data) - len(tail)


def index_of(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """The indexed columns as derived from a body; verify() checks the table agrees."""
    actor = body.get("actor") or {}
    decision = body.get("decision")
    details = body.get("details") or {}
    dept = details.get("resource_dept") if isinstance(details, Mapping) else None
    return (
        body.get("ts"),
        body.get("type"),
        actor.get("sub"),
        actor.get("dept"),
        body.get("resource"),
        dept if isinstance(dept, str) else None,
        body.get("outcome"),
        body.get("purpose"),
        body.get("case_ref"),
        decision.get("allow") if isinstance(decision, Mapping) else None,
    )
