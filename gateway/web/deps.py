"""FastAPI dependencies: the services, the session (unit of work), the current user."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from gateway.core.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; the route commits, so a data change and its audit
    record commit together or not at all."""
    session = get_services(request).sessions()
    try:
        yield session
    finally:
        session.close()
