"""A steward's connection test (the console's "test connection"), on record.

The test makes the gateway connect, from its own network position, to the system a
steward names, with the credentials the steward types — the very checks a registration
runs (``service.check_and_connect``). Off the record it was a password oracle the trail
never saw: a registration through the API is on record either way (``source.registered``
or ``request.refused``), a test was not (red team 29; red team 10 had closed it for other
departments' systems). Each test is now ``source.tested``: who, which source id, the
target as redacted, whether it connected, and the refusal's code when it did not.
Appended before the answer is shown, failing closed like every append.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from adapters.base import SourceConfig
from audit.event_types import EventType, Outcome
from audit.records import Actor, registration_event
from catalog.errors import SluiceError
from gateway.core.services import Services
from gateway.stewardship.registration.service import check_and_connect, redacted_target
from policies.decision import UserContext


def tested_connection(
    *, session: Session, services: Services, user: UserContext, department: str,
    source_id: str, config: SourceConfig,
) -> str:  # fmt: skip
    """``check_and_connect``'s redacted target, the test on record whatever it found;
    its refusal re-raised once recorded."""
    try:
        redacted, _target = check_and_connect(session=session, services=services,
                                              department=department, source_id=source_id,
                                              config=config)  # fmt: skip
    except SluiceError as exc:
        outcome = Outcome.DENIED if exc.http_status == 403 else Outcome.ERROR
        _record(services, user, department, source_id, outcome,
                {"kind": config.kind, "redacted": _redacted(config), "connected": False,
                 "refused": exc.code})  # fmt: skip
        raise
    _record(services, user, department, source_id, Outcome.OK,
            {"kind": config.kind, "redacted": redacted, "connected": True})  # fmt: skip
    return redacted


def _redacted(config: SourceConfig) -> str | None:
    """The target as a registration shows it (no secret), or None if it has no shape."""
    try:
        return redacted_target(config)
    except Exception:  # a config the registry cannot read: its kind is on record
        return None


def _record(services: Services, user: UserContext, department: str, source_id: str,
            outcome: Outcome, details: dict[str, Any]) -> None:  # fmt: skip
    services.audit.append(registration_event(
        type_=EventType.SOURCE_TESTED, actor=Actor.of(user), resource=f"source:{source_id}",
        department=department, details=details, outcome=outcome,
    ))  # fmt: skip
