"""Audit, continued: alerts with their state (acknowledge / resolve with a note), linked
to their events, and the response actions the API offers (suspend a user, revoke their
grants, freeze an entry; lifting a suspension or a freeze is an admin's, and the
service refuses the one who imposed it).

Each form calls the API's own handler (``gateway.web.routes.audit`` for alerts,
``gateway.web.routes.emergency`` for actions) with the console's request, so the event
on record, the fail-closed ordering (record, then commit) and the separation-of-duties
checks are the API's, not a copy. Reading the alerts is an ``audit.read`` as
``GET /api/v1/audit/alerts`` is. Permissions are the API's casbin actions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from catalog.errors import BadRequest
from gateway.web.console.caller import Caller, may
from gateway.web.console.forms import Form
from gateway.web.console.guard import ConsoleRoute, csrf_form, page_permission
from gateway.web.console.pages.audit import model
from gateway.web.console.rendering import render
from gateway.web.console.runtime import get_console
from gateway.web.routes import audit as api
from gateway.web.routes import emergency
from policies.decision import UserContext

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
may_read_alerts = page_permission("alerts:read")
may_handle = page_permission("audit:verify")  # the API's ``require_alerts_handler``
ALERTS = "/console/audit/alerts"
MAX_ALERT_ID = 64

# action -> (casbin action, API handler, form field naming the target)
ACTIONS: dict[str, tuple[str, Callable[..., dict[str, Any]], str]] = {
    "suspend": ("users:suspend", emergency.suspend_user, "subject"),
    "unsuspend": ("users:unsuspend", emergency.unsuspend_user, "subject"),
    "revoke-grants": ("grants:revoke", emergency.revoke_user_grants, "subject"),
    "freeze": ("datasets:freeze", emergency.freeze_dataset, "dataset"),
    "unfreeze": ("datasets:unfreeze", emergency.unfreeze_dataset, "dataset"),
}


def _allowed_actions(request: Request, caller: Caller) -> list[str]:
    return [name for name, (action, _, _) in ACTIONS.items() if may(request, caller, action)]


@router.get(ALERTS)
async def alerts_page(request: Request, caller: Caller = Depends(may_read_alerts)) -> Response:
    found = await run_in_threadpool(api.alerts, request, caller.user, None, None)
    return render(request, "audit_alerts.html", alerts=found["alerts"], since=found["since"],
                  may_handle=may(request, caller, "audit:verify"),
                  actions=_allowed_actions(request, caller))  # fmt: skip


@router.post(ALERTS + "/{alert_id}/{to}")
async def move_alert(
    request: Request, alert_id: str, to: str,
    caller: Caller = Depends(may_handle), form: Form = Depends(csrf_form),
) -> Response:  # fmt: skip
    if len(alert_id) > MAX_ALERT_ID:
        raise BadRequest(f"an alert id has at most {MAX_ALERT_ID} characters")
    handlers = {"acknowledge": api.acknowledge_alert, "resolve": api.resolve_alert}
    handler = handlers.get(to)
    if handler is None:
        raise BadRequest("an alert is acknowledged or resolved")
    body = model(api.AlertAction, note=form.get("note").strip())
    await run_in_threadpool(handler, request, body, alert_id, caller.user)
    if form.get("back") == "home":  # acknowledged from the home page's open alerts
        return RedirectResponse("/console#alerts-h", status_code=303)
    return RedirectResponse(f"{ALERTS}#alert-{alert_id}", status_code=303)


@router.get("/console/audit/actions")
async def actions_page(request: Request, caller: Caller = Depends(page_permission(
        "users:suspend"))) -> Response:  # fmt: skip
    return render(request, "audit_actions.html", actions=_allowed_actions(request, caller),
                  done=None, result=None, subject=request.query_params.get("subject", "")[:128],
                  alert_id=request.query_params.get("alert_id", "")[:MAX_ALERT_ID])  # fmt: skip


def _act(request: Request, user: UserContext, name: str, target: str, form: Form) -> dict[str, Any]:
    _, handler, _ = ACTIONS[name]
    body = model(emergency.EmergencyIn, reason=form.get("reason"),
                 alert_id=form.get("alert_id").strip() or None)  # fmt: skip
    session: Session = get_console(request).services.sessions()
    try:
        return handler(target, body, request, user, session)
    finally:
        session.close()


def _action_route(name: str) -> None:
    action, _, field = ACTIONS[name]

    async def act(
        request: Request,
        caller: Caller = Depends(page_permission(action)),
        form: Form = Depends(csrf_form),
    ) -> Response:
        target = form.get(field).strip()
        if not target or len(target) > 128:
            raise BadRequest(f"{field}: 1 to 128 characters")
        result = await run_in_threadpool(_act, request, caller.user, name, target, form)
        return render(request, "audit_actions.html", actions=_allowed_actions(request, caller),
                      done=name, result=result, subject="", alert_id="")  # fmt: skip

    act.__name__ = f"console_{name.replace('-', '_')}"
    router.add_api_route(f"/console/audit/actions/{name}", act, methods=["POST"])


for _name in ACTIONS:
    _action_route(_name)
