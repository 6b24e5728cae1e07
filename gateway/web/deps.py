"""FastAPI dependencies: the services, the session (unit of work), the current user."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from gateway.core.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def count_call(request: Request, subject: str) -> None:
    """Count this request once on ``subject``'s rate (``SLUICE_RATE_LIMIT``; blocking:
    the limits store, Redis across replicas); ``RateLimited`` (429) past it.

    An audited call is counted at its door — the API's ``audited_user``, the console's
    forms (``csrf_form``) — and, for the console's pages that read audited data (the
    audit timeline, an event, the charts, the alerts, the home page's alerts, a run's
    hits), by the record itself (``record_audit_read``, the runs' ``_event``): whatever
    the door, a request that puts a record on the trail counts, once (rows32: the
    console's audit pages counted on nothing)."""
    if getattr(request.state, "rate_counted", None) == subject:
        return
    get_services(request).limiter.hit_request(subject)
    request.state.rate_counted = subject


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; the route commits, so a data change and its audit
    record commit together or not at all."""
    session = get_services(request).sessions()
    try:
        yield session
    finally:
        session.close()
