"""The audit event: its fields, validation, and the indexed columns derived from it.

An event is validated and completed (ts, event_id, defaults) in the caller's thread so
that a malformed event fails the caller at once with BadRequest, and the single writer
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

from audit.canonical import is_orjson_safe
from catalog.errors import BadRequest

EVENT_TYPES = frozenset(
    {
        "query.started",
        "query.completed",
        "query.failed",
        "query.denied",
        "access.requested",
        "access.approved",
        "access.rejected",
        "access.revoked",
        "source.registered",
        "source.updated",
        "dataset.published",
        "dataset.updated",
        "audit.read",
        "audit.exported",
        "audit.verified",
        "user.updated",
        "role.assigned",
        "role.unassigned",
    }
)
OUTCOMES = frozenset({"ok", "denied", "error", "started"})
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
        raise BadRequest("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Prepared:
    """A validated event body without ``seq``, ready for the writer."""

    body: dict[str, Any]
    orjson_safe: bool
    index: tuple[Any, ...]


def _opt_str(event: Mapping[str, Any], key: str) -> str | None:
    value = event.get(key)
    if value is None or isinstance(value, str):
        return value
    raise BadRequest(f"audit event field {key!r} must be a string")


def _actor(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not isinstance(value.get("sub"), str):
        raise BadRequest("audit event needs actor.sub")
    dept = value.get("dept")
    roles = value.get("roles") or []
    if dept is not None and not isinstance(dept, str):
        raise BadRequest("actor.dept must be a string")
    if not all(isinstance(r, str) for r in roles):
        raise BadRequest("actor.roles must be strings")
    return {"sub": value["sub"], "dept": dept, "roles": sorted(roles)}


def _decision(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("allow"), bool):
        raise BadRequest("decision needs a boolean allow")
    reasons = list(value.get("reasons") or [])
    return {"allow": value["allow"], "reasons": reasons, "decision_id": value.get("decision_id")}


def prepare(event: Mapping[str, Any], *, clock: Callable[[], datetime] = utc_now) -> Prepared:
    """Validate and complete an event; raises BadRequest naming the bad field."""
    unknown = set(event) - set(FIELDS)
    if unknown:
        raise BadRequest(f"unknown audit event fields: {sorted(unknown)}")
    etype = event.get("type")
    if not isinstance(etype, str) or not _TYPE_RE.match(etype):
        raise BadRequest(f"bad audit event type {etype!r}")
    outcome = event.get("outcome")
    if outcome not in OUTCOMES:
        raise BadRequest(f"bad audit event outcome {outcome!r}")
    ts = event.get("ts")
    if ts is None:
        ts = format_ts(clock())
    elif isinstance(ts, datetime):
        ts = format_ts(ts)
    else:
        ts = format_ts(parse_ts(str(ts)))
    rows = event.get("rows")
    if rows is not None and (type(rows) is not int or rows < 0):
        raise BadRequest("rows must be a non-negative integer")
    duration = event.get("duration_ms")
    if duration is not None:
        if not isinstance(duration, int | float) or isinstance(duration, bool):
            raise BadRequest("duration_ms must be a number")
        duration = round(float(duration), 3)
        if duration == int(duration):
            duration = int(duration)
    details = event.get("details") or {}
    fields = event.get("fields") or {}
    if not isinstance(details, Mapping) or not isinstance(fields, Mapping):
        raise BadRequest("fields and details must be objects")
    body: dict[str, Any] = {
        "ts": ts,
        "event_id": _opt_str(event, "event_id") or os.urandom(16).hex(),
        "type": etype,
        "actor": _actor(event.get("actor")),
        "resource": _opt_str(event, "resource"),
        "purpose": _opt_str(event, "purpose"),
        "case_ref": _opt_str(event, "case_ref"),
        "decision": _decision(event.get("decision")),
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
    # Only the free-form parts need the walk: prepare() built the rest from checked types
    # (duration_ms is rounded to 3 decimals, so it is either an int or orjson-safe).
    safe = is_orjson_safe(body["fields"]) and is_orjson_safe(body["details"])
    safe = safe and is_orjson_safe(body["decision"]) and abs(duration or 0) < 1e15
    return Prepared(body=body, orjson_safe=safe, index=index_of(body))


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
