"""The thresholds of the alert rules (``SLUICE_ALERT_*`` settings feed them).

A module of its own, below the rules (``audit.alerts``, ``audit.alert_subjects``) and
the runner, so that each rule module can name it without importing another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class AlertConfig:
    bulk_rows_per_hour: int = 10_000
    denials_per_hour: int = 5
    work_start_hour: int = 8
    work_end_hour: int = 19
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    timezone: str = "Asia/Shanghai"
    sensitive_levels: frozenset[str] = frozenset({"L3", "L4"})
    departments_per_hour: int = 4
    source_errors_per_hour: int = 3
    users_per_subject_per_day: int = 3
    # one person's records may come from this many departments in a day; one more alerts
    person_departments_per_day: int = 2
    # the per-user baseline (``audit.baseline``): learned over this many days before the
    # window; users with fewer accesses or fewer active days on record are never flagged
    baseline_days: int = 30
    baseline_min_events: int = 20
    baseline_min_days: int = 5
    window: timedelta = field(default=timedelta(hours=1))
    # a start older than this with no end is a query whose record was evaded or lost
    unended_after: timedelta = field(default=timedelta(minutes=30))
    now: datetime | None = None  # the clock of "older than"; None: the wall clock
