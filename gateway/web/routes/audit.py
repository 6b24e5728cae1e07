"""Routes of the audit trail: search, verify, export, keys, checkpoints, alerts (with state).

Only security officers and admins read the trail (casbin actions ``audit:read``,
``audit:verify``, ``audit:export``, ``alerts:read``), and every read is itself written
to the trail *before* the data is returned: if that append fails, the read fails (503).
Public keys and the latest checkpoint are public on purpose: external witnesses fetch
them to detect a truncated log, and they reveal no event content.

While the trail is sealed (``audit.seal``) reads still work — officers must be able to
investigate — but they are recorded in the seal file, not in the broken chain; an
export taken then is the evidence that unsealing (two people) requires. Integer query
parameters are bounded (``MAX_SEQ``): anything out of range is a 400. The event search
takes only its named parameters (another is a 422 naming them) and records the read with
those parameters as parsed — typed and bounded — never the query string as sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from audit import unseal as unsealing
from audit.alert_runner import list_alerts, lookup_alert
from audit.alert_state import alert_states
from audit.event_types import EventType, Outcome
from audit.export import export_lines, require_start_within, whole_trail
from audit.log import AuditLog, latest_checkpoints, public_keys
from audit.records import Delivery as Sent
from audit.search import EventFilter, get_event, list_events
from audit.verify import verify_sealing
from catalog.errors import BadRequest, Forbidden, NotFound, SluiceError, Unprocessable, audited
from catalog.models import User
from catalog.timestamps import utc_text
from gateway.enforcement.query.subjects import subject_token as token_of
from gateway.stewardship.users.chosen_passwords import chose_password_of
from gateway.web.audit_export import ExportDelivery
from gateway.web.audit_reads import readable_trail, record_audit_read
from gateway.web.authz import require
from gateway.web.current_user import account_read_at
from gateway.web.deps import get_services
from gateway.web.routes.streaming import respond
from policies.decision import UserContext

MAX_SEQ = 2**63 - 1  # the store's BIGINT: a larger integer is a 400, never an overflow

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

# Re-point these to change who may read the trail; tests override them.
require_audit_reader = require("audit:read")
require_audit_verifier = require("audit:verify")
require_audit_exporter = require("audit:export")
require_alerts_reader = require("alerts:read")
# acknowledging or resolving an alert changes state: the officers' and admins' action
# that unsealing uses too (analysts, stewards and auditors-by-read cannot)
require_alerts_handler = require("audit:verify")


# the parameters of GET /events: anything else is refused (422, naming these), so a
# typo never silently widens a search and no caller-chosen text reaches the record
EVENT_PARAMETERS = (
    "actor", "department", "dataset", "type", "decision", "outcome", "purpose", "case_ref",
    "since", "until", "subject_token", "cursor", "limit", "order",
)  # fmt: skip


def known_parameters_only(request: Request) -> None:
    """Refuse a query string naming a parameter the search does not take (unnamed in the
    message: its text is the caller's, bounded by nothing)."""
    unknown = set(request.query_params) - set(EVENT_PARAMETERS)
    if unknown:
        raise Unprocessable(f"{len(unknown)} unknown query parameter(s); the audit event "
                            f"search takes only: {', '.join(EVENT_PARAMETERS)}")  # fmt: skip


@router.get("/events", dependencies=[Depends(known_parameters_only)])
def search_events(
    request: Request,
    user: UserContext = Depends(require_audit_reader),
    actor: str | None = Query(None, max_length=128),
    department: str | None = Query(None, max_length=64),
    dataset: str | None = Query(None, max_length=128),
    type: str | None = Query(None, max_length=64),
    decision: Literal["allow", "deny"] | None = None,
    outcome: str | None = Query(None, max_length=16),
    purpose: str | None = Query(None, max_length=64),
    case_ref: str | None = Query(None, max_length=128),
    since: datetime | None = None,
    until: datetime | None = None,
    subject_token: str | None = Query(None, max_length=67),
    cursor: str | None = Query(None, max_length=20),
    limit: int = Query(100, ge=1, le=1000),
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    """Search the trail; ``subject_token`` finds the lookups of one person (who looked
    up whom): queries that returned their records, comparisons that matched them. The
    read is on record with the parsed parameters (typed, each bounded), never the raw
    query string."""
    filters = EventFilter(
        subject_token=subject_token,
        actor=actor,
        department=department,
        dataset=dataset,
        type=type,
        decision=decision,
        outcome=outcome,
        purpose=purpose,
        case_ref=case_ref,
        since=since,
        until=until,
    )
    parsed: dict[str, str | int | None] = {
        "actor": actor, "department": department, "dataset": dataset, "type": type,
        "decision": decision, "outcome": outcome, "purpose": purpose, "case_ref": case_ref,
        "since": utc_text(since) if since else None, "until": utc_text(until) if until else None,
        "subject_token": subject_token, "cursor": cursor, "limit": limit, "order": order,
    }  # fmt: skip
    query = {k: v for k, v in parsed.items() if v is not None}
    record_audit_read(request, user, "audit.read", {"query": query})
    return list_events(
        store=readable_trail(request).store,
        filters=filters,
        cursor=cursor,
        limit=limit,
        order=order,
    )


class LookupsBody(BaseModel):
    """A person's ID number: in a body, never in a URL (proxies and access logs keep
    URLs). It becomes the gateway-wide subject token at once and only the token is kept
    on record."""

    model_config = ConfigDict(extra="forbid")
    id_number: str = Field(min_length=1, max_length=64)
    cursor: str | None = Field(None, max_length=20)
    limit: int = Field(100, ge=1, le=1000)


@router.post("/lookups")
def person_lookups(
    request: Request, body: LookupsBody, user: UserContext = Depends(require_audit_reader)
) -> dict[str, Any]:
    """Who looked up this person: events carrying their subject token, newest first."""
    token = token_of(request.app.state.services.settings.home, body.id_number.strip())
    filters = EventFilter(subject_token=token)
    record_audit_read(request, user, "audit.read", {"lookups_of": token})
    page = list_events(store=readable_trail(request).store, filters=filters, cursor=body.cursor,
                       limit=body.limit)  # fmt: skip
    return {"subject_token": token, **page}


@router.get("/events/{seq}")
def read_event(
    request: Request,
    seq: int = PathParam(ge=1, le=MAX_SEQ),
    user: UserContext = Depends(require_audit_reader),
) -> dict[str, Any]:
    record_audit_read(request, user, "audit.read", {"seq": seq})
    return get_event(store=readable_trail(request).store, seq=seq)


@router.get("/verify")
def verify(
    request: Request,
    user: UserContext = Depends(require_audit_verifier),
    from_seq: int | None = Query(None, alias="from", ge=1, le=MAX_SEQ),
    to_seq: int | None = Query(None, alias="to", ge=1, le=MAX_SEQ),
) -> dict[str, Any]:
    log = readable_trail(request)
    found = verify_sealing(store=log.store, witness_file=log.witness_file, seal=log.seal,
                           from_seq=from_seq, to_seq=to_seq)  # fmt: skip
    record_audit_read(request, user, "audit.verified", {"from": from_seq, "to": to_seq, **found})
    return found


@router.get("/export")
def export(
    request: Request,
    user: UserContext = Depends(require_audit_exporter),
    format: Literal["jsonl", "csv"] = "jsonl",
    from_seq: int | None = Query(None, alias="from", ge=1, le=MAX_SEQ),
    to_seq: int | None = Query(None, alias="to", ge=1, le=MAX_SEQ),
) -> Response:
    """The trail with its own proof, sent as a governed result is
    (``gateway.web.audit_export``): cut off when the client stalls, and when the
    officer's account or role is taken away mid-export, the cut on record."""
    return export_trail(request, user, format, from_seq, to_seq)


def export_trail(
    request: Request, user: UserContext, format: Literal["jsonl", "csv"],
    from_seq: int | None, to_seq: int | None, *, also: Callable[[], None] | None = None,
) -> Response:  # fmt: skip
    """``export``'s answer; ``also``: read again with the account while it is sent (the
    console's: its session still live, red team 65)."""
    log = readable_trail(request)
    require_start_within(log.store, from_seq, to_seq)  # a 400, not a proof of nothing
    asked: dict[str, Any] = {"format": format, "from": from_seq, "to": to_seq}
    request_id = record_audit_read(request, user, "audit.exported", asked)
    media = "application/x-ndjson" if format == "jsonl" else "text/csv; charset=utf-8"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    sealed = log.seal.reason if log.seal.sealed else None
    lines = partial(export_lines, store=log.store, signer=log.signer, fmt=format,
                    from_seq=from_seq, to_seq=to_seq, sealed=sealed)  # fmt: skip

    def record(type_: EventType, outcome: Outcome, details: Mapping[str, object],
               sent: Sent) -> None:  # fmt: skip
        record_audit_read(request, user, type_, {**asked, **details}, request_id=request_id,
                          outcome=outcome, sent=sent)  # fmt: skip

    evidence = None
    if sealed is not None and whole_trail(from_seq, to_seq):
        # only the whole trail is evidence an unseal may name: a range (``from=1&to=1``)
        # would let the two approvals name a scrap and keep no copy of what was sealed;
        # recorded once every byte has been taken (a download cut short is not)
        def evidence(sha256: str, size: int) -> None:
            log.seal.record("evidence_exported", sub=user.subject, sha256=sha256, bytes=size)

    services, directory = get_services(request), request.app.state.identities

    def governs() -> None:  # a suspension, a removed role stop the export in flight
        now = directory.resolve(user)
        services.authorizer.check(subject=now.subject, domain="*", action="audit:export")
        if also is not None:
            also()

    headers = {"Content-Disposition": f'attachment; filename="audit-{stamp}.{format}"',
               "X-Request-Id": request_id}  # fmt: skip
    settings = services.settings
    return respond(ExportDelivery(lines, record=record, evidence=evidence), media, headers,
                   stall_timeout_s=settings.stream_stall_timeout_s, governs=governs,
                   read_at=account_read_at(request),
                   govern_every_s=settings.stream_govern_every_s)  # fmt: skip


class UnsealRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    evidence_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    note: str = Field(default="", max_length=1000)


@router.get("/status")
def status(request: Request, user: UserContext = Depends(require_audit_reader)) -> dict[str, Any]:
    """Sealed or not, why, the chain head and every witness (not itself audited: it must
    answer while sealed and reveals no event content)."""
    return readable_trail(request).status()


@router.post("/unseal")
def unseal(
    request: Request, body: UnsealRequest, user: UserContext = Depends(require_audit_verifier)
) -> dict[str, Any]:
    """One of the two approvals (a security officer and an admin, two people).

    A refusal while sealed is recorded in the seal file (the chain takes nothing) and
    marked ``audited``, so the caller gets its own answer (409/403), not a 503."""
    log = readable_trail(request)
    try:
        return unsealing.approve(
            log,
            subject=user.subject,
            department=user.department,
            roles=user.roles,
            evidence_sha256=body.evidence_sha256,
            note=body.note,
            client=request.client.host if request.client else None,
        )
    except SluiceError as exc:
        if not log.seal.sealed:
            raise
        refused = {"code": exc.code, "message": exc.message}
        log.seal.record("access", sub=user.subject, roles=list(user.roles),
                        action="audit.unseal.refused", details=refused)  # fmt: skip
        raise audited(exc) from None


@router.get("/keys")
def keys(request: Request) -> dict[str, Any]:
    return {"keys": public_keys(readable_trail(request).store)}


@router.get("/checkpoints/latest")
def latest_checkpoint(request: Request) -> dict[str, Any]:
    found = latest_checkpoints(readable_trail(request).store)
    if not found:
        raise NotFound("no checkpoint has been signed yet")
    return found[0]


@router.get("/alerts")
def alerts(
    request: Request,
    user: UserContext = Depends(require_alerts_reader),
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Alerts of the window (default: the last day), the seal first when sealed; each
    with its stable ``id``, ``state`` (open, acknowledged, resolved) and history,
    ``count`` (occurrences grouped per rule, subject and day), the emergency ``actions``
    taken on it, its ``pushes`` per channel, and ``recurrence_of`` when it recurred
    after a resolution."""
    end = until or datetime.now(UTC)
    try:
        start = since or end - timedelta(days=1)
    except OverflowError:  # a day before ``until`` is before year 1: a 400, not a 500
        raise BadRequest("until is too early: the default window is the day before it") from None
    record_audit_read(request, user, "audit.read", {"alerts_since": utc_text(start)})
    found = list_alerts(readable_trail(request), since=start, until=end)
    return {"since": utc_text(start), "until": utc_text(end), "alerts": found}


class AlertAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=2000)


def _own_token(request: Request, subject: str) -> str | None:
    """The keyed token of ``subject``'s own ID number as the user store holds it now
    (None when an admin recorded none)."""
    with get_services(request).sessions() as session:
        user = session.get(User, subject)
        return None if user is None else user.id_number_hash


def _is_about(log: AuditLog, alert: dict[str, Any], subject: str, own: str | None) -> bool:
    """Whether ``subject`` is the alert's actor, chose its actor's console password
    (``chosen_passwords``), did any of the events it names, or is the person it is about:
    the subject-token rules (``same_person_many_users``, ``person_many_departments``)
    name whose records were pulled by the keyed token the store keeps of each user's own
    number (``own``), and an officer closed the alert about others looking into them
    (red team 46)."""
    mine = subject.strip().casefold()
    actor = str(alert.get("actor") or "")
    if actor.strip().casefold() == mine:
        return True
    if own is not None and alert.get("subject") == own:
        return True
    seqs = {int(s) for s in alert.get("event_seqs") or []}
    if actor and chose_password_of(log, subject, actor, max(seqs) if seqs else None):
        return True  # they could sign in as its actor (red team 56)
    if not seqs:
        return False
    filters = EventFilter(actor=subject, from_seq=min(seqs), to_seq=max(seqs))
    cursor: str | None = None
    while True:
        page = list_events(store=log.store, filters=filters, cursor=cursor, limit=1000,
                           order="asc")  # fmt: skip
        if any(int(e.get("seq", 0)) in seqs for e in page["items"]):
            return True
        cursor = page["next_cursor"]
        if cursor is None:
            return False


def _move(request: Request, user: UserContext, alert_id: str, to: str, note: str) -> dict[str, Any]:
    """Separation of duties: an alert about your own conduct is handled by someone
    else (otherwise whoever handles alerts could close the one about themselves)."""
    log = readable_trail(request)
    states = alert_states(log.home)
    alert = lookup_alert(log, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    if _is_about(log, alert, user.subject, _own_token(request, user.subject)):
        raise Forbidden("separation of duties: an alert about you or your own actions is "
                        "acknowledged and resolved by another officer or admin")  # fmt: skip
    rule = alert.get("rule")
    seqs = alert.get("event_seqs") or []

    def record(previous: str) -> None:  # on record before the state changes
        record_audit_read(request, user, f"alert.{to}",
                {"alert_id": alert_id, "rule": rule, "from": previous, "note": note})  # fmt: skip

    # a resolution covers the events seen so far: a later occurrence opens a new alert
    state = states.transition(alert_id, to, by=user.subject, note=note, record=record,
                              upto_seq=max(seqs) if seqs else None)  # fmt: skip
    return {"id": alert_id, "rule": rule, **state}


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_alert(
    request: Request,
    body: AlertAction,
    alert_id: str = PathParam(max_length=64),
    user: UserContext = Depends(require_alerts_handler),
) -> dict[str, Any]:
    return _move(request, user, alert_id, "acknowledged", body.note)


@router.post("/alerts/{alert_id}/resolve")
def resolve_alert(
    request: Request,
    body: AlertAction,
    alert_id: str = PathParam(max_length=64),
    user: UserContext = Depends(require_alerts_handler),
) -> dict[str, Any]:
    return _move(request, user, alert_id, "resolved", body.note)
