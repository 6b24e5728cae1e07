"""Home: what each role does first — analysts their queries and requests, stewards
the requests waiting for them and the drift on their sources, security officers open
alerts (acknowledged right here) and the chain's state.

Everything shown comes from the services the API uses (the audit store's search, the
grants service, the alert evaluation, the log's status). An officer's view of alerts
and of today's events is an audit read and is recorded as one (``audit.read``), as
``GET /api/v1/audit/alerts`` is; an analyst sees only their own events. The drift is
``registration.watch`` (the refresh's own comparison, changing nothing). Acknowledging
an alert from here posts to the alerts page's own route (``audit_alerts.move_alert``:
the API's handler, its permission, CSRF and record), which comes back here.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from audit.alert_state import current_alerts
from audit.log import AuditLog
from audit.search import EventFilter, list_events
from gateway.stewardship.grants import service as grants
from gateway.stewardship.registration.watch import drift_on_my_sources
from gateway.web.audit_reads import record_audit_read
from gateway.web.console.caller import Caller, may
from gateway.web.console.guard import ConsoleRoute, console_caller, count_on_rate
from gateway.web.console.pages.audit import timeline_rows
from gateway.web.console.rendering import render
from gateway.web.console.runtime import Console, get_console

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _log(console: Console) -> AuditLog | None:
    log = console.services.audit
    return log if isinstance(log, AuditLog) else None


def _analyst(console: Console, caller: Caller) -> dict[str, Any]:
    log = _log(console)
    recent: list[dict[str, Any]] = []
    if log is not None:
        page = list_events(store=log.store, filters=EventFilter(
            actor=caller.user.subject, type="query.*"), limit=20, order="desc")  # fmt: skip
        # a text view: an insider's event naming her, of another shape, is shown as it is
        recent = timeline_rows([e for e in page["items"] if e.get("type") != "query.started"][:10])
    with console.services.sessions() as session:
        mine = [r for r in grants.list_requests(session=session, user=caller.user,
                                                approver_departments=[])
                if r.requester == caller.user.subject]  # fmt: skip
    return {"recent": recent, "my_requests": mine[:10]}


def _steward(console: Console, caller: Caller) -> dict[str, Any]:
    departments = grants.steward_departments(console.services.authorizer, caller.user)
    with console.services.sessions() as session:
        found = grants.list_requests(session=session, user=caller.user,
                                     approver_departments=departments)  # fmt: skip
        drift = drift_on_my_sources(session=session, services=console.services, user=caller.user)
    waiting = [r for r in found if r.status == "pending" and r.requester != caller.user.subject
               and r.department in departments]  # fmt: skip
    return {"waiting": waiting[:20], "departments": departments, "drift": drift}


def _officer(request: Request, console: Console, caller: Caller) -> dict[str, Any]:
    log = _log(console)
    if log is None:
        return {}
    now = datetime.now(UTC)
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    record_audit_read(
        request,
        caller.user,
        "audit.read",
        {"console": "home", "alerts_since": (now - timedelta(days=1)).isoformat()},
    )
    alerts = [a for a in current_alerts(log, since=now - timedelta(days=1), until=now)
              if a.get("state", "open") == "open"]  # fmt: skip
    status = log.status()
    today = list_events(store=log.store, filters=EventFilter(since=start_of_day, until=now),
                        limit=1000, order="desc")  # fmt: skip
    counts = Counter(str(e.get("type")) for e in today["items"])
    chart = {"labels": [t for t, _ in counts.most_common(12)],
             "values": [n for _, n in counts.most_common(12)]}  # fmt: skip
    return {"alerts": alerts[:20], "chain": status, "today": counts.most_common(12),
            "chart": chart, "may_handle": may(request, caller, "audit:verify")}  # fmt: skip


@router.get("/console")
async def home(request: Request, caller: Caller = Depends(console_caller)) -> Response:
    console = get_console(request)
    context: dict[str, Any] = {"analyst": None, "steward": None, "officer": None}
    if may(request, caller, "dataset:query"):
        context["analyst"] = await run_in_threadpool(_analyst, console, caller)
    if caller.has_role("steward"):
        context["steward"] = await run_in_threadpool(_steward, console, caller)
    if may(request, caller, "alerts:read"):
        await count_on_rate(request, caller)  # an audited read at each showing (red team 29)
        context["officer"] = await run_in_threadpool(_officer, request, console, caller)
    return render(request, "home.html", **context)
