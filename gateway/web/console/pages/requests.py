"""Access requests: analysts ask (pre-filled from a refused query) and follow theirs;
stewards approve or reject with a comment, see the second-approver state of an L4
request, and revoke; the requester sees the outcome.

No second code path: asking, rejecting and revoking call the API's route functions
(``gateway.web.routes.access_requests``) with the console's session, so the checks
(casbin on the owning department, separation of duties, the service's rules), the
audit event (``access.*``, fail closed, before the commit) and the compare-and-set
commit are the API's own. Approving calls the services the route calls
(``check_may_decide``, ``approve``, ``record_change``; for a re-identification the
``reidentification`` service), in the route's order; the only addition is the
steward's optional comment in the event's details (the API's approve takes no body).
Re-identification requests (``ri_`` ids) are listed beside access requests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from audit.event_types import EventType
from catalog import service as catalog
from catalog.errors import BadRequest, Forbidden, SluiceError
from catalog.reidentifications import PREFIX as REID
from catalog.schemas import DatasetOut
from gateway.enforcement.comparison import run_service
from gateway.stewardship.grants import reidentification as reid
from gateway.stewardship.grants import service as grants
from gateway.stewardship.grants.schemas import AccessRequestIn, DecisionIn
from gateway.web.console.caller import Caller, may
from gateway.web.console.forms import Form
from gateway.web.console.guard import ConsoleRoute, console_caller, csrf_form
from gateway.web.console.rendering import from_input_key, left_as_shown, offered, render
from gateway.web.console.runtime import get_console
from gateway.web.routes import access_requests as api

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

T = TypeVar("T")
ASK, DECIDE = "access:request", "access:approve"
DEFAULT_DAYS = 30


async def requests_caller(request: Request, caller: Caller = Depends(console_caller)) -> Caller:
    """Analysts (who ask) and stewards (who decide); everyone else gets 403."""
    if not (may(request, caller, ASK) or may(request, caller, DECIDE)):
        raise Forbidden("access requests are for analysts and stewards")
    return caller


async def asker(request: Request, caller: Caller = Depends(console_caller)) -> Caller:
    if not may(request, caller, ASK):
        raise Forbidden(f"{ASK} is not allowed")
    return caller


async def decider(request: Request, caller: Caller = Depends(console_caller)) -> Caller:
    """A steward of some department (``may``); the route's ``_decide`` then checks the
    request's own department."""
    if not may(request, caller, DECIDE):
        raise Forbidden(f"{DECIDE} is not allowed")
    return caller


def _in_session(request: Request, work: Callable[[Session], T]) -> T:
    with get_console(request).services.sessions() as session:
        return work(session)


def _departments(request: Request, caller: Caller) -> list[str]:
    """The departments the caller decides for (as ``GET /api/v1/access-requests``)."""
    return grants.steward_departments(get_console(request).services.authorizer, caller.user)


@router.get("/console/requests")
async def requests_page(request: Request, caller: Caller = Depends(requests_caller)) -> Response:
    departments = _departments(request, caller)

    authorizer = get_console(request).services.authorizer

    def load(session: Session) -> dict[str, Any]:
        found = grants.list_requests(session=session, user=caller.user,
                                     approver_departments=departments)  # fmt: skip
        found.sort(key=lambda r: r.created_at, reverse=True)  # newest first (ids are random)
        subject = caller.user.subject
        asks = reid.list_for(session=session, authorizer=authorizer, user=caller.user)
        return {
            "mine": [r for r in found if r.requester == subject],
            "waiting": [r for r in found if r.requester != subject and r.status == "pending"],
            "decided": [r for r in found if r.requester != subject and r.status != "pending"],
            "reid_mine": [r for r in asks if r.requester == subject],
            "reid_theirs": [(r, reid.decides_for(authorizer, caller.user, r)) for r in asks
                            if r.requester != subject],
            # read while the session is open (``sealed`` checks the row against its
            # database's key): changed behind the gateway, it grants nothing
            "unsealed": ({r.id for r in found if not r.sealed}
                         | {r.id for r in asks if not r.sealed}),
        }  # fmt: skip

    data = await run_in_threadpool(_in_session, request, load)
    return render(request, "requests.html", may_decide=may(request, caller, DECIDE),
                  may_ask=may(request, caller, ASK), **data)  # fmt: skip


@router.get("/console/requests/new")
async def new_request(
    request: Request,
    dataset: str = Query("", max_length=128),
    fields: list[str] = Query([], max_length=200),
    purpose: str = Query("", max_length=64),
    case_ref: str = Query("", max_length=128),
    caller: Caller = Depends(asker),
) -> Response:
    """The request form, pre-filled (a refused query links here with its fields,
    purpose and case reference)."""

    def load(session: Session) -> dict[str, Any]:
        entries = [DatasetOut.model_validate(d) for d in catalog.list_datasets(session=session)]
        chosen = next((d for d in entries if d.id == dataset), None)
        return {"entries": entries, "entry": chosen}

    data = await run_in_threadpool(_in_session, request, load)
    return render(request, "request_new.html", fields=set(fields), purpose=purpose,
                  case_ref=case_ref, days=DEFAULT_DAYS, **data)  # fmt: skip


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def _case_ref(form: Form) -> str:
    """The case reference as asked: the one a refused query's link offered if the input
    is left as the page showed it (``left_as_shown``: printed through ``shown``, a
    reference holding an invisible character came back as its ``\\uXXXX`` display and
    asked a grant under a case nobody gave: red team 64), else as typed. The offered
    one is the caller's own text: it grants nothing the input could not say."""
    offered_key = form.get("case_ref_offered")
    refusal = "the offered case reference came back other than it was offered"
    held = from_input_key(offered_key, refusal) if offered_key else None
    return left_as_shown(form.get("case_ref"), held)


def _ask_body(form: Form, entry: DatasetOut | None) -> AccessRequestIn:
    """The form as the API's body; the fields and purpose the page offered read back as
    the entry's (``offered``: a box printed a name's display, red team 64)."""
    names = [f.name for f in entry.fields] if entry is not None else []
    purposes = list(entry.allowed_purposes) if entry is not None else []
    try:
        return AccessRequestIn(
            dataset=form.get("dataset"),
            fields=[offered(f, names) for f in form.getlist("fields") if f],
            purpose=offered(form.get("purpose"), purposes), case_ref=_case_ref(form),
            justification=form.get("justification").strip(),
            days=int(form.get("days") or DEFAULT_DAYS),
        )  # fmt: skip
    except ValueError as exc:  # ValidationError is a ValueError; so is int("x")
        message = _problems(exc) if isinstance(exc, ValidationError) else "days: a whole number"
        raise BadRequest(message) from None


@router.post("/console/requests")
async def ask(request: Request, caller: Caller = Depends(asker),
              form: Form = Depends(csrf_form)) -> Response:  # fmt: skip
    def create(session: Session) -> object:
        try:
            entry = DatasetOut.model_validate(
                catalog.get_dataset(session=session, dataset_id=form.get("dataset"))
            )
        except (SluiceError, ValueError):  # the API's create says why
            entry = None
        body = _ask_body(form, entry)
        return api.create(body=body, request=request, user=caller.user, session=session)

    await run_in_threadpool(_in_session, request, create)
    return RedirectResponse("/console/requests", status_code=303)


def _comment(form: Form) -> str:
    try:
        return DecisionIn(reason=form.get("comment").strip()).reason
    except ValidationError as exc:
        raise BadRequest(_problems(exc)) from None


def _approve(request: Request, caller: Caller, request_id: str,
             comment: str) -> Callable[[Session], object]:  # fmt: skip
    services = get_console(request).services
    extra = {"comment": comment} if comment else {}

    def work(session: Session) -> object:
        now = datetime.now(UTC)
        if request_id.startswith(REID):
            ask = reid.get(session=session, request_id=request_id)
            ask = reid.approve(authorizer=services.authorizer, approver=caller.user, req=ask,
                               now=now, require_kept=partial(run_service.require_kept,
                                                             services))  # fmt: skip
            return reid.record(audit=services.audit, session=session, user=caller.user,
                               req=ask, event_type=EventType.REIDENTIFICATION_APPROVED,
                               **extra)  # fmt: skip
        req = grants.get_request(session=session, request_id=request_id)
        grants.check_may_decide(services.authorizer, caller.user, req)
        req = grants.approve(
            session=session, approver=caller.user, request=req, now=now, trail=services.audit
        )
        return grants.record_change(audit=services.audit, session=session, user=caller.user,
                                    req=req, event_type=EventType.ACCESS_APPROVED,
                                    **extra)  # fmt: skip

    return work


@router.post("/console/requests/{request_id}/{action}")
async def decide(
    request: Request,
    request_id: str,
    action: str,
    caller: Caller = Depends(requests_caller),
    form: Form = Depends(csrf_form),
) -> Response:
    """approve / reject (stewards of the owning department), revoke (they or the
    requester, as the API allows)."""
    comment = _comment(form)
    body = DecisionIn(reason=comment)
    user = caller.user
    work: Callable[[Session], object]
    if action == "approve":
        await decider(request, caller)
        work = _approve(request, caller, request_id, comment)
    elif action == "reject":
        await decider(request, caller)
        work = lambda session: api.reject(  # noqa: E731
            request_id=request_id, body=body, request=request, user=user, session=session
        )
    elif action == "revoke":  # the API's own rule: a steward of the department or the requester
        work = lambda session: api.revoke(  # noqa: E731
            request_id=request_id, body=body, request=request, user=user, session=session
        )
    else:
        raise BadRequest(f"unknown action {action!r}: approve, reject or revoke")
    await run_in_threadpool(_in_session, request, work)
    return RedirectResponse("/console/requests", status_code=303)
