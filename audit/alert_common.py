"""What every alert rule shares: the finding's shape, event accessors, sliding windows.

A rule returns *findings*; each finding carries its ``occurrences`` — one list of event
seqs per time the pattern happened (one crossing of a threshold window, or one event
for rules that flag single events). ``audit.alerts.compute_alerts`` groups findings
into one alert per rule, subject and UTC day and counts the distinct occurrences, and
``audit.alert_state`` splits an alert after a resolution (a later occurrence opens a
new alert): that is why occurrences are kept apart instead of merged at once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from audit.events import parse_ts

Event = dict[str, Any]
Alert = dict[str, Any]
QUERY_TYPES = frozenset(
    {"query.started", "query.completed", "query.failed", "query.aborted", "query.denied"}
)
T = TypeVar("T")
COUNT = "{n}"
"""In a summary, replaced by the alert's occurrence count once findings are grouped."""


DETAIL_KEYS = (
    "resource_dept",
    "resource_depts",
    "level",
    "source_id",
    "subject_tokens",
    "self_hash_hit",
    "delivered",
    "counties",
    "below_suggestion",
)
_TEXT_DETAILS = frozenset({"resource_dept", "level", "source_id"})
_TEXT_LISTS = frozenset({"resource_depts", "subject_tokens"})


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _plain(value: Any) -> Any:
    """A scalar as stored; a list or an object (no gateway writes one there) as absent."""
    return value if value is None or isinstance(value, str | int | float | bool) else None


def _detail(key: str, value: Any) -> Any:
    """A detail as the rules read it: of the type the gateway writes, else absent."""
    if key in _TEXT_DETAILS:
        return _text(value)
    if key in _TEXT_LISTS:
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else None
    if key == "counties":
        return [v for v in value if isinstance(v, str | int) and not isinstance(v, bool)] \
            if isinstance(value, list) else None  # fmt: skip
    if key == "below_suggestion":
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else None
    return _plain(value)


def slim(event: Event) -> Event:
    """What the rules read of an event, each value of the type the gateway writes (a
    value of another type is absent), its time parsed once (``_t``). An insider's event
    chained at the head (public arithmetic) with ``subject_tokens`` a number or
    ``level`` a list failed every evaluation for a day: the seal it caused was never
    alerted (red team 24)."""
    found = event.get("details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    actor = event.get("actor")
    rows = event.get("rows")
    return {
        "seq": event["seq"],
        "ts": event["ts"],
        "_t": parse_ts(event["ts"]),
        "type": _text(event.get("type")),
        "outcome": _text(event.get("outcome")),
        "actor": {"sub": _text(actor.get("sub")) if isinstance(actor, dict) else None},
        "resource": _text(event.get("resource")),
        "case_ref": _text(event.get("case_ref")),
        "rows": rows if isinstance(rows, int | float) and not isinstance(rows, bool) else None,
        "request_id": _text(event.get("request_id")),
        "details": {k: _detail(k, details[k]) for k in DETAIL_KEYS if k in details},
    }


def rule_view(event: Event) -> Event | None:
    """``slim`` of a stored event, or None for one no gateway wrote (no seq or time): the
    monitor's walk seals on it; failing the whole evaluation on it kept the seal's own
    alert from being opened and pushed (red team 18)."""
    try:
        return slim(event)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def finding(
    rule: str,
    severity: str,
    actor: str | None,
    summary: str,
    occurrences: Iterable[Iterable[int]],
    subject: str | None = None,
) -> Alert:
    """One finding; ``event_seqs`` is the union of its occurrences' seqs."""
    occ = [sorted(set(o)) for o in occurrences]
    occ = [o for o in occ if o]
    return {
        "rule": rule,
        "severity": severity,
        "actor": actor,
        "subject": subject if subject is not None else actor,
        "summary": summary,
        "event_seqs": sorted({s for o in occ for s in o}),
        "occurrences": occ,
    }


def actor_of(event: Event) -> str:
    return str((event.get("actor") or {}).get("sub"))


def details_of(event: Event) -> dict[str, Any]:
    details = event.get("details")
    return details if isinstance(details, dict) else {}


def when(event: Event) -> datetime:
    """The event's time; a runner's cached events carry it parsed (``_t``)."""
    parsed = event.get("_t")
    return parsed if isinstance(parsed, datetime) else parse_ts(event["ts"])


def utc_day(event: Event) -> date:
    return when(event).astimezone(UTC).date()


RELEASED = "reidentification.released"


def delivered(e: Event) -> bool:
    """Rows sent to the caller: a comparison's side reads (``delivered: false``) are
    on record but never left the gateway; its matches (``comparison.completed``) did. An
    aborted delivery's ``rows`` are what left before the client went: they count too.
    A re-identification's release sends the approved hits' rows with their ID numbers
    in clear (its side reads are ``delivered: false``): its own record is the delivery,
    or the identities it hands out never counted toward a bulk pull (red team 51)."""
    if e.get("type") in ("comparison.completed", "comparison.aborted", RELEASED):
        return True
    sent = e.get("type") in ("query.completed", "query.aborted")
    return sent and details_of(e).get("delivered") is not False


def windows(
    events: list[Event],
    key: Callable[[Event], Hashable | None],
    weight: Callable[[Event], float],
    distinct: Callable[[Event], Hashable] | None,
    threshold: float,
    window: timedelta,
) -> list[tuple[Hashable, list[Event], float]]:
    """Per key, every sliding window whose total (or distinct count) passes threshold.

    Windows do not overlap: after a crossing the next window starts with the next event,
    so one burst is one occurrence and a second burst later is a second one (an alert
    that grows only by events of a burst already counted does not recur).

    The window's total and distinct values are kept as it slides (one step per event
    entering or leaving), not recounted per event: the runner evaluates the day's events
    every second under load, and a key looked up all day (one person, one county) would
    make a recount quadratic in the day's events. Weights are whole numbers (rows,
    ones), so the running total is exact."""
    groups: dict[Hashable, list[Event]] = defaultdict(list)
    for event in events:
        k = key(event)
        if k is not None:
            groups[k].append(event)
    hits: list[tuple[Hashable, list[Event], float]] = []
    for k, group in groups.items():
        group.sort(key=lambda e: (e["ts"], e["seq"]))
        times = [when(e) for e in group]
        if distinct is not None:
            hits.extend((k, m, v) for m, v in distinct_windows(group, times, distinct,
                                                               threshold, window))  # fmt: skip
        else:
            hits.extend((k, m, v) for m, v in _total_windows(group, times, weight,
                                                             threshold, window))  # fmt: skip
    return hits


def _total_windows(
    group: list[Event], times: list[datetime], weight: Callable[[Event], float],
    threshold: float, window: timedelta,
) -> list[tuple[list[Event], float]]:  # fmt: skip
    weights = [weight(e) for e in group]
    hits: list[tuple[list[Event], float]] = []
    start = 0
    total: float = 0  # stays an int for whole weights, as the recount's sum() did
    for end in range(len(group)):
        total += weights[end]
        while times[end] - times[start] >= window:
            total -= weights[start]
            start += 1
        if total > threshold:
            hits.append((group[start : end + 1], total))
            start, total = end + 1, 0
    return hits


def distinct_windows(
    group: list[T], times: list[datetime], distinct: Callable[[T], Hashable],
    threshold: float, window: timedelta,
) -> list[tuple[list[T], float]]:  # fmt: skip
    """``windows``' distinct count over one key's items in time order (``times``): items
    are events, or the subject rules' entries (``audit.alert_subjects``)."""
    values = [distinct(e) for e in group]
    hits: list[tuple[list[T], float]] = []
    inside: Counter[Hashable] = Counter()
    start = 0
    for end in range(len(group)):
        inside[values[end]] += 1
        while times[end] - times[start] >= window:
            gone = values[start]
            inside[gone] -= 1
            if not inside[gone]:
                del inside[gone]
            start += 1
        if len(inside) > threshold:
            hits.append((group[start : end + 1], len(inside)))
            start = end + 1
            inside.clear()
    return hits


def per_key_and_day(
    events: Iterable[Event], key: Callable[[Event], str | None]
) -> dict[tuple[str, date], list[int]]:
    """Seqs of the events a per-event rule flags, by key and UTC day (one alert each)."""
    out: dict[tuple[str, date], list[int]] = defaultdict(list)
    for e in events:
        k = key(e)
        if k is not None:
            out[(k, utc_day(e))].append(e["seq"])
    return out
