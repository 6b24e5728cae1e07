"""The closed vocabulary of the audit trail: which events exist and how they can end.

Both are ``StrEnum``: a member *is* its string, so the chain stores, hashes and
searches exactly the text it stored before the enum existed, and an old export
verifies unchanged. An event type missing here is refused on append
(``audit.events.prepare``): a new kind of record is added here first, on purpose,
not by a typo in a call site.
"""

from __future__ import annotations

from enum import StrEnum

from catalog.errors import BadRequest


class EventType(StrEnum):
    """Every kind of event the gateway, the CLI and the audit package append."""

    # the data path: one start, one end (gateway.enforcement.query)
    QUERY_STARTED = "query.started"
    QUERY_COMPLETED = "query.completed"
    QUERY_FAILED = "query.failed"
    QUERY_ABORTED = "query.aborted"
    QUERY_DENIED = "query.denied"
    # comparisons (gateway.enforcement.comparison)
    COMPARISON_STARTED = "comparison.started"
    COMPARISON_COMPLETED = "comparison.completed"
    COMPARISON_FAILED = "comparison.failed"
    COMPARISON_ABORTED = "comparison.aborted"
    # comparison models and their runs as jobs (issue 15): a run's reading and matching
    # start and end as ``comparison.*`` above; these record what is around them
    COMPARISON_MODEL_CREATED = "comparison_model.created"
    COMPARISON_MODEL_UPDATED = "comparison_model.updated"
    COMPARISON_RUN_REQUESTED = "comparison_run.requested"
    COMPARISON_RUN_CANCELLED = "comparison_run.cancelled"
    COMPARISON_HITS_READ = "comparison_run.hits_read"
    COMPARISON_LEAD_UPDATED = "comparison_run.lead_updated"
    # a run a killed process left queued or running, failed at the next start-up
    COMPARISON_RUN_INTERRUPTED = "comparison_run.interrupted"
    # a comparison model run again per county (issue 15: scheduled runs)
    COMPARISON_SCHEDULE_CREATED = "comparison_schedule.created"
    COMPARISON_SCHEDULE_DELETED = "comparison_schedule.deleted"
    COMPARISON_SCHEDULE_TRIGGERED = "comparison_schedule.triggered"
    # re-identification of named hits of a run (gateway.stewardship.grants): asked,
    # decided by a steward of each source department, and each release of identities
    REIDENTIFICATION_REQUESTED = "reidentification.requested"
    REIDENTIFICATION_APPROVED = "reidentification.approved"
    REIDENTIFICATION_REJECTED = "reidentification.rejected"
    REIDENTIFICATION_REVOKED = "reidentification.revoked"
    REIDENTIFICATION_RELEASED = "reidentification.released"
    # access requests and their decisions (gateway.stewardship.grants)
    ACCESS_REQUESTED = "access.requested"
    ACCESS_APPROVED = "access.approved"
    ACCESS_REJECTED = "access.rejected"
    ACCESS_REVOKED = "access.revoked"
    # stewards' registrations (gateway.stewardship.registration)
    SOURCE_REGISTERED = "source.registered"
    SOURCE_UPDATED = "source.updated"
    SOURCE_TESTED = "source.tested"
    # a steward withdrew a source: its entries unpublished, its secret deleted (issue 16)
    SOURCE_DEREGISTERED = "source.deregistered"
    DATASET_PUBLISHED = "dataset.published"
    DATASET_UPDATED = "dataset.updated"
    # officers reading the trail, and the two-person unseal
    AUDIT_READ = "audit.read"
    AUDIT_EXPORTED = "audit.exported"
    # an export cut short after ``audit.exported`` (same request id): the client gone
    # or stalled, the officer's account or role taken away, the server stopping; or an
    # error while it was read — with what had left by then (gateway.web.audit_export)
    AUDIT_EXPORT_ABORTED = "audit.export_aborted"
    AUDIT_EXPORT_FAILED = "audit.export_failed"
    # an export sent whole: its end, with what left (the query's ``query.completed``)
    AUDIT_EXPORT_COMPLETED = "audit.export_completed"
    AUDIT_VERIFIED = "audit.verified"
    AUDIT_UNSEALED = "audit.unsealed"
    # an officer moving an alert on (gateway.web.routes.audit)
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    ALERT_RESOLVED = "alert.resolved"
    # user administration (API and CLI)
    USER_UPDATED = "user.updated"
    ROLE_ASSIGNED = "role.assigned"
    ROLE_UNASSIGNED = "role.unassigned"
    # emergency response (gateway.web.routes.emergency)
    USER_SUSPENDED = "user.suspended"
    USER_UNSUSPENDED = "user.unsuspended"
    GRANTS_REVOKED = "grants.revoked"
    DATASET_FROZEN = "dataset.frozen"
    DATASET_UNFROZEN = "dataset.unfrozen"
    # an operator rotated the master key or a checkpoint signing key (gateway.cli): the
    # keys every source's credentials and every checkpoint depend on (red team 6)
    KEYS_ROTATED = "keys.rotated"
    # a gateway sealed the user and role rows it found without a seal, once per
    # deployment, at its first start after migration 0017 (catalog.row_seals)
    ROWS_SEALED = "catalog.rows_sealed"
    # the state a change made through the gateway leaves a governing row in (a digest
    # of its seal, or a role line removed), appended before the change commits: a row
    # written back as it was before is no longer the newest (catalog.row_bindings)
    ROW_BOUND = "catalog.row_bound"
    # an operator minted a bearer token with the embedded issuer (``sluice token``): for
    # whom, its lifetime and expiry, never the token itself (red team 7)
    TOKEN_ISSUED = "token.issued"  # noqa: S105 (an event name, not a secret)
    # any other error answer to an authenticated request (gateway.web.refusals)
    REQUEST_REFUSED = "request.refused"
    # web console sign-in and sign-out (gateway.web.console.auth_pages)
    AUTH_SIGNED_IN = "auth.signed_in"
    AUTH_SIGN_IN_FAILED = "auth.sign_in_failed"
    AUTH_SIGNED_OUT = "auth.signed_out"


class Outcome(StrEnum):
    """How the recorded action ended."""

    OK = "ok"
    DENIED = "denied"
    ERROR = "error"
    STARTED = "started"
    # the client went away or stalled, or the server stopped, mid-delivery
    ABORTED = "aborted"


# The families a builder in ``audit.records`` may be asked for: a builder handed a type
# of another family is a bug at the call site, refused at once.
QUERY_TYPES = frozenset(t for t in EventType if t.startswith("query."))
COMPARISON_TYPES = frozenset(t for t in EventType if t.startswith("comparison."))
ACCESS_TYPES = frozenset(t for t in EventType if t.startswith("access."))
COMPARISON_MODEL_TYPES = frozenset(t for t in EventType if t.startswith("comparison_model."))
COMPARISON_RUN_TYPES = frozenset(t for t in EventType if t.startswith("comparison_run."))
COMPARISON_SCHEDULE_TYPES = frozenset(t for t in EventType if t.startswith("comparison_schedule."))
REIDENTIFICATION_TYPES = frozenset(t for t in EventType if t.startswith("reidentification."))
REGISTRATION_TYPES = frozenset(
    {
        EventType.SOURCE_REGISTERED,
        EventType.SOURCE_UPDATED,
        EventType.SOURCE_TESTED,
        EventType.SOURCE_DEREGISTERED,
        EventType.DATASET_PUBLISHED,
        EventType.DATASET_UPDATED,
    }
)
# the officers' own actions on the trail and its alerts: "the auditor audited"
AUDIT_ACCESS_TYPES = frozenset(t for t in EventType if t.startswith(("audit.", "alert.")))
USER_ADMIN_TYPES = frozenset(
    {EventType.USER_UPDATED, EventType.ROLE_ASSIGNED, EventType.ROLE_UNASSIGNED}
)
EMERGENCY_TYPES = frozenset(
    {
        EventType.USER_SUSPENDED,
        EventType.USER_UNSUSPENDED,
        EventType.GRANTS_REVOKED,
        EventType.DATASET_FROZEN,
        EventType.DATASET_UNFROZEN,
    }
)

KEY_TYPES = frozenset({EventType.KEYS_ROTATED, EventType.ROWS_SEALED, EventType.ROW_BOUND})
TOKEN_TYPES = frozenset({EventType.TOKEN_ISSUED})


class MalformedEvent(BadRequest):
    """An audit event the trail refuses: unknown type, missing actor, bad field.

    A ``BadRequest`` (400, code ``bad_request``) as every malformed event always was,
    so existing handlers and tests see no change; its own type lets a caller tell a
    refused *record* from a refused *request*."""
