"""Random audit streams for the incremental runner's equivalence tests: few users,
tokens, departments, requests and sources, small thresholds, so that every rule fires,
recurs, settles and ages out within a few steps of a few hours."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.alerts import AlertConfig
from audit.events import format_ts

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Shanghai
CFG = AlertConfig(
    bulk_rows_per_hour=3000,
    denials_per_hour=2,
    departments_per_hour=2,
    source_errors_per_hour=1,
    users_per_subject_per_day=2,
    person_departments_per_day=1,
    baseline_min_events=3,
    baseline_min_days=1,
    unended_after=timedelta(minutes=30),
)
TYPES = (
    ["query.completed"] * 6
    + ["query.started"] * 3
    + ["query.aborted", "query.failed", "query.denied", "comparison.started"]
    + ["comparison.completed", "comparison.aborted", "dataset.published", "dataset.updated"]
)
USERS = ("ann", "bob", "cy", "dee")
DEPTS = ("civil", "health", "tax", "police")
TOKENS = tuple(f"tk_{i:02d}" for i in range(6))
COUNTIES = ("430121", "430122", "430123", "430124")


def random_event(rng: random.Random, at: datetime) -> dict[str, Any]:
    """One event as a gateway could write it (no seq: the log gives it)."""
    etype = rng.choice(TYPES)
    details: dict[str, Any] = {"resource_dept": rng.choice(DEPTS), "level": rng.choice(
        ["L1", "L2", "L3", "L4"])}  # fmt: skip
    if rng.random() < 0.2:
        details["resource_depts"] = rng.sample(DEPTS, rng.randint(1, 3))
    if rng.random() < 0.5:
        details["subject_tokens"] = rng.sample(TOKENS, rng.randint(1, 3))
    if rng.random() < 0.1:
        details["delivered"] = False
    if rng.random() < 0.1:
        details["self_hash_hit"] = True
    if rng.random() < 0.3:
        details["source_id"] = rng.choice(["src_a", "src_b"])
    if rng.random() < 0.6:
        details["counties"] = rng.sample(COUNTIES, rng.randint(1, 2))
    if etype.startswith("dataset.") and rng.random() < 0.6:
        details["below_suggestion"] = [
            {"field": "id_number", "level": "L2", "suggested_level": "L4"}
        ]
    return {
        "ts": format_ts(at),
        "type": etype,
        "outcome": "denied" if etype == "query.denied" else rng.choice(["ok"] * 5 + ["denied"]),
        "actor": {"sub": rng.choice(USERS), "dept": "civil", "roles": ["analyst"]},
        "resource": f"dataset:{rng.choice(['civil.a', 'health.b'])}",
        "case_ref": rng.choice([None, "CASE-1"]),
        "rows": rng.choice([0, 5, 400, 1500]),
        "request_id": f"req-{rng.randint(0, 12)}",
        "details": details,
    }


def step_times(rng: random.Random, now: datetime, n: int) -> list[datetime]:
    """The times of a step's events: mostly the last hour before ``now``, some late
    (an import: up to two days old) and a few slightly ahead (a skewed clock)."""
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.08:
            out.append(now - timedelta(hours=rng.uniform(20, 48)))
        elif roll < 0.12:
            out.append(now + timedelta(seconds=rng.uniform(0, 30)))
        else:
            out.append(now - timedelta(minutes=rng.uniform(0, 60)))
    return out


def next_now(rng: random.Random, now: datetime) -> datetime:
    """Time moves on by minutes, hours, or most of a day (events age out)."""
    steps = [
        timedelta(minutes=rng.uniform(0, 20)),
        timedelta(hours=rng.uniform(0.5, 4)),
        timedelta(hours=rng.uniform(8, 20)),
    ]
    return now + rng.choice(steps)
