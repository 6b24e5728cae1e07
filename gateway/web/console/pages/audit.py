"""Audit (security officers and admins): the timeline with filters, one event's detail
(the decision and the masks), "who looked up whom" for a person, verify, export, and
the charts' data. Alerts and response actions are in ``audit_alerts``.

No second code path and no unaudited read: every page reads the trail the way the
API's routes in ``gateway.web.routes.audit`` do, and is recorded as they record it
(``audit.read``, ``audit.verified``, ``audit.exported``, before the answer leaves;
fail closed). Verify and export are the API's own handlers called with the console's
request, so a failed verify seals the trail here too.

A person's ID number arrives in a POSTed form only (never in a URL: proxies and access
logs keep URLs), becomes the gateway-wide subject token at once in
``routes.audit.person_lookups``, and is never echoed back: the page shows the token.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from audit.alert_common import rule_view
from audit.alert_runner import list_alerts
from audit.search import EventFilter, iter_bodies, list_events
from catalog.controls import unescaped
from catalog.errors import BadRequest
from gateway.stewardship.registration.schemas import checked
from gateway.web.audit_reads import readable_trail, record_audit_read
from gateway.web.console.caller import Caller, may, session_live
from gateway.web.console.forms import Form
from gateway.web.console.guard import ConsoleRoute, csrf_form, page_permission
from gateway.web.console.rendering import render
from gateway.web.routes import audit as api

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
may_read = page_permission("audit:read")
may_verify = page_permission("audit:verify")
may_export = page_permission("audit:export")

FILTERS = ("actor", "type", "dataset", "outcome", "purpose", "case_ref", "since", "until")
OUTCOMES = ("ok", "denied", "error", "started", "aborted")
PAGE = 50
CHART_DAYS = 14


def model(cls: type[BaseModel], **data: Any) -> Any:
    """A request model built from form fields; a clear 400 when they do not fit."""
    return checked(cls, data)


def _moment(raw: str, name: str) -> datetime | None:
    """A ``datetime-local`` value (or an ISO time) read as UTC, as the page labels it."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name}: not a date and time ({raw[:40]!r})") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _whole(raw: str, name: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= api.MAX_SEQ:
        raise BadRequest(f"{name}: a sequence number from 1")
    return int(raw)


def as_shown(typed: str) -> tuple[str, ...] | None:
    """The values a purpose or case filter typed as the page shows them stands for: the
    text as typed and stripped, each with its escapes of invisible characters read back
    (``controls.unescaped``). A case reference is kept as given, spaces and zero-width
    characters included, and shown escaped: searched as typed only, ``JW-64\\u200b``
    pasted off the page, or ``JW-64 `` stripped, found nothing (red team 64). No NUL
    (``\\u0000`` read back): the trail holds none, and PostgreSQL refuses it in text."""
    if not typed.strip():  # spaces alone: no filter, as before
        return None
    found = dict.fromkeys(v for t in (typed, typed.strip()) for v in (t, unescaped(t))
                          if "\x00" not in v)  # fmt: skip
    return tuple(found) or None


def timeline_filter(values: dict[str, str]) -> EventFilter:
    return EventFilter(
        actor=values["actor"] or None, type=values["type"] or None,
        dataset=values["dataset"] or None, outcome=values["outcome"] or None,
        purpose=as_shown(values["purpose"]), case_ref=as_shown(values["case_ref"]),
        since=_moment(values["since"], "since"), until=_moment(values["until"], "until"),
    )  # fmt: skip


@router.get("/console/audit")
async def timeline(
    request: Request,
    actor: str = Query("", max_length=128),
    type: str = Query("", max_length=64),
    dataset: str = Query("", max_length=128),
    outcome: str = Query("", max_length=16),
    purpose: str = Query("", max_length=64),
    case_ref: str = Query("", max_length=128),
    since: str = Query("", max_length=32),
    until: str = Query("", max_length=32),
    cursor: str = Query("", max_length=20),
    caller: Caller = Depends(may_read),
) -> Response:
    values = {"actor": actor.strip(), "type": type.strip(), "dataset": dataset.strip(),
              "outcome": outcome, "purpose": purpose, "case_ref": case_ref,
              "since": since, "until": until}  # fmt: skip
    filters = timeline_filter(values)

    def load() -> dict[str, Any]:
        # the filters as read (each bounded above), never the query string as sent
        query = {k: v for k, v in {**values, "cursor": cursor}.items() if v}
        record_audit_read(request, caller.user, "audit.read", {"query": query, "console": "audit"})
        return list_events(store=readable_trail(request).store, filters=filters,
                           cursor=cursor or None, limit=PAGE)  # fmt: skip

    page = await run_in_threadpool(load)
    kept = {k: v for k, v in values.items() if v}
    more = (f"/console/audit?{urlencode({**kept, 'cursor': page['next_cursor']})}"
            if page["next_cursor"] else None)  # fmt: skip
    return render(request, "audit.html", values=values, outcomes=OUTCOMES,
                  events=timeline_rows(page["items"]), next_url=more,
                  may_verify=may(request, caller, "audit:verify"),
                  may_export=may(request, caller, "audit:export"),
                  may_alerts=may(request, caller, "alerts:read"))  # fmt: skip


def _shown(value: Any) -> str:
    """A value as a timeline cell shows it: text as is, anything else as its JSON."""
    if value is None or isinstance(value, str):
        return value or ""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode(errors="replace")


def timeline_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the timeline and the person look-ups show of each event, every cell text:
    an event an insider chained at the head (public arithmetic) with no ``purpose``, an
    actor that is a list or a time that is a number took the page down for every
    officer while it was among the newest (red team 24); it is shown as it is."""
    rows = []
    for event in events:
        actor = event.get("actor")
        sub = actor.get("sub") if isinstance(actor, dict) else actor
        rows.append({"seq": event.get("seq"), "actor": _shown(sub),
                     **{k: _shown(event.get(k)) for k in TIMELINE_CELLS}})  # fmt: skip
    return rows


TIMELINE_CELLS = ("ts", "type", "resource", "purpose", "case_ref", "rows", "outcome")
EVENT_CELLS = (*TIMELINE_CELLS, "client", "request_id", "hash", "prev_hash", "policy_version",
               "row_filter")  # fmt: skip
ACTIONS = frozenset({"allow", "mask", "deny", "unknown"})


def _known(action: Any) -> bool:
    return isinstance(action, str) and action in ACTIONS


def _texts(value: Any) -> list[str]:
    """A list shown item by item; anything else as one item (none if absent)."""
    items = value if isinstance(value, list) else [] if value in (None, "") else [value]
    return [_shown(item) for item in items]


def event_view(event: dict[str, Any]) -> dict[str, Any]:
    """What one event's page shows, every cell text (``timeline_rows``): a ``decision``
    or ``fields`` of another shape than the gateway writes is shown as it is."""
    actor = event.get("actor")
    sub, roles = (
        (actor.get("sub"), actor.get("roles")) if isinstance(actor, dict) else (actor, None)
    )
    found = event.get("decision")
    decision = found if isinstance(found, dict) else {"decision_id": found} if found else None
    fields = event.get("fields")
    masks = [(str(name), f.get("action") if isinstance(f, dict) else f,
              f.get("method") if isinstance(f, dict) else None)
             for name, f in (fields.items() if isinstance(fields, dict) else [])]  # fmt: skip
    return {
        "seq": event.get("seq"), "actor": _shown(sub), "roles": ", ".join(_texts(roles)),
        **{k: _shown(event.get(k)) for k in EVENT_CELLS},
        "decision": None if decision is None else {
            "allow": decision.get("allow") is True,
            "decision_id": _shown(decision.get("decision_id")),
            "reasons": _texts(decision.get("reasons"))},
        "fields": [{"name": name, "action": action if _known(action) else None,
                    "shown": _shown(action), "method": _shown(method)}
                   for name, action, method in masks],
        "odd_fields": None if fields is None or isinstance(fields, dict) else _shown(fields),
    }  # fmt: skip


@router.get("/console/audit/events/{seq}")
async def event_detail(request: Request, seq: int, caller: Caller = Depends(may_read)) -> Response:
    if not 1 <= seq <= api.MAX_SEQ:
        raise BadRequest("a sequence number from 1")
    event = await run_in_threadpool(api.read_event, request, seq, caller.user)
    details = event.get("details") if isinstance(event.get("details"), dict) else {}
    return render(request, "audit_event.html", event=event_view(event), details=details)


@router.post("/console/audit/lookups")
async def lookups(
    request: Request, caller: Caller = Depends(may_read), form: Form = Depends(csrf_form)
) -> Response:
    body = model(api.LookupsBody, id_number=form.get("id_number"),
                 cursor=form.get("cursor") or None, limit=PAGE)  # fmt: skip
    found = await run_in_threadpool(api.person_lookups, request, body, caller.user)
    return render(request, "audit_lookups.html", token=found["subject_token"],
                  events=timeline_rows(found["items"]),
                  next_cursor=found["next_cursor"])  # fmt: skip


@router.post("/console/audit/verify")
async def verify(
    request: Request, caller: Caller = Depends(may_verify), form: Form = Depends(csrf_form)
) -> Response:
    lo, hi = _whole(form.get("from"), "from"), _whole(form.get("to"), "to")
    outcome = await run_in_threadpool(api.verify, request, caller.user, lo, hi)
    return render(request, "audit_verify.html", outcome=outcome)


@router.post("/console/audit/export")
async def export(
    request: Request, caller: Caller = Depends(may_export), form: Form = Depends(csrf_form)
) -> Response:
    fmt = form.get("format") or "jsonl"
    if fmt not in ("jsonl", "csv"):
        raise BadRequest("export format is jsonl or csv")
    lo, hi = _whole(form.get("from"), "from"), _whole(form.get("to"), "to")
    also = session_live(request, caller)
    return await run_in_threadpool(api.export_trail, request, caller.user, fmt, lo, hi,  # type: ignore[arg-type]
                                   also=also)  # fmt: skip


@router.get("/console/audit/charts")
async def charts(request: Request, caller: Caller = Depends(may_read)) -> Response:
    return render(request, "audit_charts.html", days=CHART_DAYS)


def chart_data(events: list[dict[str, Any]], alerts: list[dict[str, Any]],
               days: list[str]) -> dict[str, Any]:  # fmt: skip
    """Queries and denials per day, rows released per department, alerts per rule."""
    queries: Counter[str] = Counter()
    denials: Counter[str] = Counter()
    released: defaultdict[str, int] = defaultdict(int)
    for event in events:
        day, kind = str(event.get("ts", ""))[:10], event.get("type")
        if kind == "query.started":
            queries[day] += 1
        elif kind == "query.denied" or event.get("outcome") == "denied":
            denials[day] += 1
        if kind == "query.completed" and event.get("rows"):
            found = event.get("details")
            details: dict[str, Any] = found if isinstance(found, dict) else {}
            dept = details.get("resource_dept") or str(event.get("resource", "")).split(":")[-1]
            released[str(dept).split(".")[0]] += int(event["rows"])
    rules = Counter(str(a.get("rule")) for a in alerts)
    return {
        "per_day": {"labels": days, "queries": [queries[d] for d in days],
                    "denials": [denials[d] for d in days]},
        "released": {"labels": sorted(released), "values": [released[d] for d in sorted(released)]},
        "alerts": {"labels": sorted(rules), "values": [rules[r] for r in sorted(rules)]},
    }  # fmt: skip


@router.get("/console/audit/charts.json")
async def charts_json(request: Request, caller: Caller = Depends(may_read)) -> Response:
    """The charts' data (JSON, drawn by ``static/audit_charts.js``); an audit read."""

    def load() -> dict[str, Any]:
        now = datetime.now(UTC)
        start = (now - timedelta(days=CHART_DAYS - 1)).replace(hour=0, minute=0, second=0,
                                                                microsecond=0)  # fmt: skip
        record_audit_read(request, caller.user, "audit.read",
                    {"console": "charts", "since": start.isoformat()})  # fmt: skip
        log = readable_trail(request)
        bodies = iter_bodies(
            store=log.store, filters=EventFilter(type="query.*", since=start, until=now)
        )
        # the rules' typed view: a value of a type no gateway writes is absent (red team 24)
        events = [e for e in map(rule_view, bodies) if e is not None]
        alerts = list_alerts(log, since=start, until=now)
        days = [(start + timedelta(days=i)).date().isoformat() for i in range(CHART_DAYS)]
        return chart_data(events, alerts, days)

    data = await run_in_threadpool(load)
    return JSONResponse(data, headers={"Cache-Control": "no-store"})
