"""Audit events as frozen values, and the one builder per kind of record.

Every event the gateway, the CLI and the audit package append is built here, so a
reader finds in one page what each kind of record holds, and a call site cannot
misspell a key, a type or an outcome: ``AuditEvent`` checks its type against
``EventType`` and its outcome against ``Outcome`` when it is built, and
``audit.events.prepare`` checks every event again on append (an event built as a
plain dict, too).

``AuditEvent`` is a read-only ``Mapping`` of the keys DESIGN.md lists, so it goes to
``AuditSink.append`` as it is and hashes exactly as the dict it replaces; ``None``
values are left out (``prepare`` fills them with ``None`` again, so the chain's bytes
do not change). ``details`` holds the rule-specific extras (``resource_dept`` for the
"many departments" alert, ``subject_tokens`` for "who looked up whom").

This module knows no HTTP and no policy engine (``audit`` sits below ``policies``):
the gateway turns its ``Decision`` into a ``DecisionRecord`` and its ``UserContext``
into an ``Actor`` (``Actor.of`` takes anything with ``subject``, ``department`` and
``roles``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from audit.event_types import (
    ACCESS_TYPES,
    AUDIT_ACCESS_TYPES,
    COMPARISON_MODEL_TYPES,
    COMPARISON_RUN_TYPES,
    COMPARISON_SCHEDULE_TYPES,
    COMPARISON_TYPES,
    EMERGENCY_TYPES,
    KEY_TYPES,
    QUERY_TYPES,
    REGISTRATION_TYPES,
    REIDENTIFICATION_TYPES,
    TOKEN_TYPES,
    USER_ADMIN_TYPES,
    EventType,
    MalformedEvent,
    Outcome,
)

Details = Mapping[str, object]


class Principal(Protocol):
    """Who acted, as the gateway knows them (``policies.decision.UserContext`` is one)."""

    @property
    def subject(self) -> str: ...

    @property
    def department(self) -> str | None: ...

    @property
    def roles(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """The ``actor`` of an event: subject, department, roles."""

    sub: str
    dept: str | None
    roles: tuple[str, ...] = ()

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.subject, principal.department, tuple(principal.roles))

    @classmethod
    def cli(cls, login: str) -> Actor:
        """An operator at the ``sluice`` command line (no token, no department)."""
        return cls(f"cli:{login}", None, ("cli",))

    def wire(self) -> dict[str, object]:
        return {"sub": self.sub, "dept": self.dept, "roles": list(self.roles)}


@dataclass(frozen=True, slots=True)
class FieldRecord:
    """What policy did with one field: ``allow`` / ``mask`` (with its method) / ``deny``."""

    action: str
    method: str | None = None


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """The part of a policy decision the trail keeps.

    ``approval_fields`` is ``None`` unless the decision required an approval (then the
    fields that did, possibly none): the record says ``requires_approval`` only then.
    """

    allow: bool
    reasons: tuple[str, ...]
    decision_id: str | None
    policy_version: str | None
    fields: Mapping[str, FieldRecord] = field(default_factory=dict)
    row_filter: str | None = None  # readable: "region_code starts with 430121|430122"
    approval_fields: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """What left at the end of a query or comparison (none of it at the start)."""

    rows: int | None = None
    result_sha256: str | None = None
    duration_ms: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregateRecord:
    """An aggregate query's shape (issue 16) and, once it ran, its groups: those sent
    and how many of them were suppressed (``groups_read``: the whole grouping)."""

    group_by: tuple[str, ...]
    functions: tuple[str, ...]  # "count(*)", "sum(monthly_amount)"
    min_group_size: int | None = None
    groups: int | None = None
    suppressed: int | None = None
    groups_read: int | None = None

    def wire(self) -> dict[str, object]:
        out: dict[str, object] = {"group_by": list(self.group_by),
                                  "functions": list(self.functions)}  # fmt: skip
        for key in ("min_group_size", "groups", "suppressed", "groups_read"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


_NO_DELIVERY = Delivery()
_KNOWN_TYPES = frozenset(EventType)
_KNOWN_OUTCOMES = frozenset(Outcome)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent(Mapping[str, object]):
    """One event, before the trail gives it ``seq``, ``ts``, ``event_id`` and its hash.

    Built by the functions below; refuses a type or outcome outside the vocabulary at
    once (``MalformedEvent``), so the mistake fails where it is made."""

    type: EventType
    actor: Actor
    outcome: Outcome
    resource: str | None = None
    purpose: str | None = None
    case_ref: str | None = None
    decision: DecisionRecord | None = None
    client: str | None = None
    request_id: str | None = None
    delivery: Delivery = _NO_DELIVERY
    details: Details = field(default_factory=dict)
    _wire: Mapping[str, object] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.type not in _KNOWN_TYPES:
            raise MalformedEvent(f"unknown audit event type {self.type!r}")
        if self.outcome not in _KNOWN_OUTCOMES:
            raise MalformedEvent(f"unknown audit event outcome {self.outcome!r}")
        # a plain string naming a member becomes the member (the type says so)
        object.__setattr__(self, "type", EventType(self.type))
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        object.__setattr__(self, "_wire", MappingProxyType(self._to_wire()))

    def _to_wire(self) -> dict[str, object]:
        wire: dict[str, object] = {
            "type": str(self.type),
            "actor": self.actor.wire(),
            "outcome": str(self.outcome),
            "resource": self.resource,
            "purpose": self.purpose,
            "case_ref": self.case_ref,
            "client": self.client,
            "request_id": self.request_id,
            "rows": self.delivery.rows,
            "result_sha256": self.delivery.result_sha256,
            "duration_ms": self.delivery.duration_ms,
            "details": dict(self.details),
        }
        decision = self.decision
        if decision is not None:
            wire["decision"] = {
                "allow": decision.allow,
                "reasons": list(decision.reasons),
                "decision_id": decision.decision_id,
            }
            wire["policy_version"] = decision.policy_version
            wire["fields"] = {
                name: {"action": f.action, "method": f.method}
                for name, f in decision.fields.items()
            }
            wire["row_filter"] = decision.row_filter
        return {key: value for key, value in wire.items() if value is not None}

    def __getitem__(self, key: str) -> object:
        return self._wire[key]

    # Mapping's own get and `in` go through __getitem__ and a KeyError for every field
    # left out (most events omit several): the trail reads each field of every event
    def get(self, key: str, default: object = None) -> object:
        return self._wire.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._wire

    def __iter__(self) -> Iterator[str]:
        return iter(self._wire)

    def __len__(self) -> int:
        return len(self._wire)


def _of(kind: str, allowed: frozenset[EventType], type_: EventType | str) -> EventType:
    try:
        event_type = EventType(type_)
    except ValueError:
        raise MalformedEvent(f"unknown audit event type {type_!r}") from None
    if event_type not in allowed:
        raise MalformedEvent(f"{event_type} is not one of the {kind} events")
    return event_type


def _outcome(outcome: Outcome | str) -> Outcome:
    try:
        return Outcome(outcome)
    except ValueError:
        raise MalformedEvent(f"unknown audit event outcome {outcome!r}") from None


def query_event(
    *,
    type_: EventType | str,
    actor: Actor,
    dataset_id: str,
    department: str,
    purpose: str,
    case_ref: str,
    request_id: str,
    outcome: Outcome | str,
    client: str | None = None,
    level: str | None = None,
    source_id: str | None = None,
    decision: DecisionRecord | None = None,
    delivery: Delivery = _NO_DELIVERY,
    details: Details | None = None,
    aggregate: AggregateRecord | None = None,
) -> AuditEvent:
    """A query's start, refusal or end (``query.*``), on ``dataset:<id>``.

    ``purpose`` and ``case_ref`` are what policy was asked with (never ``None``: the
    request schema makes a missing one ``""``), so the trail and the decision agree.
    An aggregate query's record carries ``details.aggregate`` (``AggregateRecord``)."""
    approval = decision.approval_fields if decision is not None else None
    extra = query_details(department=department, level=level, source_id=source_id,
                          approval_fields=approval, aggregate=aggregate,
                          details=details)  # fmt: skip
    return AuditEvent(
        type=_of("query", QUERY_TYPES, type_),
        actor=actor,
        outcome=_outcome(outcome),
        resource=f"dataset:{dataset_id}",
        purpose=purpose,
        case_ref=case_ref,
        decision=decision,
        client=client,
        request_id=request_id,
        delivery=delivery,
        details=extra,
    )


def query_details(
    *,
    department: str,
    level: str | None,
    source_id: str | None,
    approval_fields: Sequence[str] | None,
    aggregate: AggregateRecord | None,
    details: Details | None,
) -> dict[str, object]:
    """A query record's ``details``: the resource's department, level and source (the
    alert rules read them), the fields that required an approval, the aggregate, then
    the record's own ``details``. ``query_event`` builds them so, and so does an end
    built from its start's ``audit.events.Family``."""
    extra: dict[str, object] = {"resource_dept": department, "level": level,
                                "source_id": source_id}  # fmt: skip
    if approval_fields is not None:
        extra["requires_approval"] = list(approval_fields)
    if aggregate is not None:
        extra["aggregate"] = aggregate.wire()
    return {**extra, **(details or {})}


def comparison_event(
    *,
    type_: EventType | str,
    actor: Actor,
    left_dataset: str,
    right_dataset: str,
    comparison_id: str,
    sides: Mapping[str, Mapping[str, object]],
    purpose: str,
    case_ref: str,
    request_id: str,
    outcome: Outcome | str,
    client: str | None = None,
    delivery: Delivery = _NO_DELIVERY,
    details: Details | None = None,
) -> AuditEvent:
    """A comparison's start or end (``comparison.*``), naming both sides' requests and
    decisions in ``details.sides``."""
    return AuditEvent(
        type=_of("comparison", COMPARISON_TYPES, type_),
        actor=actor,
        outcome=_outcome(outcome),
        resource=f"comparison:{left_dataset}+{right_dataset}",
        purpose=purpose,
        case_ref=case_ref,
        client=client,
        request_id=request_id,
        delivery=delivery,
        details={"comparison_id": comparison_id, "sides": dict(sides), **(details or {})},
    )


def model_run_event(
    *,
    type_: EventType | str,
    actor: Actor,
    run_id: str,
    model_id: str,
    model_version: int,
    datasets: Sequence[str],
    sides: Mapping[str, Mapping[str, object]],
    purpose: str,
    case_ref: str,
    request_id: str,
    outcome: Outcome | str,
    engine: str,
    delivery: Delivery = _NO_DELIVERY,
    details: Details | None = None,
) -> AuditEvent:
    """A comparison model run's start or end (``comparison.*``, like an ad-hoc
    comparison, so the rules that read comparisons read runs too), naming the model
    version, the engine and every side's request and decision."""
    return AuditEvent(
        type=_of("comparison", COMPARISON_TYPES, type_),
        actor=actor,
        outcome=_outcome(outcome),
        resource=f"comparison_run:{run_id}",
        purpose=purpose,
        case_ref=case_ref,
        request_id=request_id,
        delivery=delivery,
        details={"comparison_id": run_id, "model": model_id, "model_version": model_version,
                 "engine": engine, "datasets": list(datasets), "sides": dict(sides),
                 **(details or {})},
    )  # fmt: skip


def comparison_model_event(
    *, type_: EventType | str, actor: Actor, model_id: str, version: int, details: Details
) -> AuditEvent:
    """A comparison model created or changed (a new version): who, which version, what
    it reads and whom it is shared with."""
    return AuditEvent(
        type=_of("comparison model", COMPARISON_MODEL_TYPES, type_),
        actor=actor,
        outcome=Outcome.OK,
        resource=f"comparison_model:{model_id}",
        details={"model": model_id, "version": version, **details},
    )


def comparison_run_event(
    *,
    type_: EventType | str,
    actor: Actor,
    run_id: str,
    purpose: str | None,
    case_ref: str | None,
    details: Details,
    client: str | None = None,
    request_id: str | None = None,
    delivery: Delivery = _NO_DELIVERY,
) -> AuditEvent:
    """Around a run: asked for, cancelled, its stored hits read, a lead's state changed."""
    return AuditEvent(
        type=_of("comparison run", COMPARISON_RUN_TYPES, type_),
        actor=actor,
        outcome=Outcome.OK,
        resource=f"comparison_run:{run_id}",
        purpose=purpose,
        case_ref=case_ref,
        client=client,
        request_id=request_id,
        delivery=delivery,
        details={"comparison_id": run_id, **details},
    )


def reidentification_event(
    *,
    type_: EventType | str,
    actor: Actor,
    request_id: str,
    run_id: str,
    hit_ids: list[int],
    departments: list[str],
    purpose: str | None,
    case_ref: str | None,
    details: Details | None = None,
    delivery: Delivery = _NO_DELIVERY,
) -> AuditEvent:
    """A re-identification of named hits of a run: asked, approved by a department,
    rejected, revoked, or released (the hit ids always on record)."""
    return AuditEvent(
        type=_of("re-identification", REIDENTIFICATION_TYPES, type_),
        actor=actor,
        outcome=Outcome.OK,
        resource=f"comparison_run:{run_id}",
        purpose=purpose,
        case_ref=case_ref,
        delivery=delivery,
        details={"reidentification": request_id, "comparison_id": run_id,
                 "hit_ids": list(hit_ids), "departments": list(departments),
                 **(details or {})},
    )  # fmt: skip


def comparison_schedule_event(
    *,
    type_: EventType | str,
    actor: Actor,
    schedule_id: str,
    model_id: str,
    purpose: str | None,
    case_ref: str | None,
    details: Details | None = None,
) -> AuditEvent:
    """A schedule created, deleted, or triggered (naming the run it queued)."""
    return AuditEvent(
        type=_of("comparison schedule", COMPARISON_SCHEDULE_TYPES, type_),
        actor=actor,
        outcome=Outcome.OK,
        resource=f"comparison_schedule:{schedule_id}",
        purpose=purpose,
        case_ref=case_ref,
        details={"model": model_id, **(details or {})},
    )


def registration_event(
    *,
    type_: EventType | str,
    actor: Actor,
    resource: str,
    department: str,
    details: Details | None = None,
    outcome: Outcome = Outcome.OK,
) -> AuditEvent:
    """A steward registered, changed or tested a source, or changed a catalog entry
    (never a secret in ``details``); ``outcome``: a connection test that failed says so."""
    return AuditEvent(
        type=_of("registration", REGISTRATION_TYPES, type_),
        actor=actor,
        outcome=outcome,
        resource=resource,
        details={"resource_dept": department, **(details or {})},
    )


def access_event(
    *,
    type_: EventType | str,
    actor: Actor,
    dataset_id: str,
    department: str,
    purpose: str | None,
    case_ref: str | None,
    details: Details | None = None,
) -> AuditEvent:
    """An access request made, approved, rejected or revoked (``access.*``)."""
    return AuditEvent(
        type=_of("access request", ACCESS_TYPES, type_),
        actor=actor,
        outcome=Outcome.OK,
        resource=f"dataset:{dataset_id}",
        purpose=purpose,
        case_ref=case_ref,
        details={"resource_dept": department, **(details or {})},
    )


def user_admin_event(
    *, type_: EventType | str, actor: Actor, subject: str, details: Details
) -> AuditEvent:
    """An admin (API) or operator (CLI) changed a user's attributes or roles."""
    return AuditEvent(
        type=_of("user administration", USER_ADMIN_TYPES, type_),
        actor=actor,
        outcome=Outcome.OK,
        resource=f"user:{subject}",
        details=details,
    )


def password_change(body: Mapping[str, object]) -> tuple[str, dict[str, object]] | None:
    """(subject, details) of a ``user.updated`` body that records a console password
    change (``details.password``: set, rehashed, bound …), the subject read from the
    body's own ``resource`` (never a column an insider may edit); None for any other
    body. What the trail indexes of password events keep (``PasswordEvents``,
    ``PasswordSetters``) is read through this one test."""
    details, resource = body.get("details"), body.get("resource")
    if (body.get("type") != EventType.USER_UPDATED.value or not isinstance(details, dict)
            or "password" not in details or not isinstance(resource, str)
            or not resource.startswith("user:")):  # fmt: skip
        return None
    return resource.removeprefix("user:"), details


def key_event(
    *, type_: EventType | str, actor: Actor, resource: str, details: Details
) -> AuditEvent:
    """An operator changed the gateway's keys (``keys:master``, ``keys:audit``)."""
    return AuditEvent(
        type=_of("key management", KEY_TYPES, type_),
        actor=actor,
        outcome=Outcome.OK,
        resource=resource,
        details=details,
    )


def token_event(*, actor: Actor, subject: str, details: Details) -> AuditEvent:
    """An operator minted a bearer token for ``subject`` (``token.issued``): lifetime,
    expiry, the claims it carries; never the token, which is a credential."""
    return AuditEvent(
        type=_of("token", TOKEN_TYPES, EventType.TOKEN_ISSUED),
        actor=actor,
        outcome=Outcome.OK,
        resource=f"user:{subject}",
        details=details,
    )


def emergency_event(
    *,
    type_: EventType | str,
    actor: Actor,
    resource: str,
    reason: str,
    alert_id: str | None = None,
    details: Details | None = None,
) -> AuditEvent:
    """An emergency action or its lifting: who, on what, why, answering which alert."""
    extra: dict[str, object] = {"reason": reason, **(details or {})}
    if alert_id is not None:
        extra["alert_id"] = alert_id
    return AuditEvent(
        type=_of("emergency", EMERGENCY_TYPES, type_),
        actor=actor,
        outcome=Outcome.OK,
        resource=resource,
        details=extra,
    )


def audit_access_event(
    *,
    type_: EventType | str,
    actor: Actor,
    details: Details,
    client: str | None = None,
    request_id: str | None = None,
    outcome: Outcome = Outcome.OK,
    delivery: Delivery = _NO_DELIVERY,
) -> AuditEvent:
    """Someone read, verified, exported or unsealed the trail itself: the auditor
    audited. An export cut short says so (``outcome`` aborted or error) with what had
    left (``delivery``), as a query's end does."""
    return AuditEvent(
        type=_of("audit access", AUDIT_ACCESS_TYPES, type_),
        actor=actor,
        outcome=outcome,
        resource="audit",
        client=client,
        request_id=request_id,
        delivery=delivery,
        details=details,
    )


def refusal_event(
    *,
    actor: Actor,
    path: str,
    status: int,
    client: str | None,
    request_id: str,
    details: Details,
) -> AuditEvent:
    """An authenticated request that ended in an error no other record covers
    (``request.refused``): a 5xx is an ``error``, anything else ``denied``."""
    return AuditEvent(
        type=EventType.REQUEST_REFUSED,
        actor=actor,
        outcome=Outcome.ERROR if status >= 500 else Outcome.DENIED,
        resource=path,
        client=client,
        request_id=request_id,
        details=details,
    )
