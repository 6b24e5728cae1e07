"""Drift on a steward's sources: which entries of the sources they look after no longer
match their source object (the console's home shows it, so a steward learns of a
renamed or added column before an analyst's query fails).

Each entry goes through ``datasets.pending_drift`` — the refresh's own introspection
and comparison, changing nothing — so the home page and the entry's refresh button
can never disagree. The sources are the steward's as ``list_sources`` gives them (the
sources page's list). A source that cannot be read is reported with the service's
message, which never carries a secret (introspection scrubs it); one bad source does
not hide the others. At most ``MAX_ENTRIES`` entries, and none started after
``BUDGET_S`` seconds, are read per call: each one is a connection to a partner system.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import SluiceError
from catalog.models import Dataset
from gateway.core.services import Services
from gateway.stewardship.registration.datasets import pending_drift
from gateway.stewardship.registration.schemas import DriftReport
from gateway.stewardship.registration.service import list_sources
from policies.decision import UserContext

MAX_ENTRIES = 20
BUDGET_S = 5.0


@dataclass(frozen=True)
class EntryDrift:
    """One entry that differs from its object (``report``), or could not be compared
    (``problem``: why)."""

    dataset_id: str
    title: str
    status: str
    report: DriftReport | None = None
    problem: str | None = None


@dataclass(frozen=True)
class DriftWatch:
    checked: int
    drifted: tuple[EntryDrift, ...]
    more: bool  # entries past MAX_ENTRIES or the time budget were not checked


def drift_on_my_sources(
    *,
    session: Session,
    services: Services,
    user: UserContext,
    limit: int = MAX_ENTRIES,
    budget_s: float = BUDGET_S,
    clock: Callable[[], float] = time.monotonic,
    check: Callable[..., DriftReport] = pending_drift,
) -> DriftWatch:
    """The entries of ``user``'s sources whose object changed or cannot be read.

    A source that failed once is not connected to again for its other entries (they
    get its message), and no entry is started after ``budget_s``: a partner system that
    is down costs one connection timeout, not one per entry, and the page still
    answers (``more`` says some were not checked)."""
    source_ids = [s.id for s in list_sources(session=session, authorizer=services.authorizer,
                                             user=user)]  # fmt: skip
    if not source_ids:
        return DriftWatch(checked=0, drifted=(), more=False)
    entries = list(session.scalars(select(Dataset).where(Dataset.source_id.in_(source_ids))
                                   .order_by(Dataset.id).limit(limit + 1)))  # fmt: skip
    drifted: list[EntryDrift] = []
    failed: dict[str, str] = {}  # source id -> why it could not be read
    deadline, checked = clock() + budget_s, 0
    for entry in entries[:limit]:
        if clock() > deadline:
            break
        checked += 1
        found = EntryDrift(dataset_id=entry.id, title=entry.title_zh or entry.id,
                           status=entry.status)  # fmt: skip
        if entry.source_id in failed:
            drifted.append(replace(found, problem=failed[entry.source_id]))
            continue
        try:
            report = check(session=session, services=services, user=user,
                           dataset_id=entry.id)  # fmt: skip
        except SluiceError as exc:
            failed[entry.source_id] = exc.message
            drifted.append(replace(found, problem=exc.message))
            continue
        if report.changed:
            drifted.append(replace(found, report=report))
    return DriftWatch(checked=checked, drifted=tuple(drifted),
                      more=checked < len(entries))  # fmt: skip
