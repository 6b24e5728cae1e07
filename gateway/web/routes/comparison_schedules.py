"""``/api/v1/comparison-models/{id}/schedules``: a model run again per county, and
``/api/v1/comparison-schedules/run-due``: trigger the caller's due schedules now.

Creating and deleting need ``compare:run`` and are the owner's; officers
(``compare:review``) list everyone's. Every change is on the audit trail before it
commits (``comparison_schedule.*``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy.orm import Session

from gateway.stewardship.comparison_models import schedules
from gateway.stewardship.comparison_models.schedules import ScheduleIn
from gateway.stewardship.comparison_models.service import get_visible
from gateway.web.authz import require
from gateway.web.current_user import current_user
from gateway.web.deps import get_services, get_session
from gateway.web.routes.comparison_models import is_reviewer, runner
from policies.decision import UserContext

router = APIRouter(tags=["comparison schedules"])
ModelId = Path(min_length=1, max_length=64)
ScheduleId = Path(min_length=1, max_length=40)
BASE = "/api/v1/comparison-models/{model_id}/schedules"


@router.get(BASE)
def list_schedules(
    request: Request, model_id: str = ModelId, user: UserContext = Depends(current_user),
    session: Session = Depends(get_session),
) -> list[dict[str, Any]]:  # fmt: skip
    """The caller's schedules of this model (officers: everyone's)."""
    reviewer = is_reviewer(request, user)
    model = get_visible(session, model_id, user, reviewer=reviewer)
    return [schedules.view(s) for s in schedules.listing(session, model, user, reviewer=reviewer)]


@router.post(BASE, status_code=201)
def create_schedule(
    body: ScheduleIn, request: Request, model_id: str = ModelId,
    user: UserContext = Depends(require("compare:run")),
    session: Session = Depends(get_session),
) -> dict[str, Any]:  # fmt: skip
    """Run this model for one county every day, week or month, as you, under one case;
    its first run is due at once. Refused (4xx) when you could not run it now."""
    model = get_visible(session, model_id, user, reviewer=False)
    schedule = schedules.create(services=get_services(request), session=session,
                                runner=runner(request), user=user, model=model, body=body,
                                now=datetime.now(UTC))  # fmt: skip
    session.commit()
    return schedules.view(schedule)


@router.delete(BASE + "/{schedule_id}")
def delete_schedule(
    request: Request, model_id: str = ModelId, schedule_id: str = ScheduleId,
    user: UserContext = Depends(require("compare:run")),
    session: Session = Depends(get_session),
) -> dict[str, Any]:  # fmt: skip
    """Stop a schedule (its owner only); its runs stay."""
    model = get_visible(session, model_id, user, reviewer=False)
    now = datetime.now(UTC)
    schedule = schedules.delete(services=get_services(request), session=session, user=user,
                                model=model, schedule_id=schedule_id, now=now)  # fmt: skip
    session.commit()
    return {**schedules.view(schedule), "deleted": True}


@router.post("/api/v1/comparison-schedules/run-due")
def run_due(
    request: Request, user: UserContext = Depends(require("compare:run"))
) -> dict[str, list[str]]:
    """Trigger the caller's schedules that are due now (the gateway's own clock does
    everyone's when ``SLUICE_COMPARISON_SCHEDULER`` is on); returns the runs queued."""
    queued = schedules.run_due(services=get_services(request), runner=runner(request),
                               owner=user.subject)  # fmt: skip
    return {"runs": queued}
