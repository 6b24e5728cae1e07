"""Alert rules computed from the audit trail, one small function per rule.

Every rule reads parsed events (as ``search.present`` returns them, with ``seq``) and
returns alerts ``{rule, severity, actor, summary, event_seqs}``; the seqs link each
alert to the events a security officer should open. Thresholds are parameters of
``AlertConfig`` with conservative defaults. Fields the gateway fills in ``details``:
``level`` (dataset classification, L1..L4), ``resource_dept``, ``source_id``,
``subject_tokens`` (keyed hashes of the ID numbers returned) and ``self_hash_hit``.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from audit.events import parse_ts

Event = dict[str, Any]
Alert = dict[str, Any]
QUERY_TYPES = frozenset(
    {"query.started", "query.completed", "query.failed", "query.aborted", "query.denied"}
)
# a start of each kind ends with one of these (issue 11: every start has an end on record)
ENDINGS = ("completed", "failed", "aborted")


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
    window: timedelta = field(default=timedelta(hours=1))
    # a start older than this with no end is a query whose record was evaded or lost
    unended_after: timedelta = field(default=timedelta(minutes=30))
    now: datetime | None = None  # the clock of "older than"; None: the wall clock


def _alert(
    rule: str,
    severity: str,
    actor: str | None,
    summary: str,
    seqs: Iterable[int],
    subject: str | None = None,
) -> Alert:
    return {
        "rule": rule,
        "severity": severity,
        "actor": actor,
        "subject": subject if subject is not None else actor,
        "summary": summary,
        "event_seqs": sorted(set(seqs)),
    }


def _actor(event: Event) -> str:
    return str((event.get("actor") or {}).get("sub"))


def _details(event: Event) -> dict[str, Any]:
    details = event.get("details")
    return details if isinstance(details, dict) else {}


def _windows(
    events: list[Event],
    key: Callable[[Event], Hashable | None],
    weight: Callable[[Event], float],
    distinct: Callable[[Event], Hashable] | None,
    threshold: float,
    window: timedelta,
) -> list[tuple[Hashable, list[Event], float]]:
    """Per key, the first sliding window whose total (or distinct count) passes threshold."""
    groups: dict[Hashable, list[Event]] = defaultdict(list)
    for event in events:
        k = key(event)
        if k is not None:
            groups[k].append(event)
    hits = []
    for k, group in groups.items():
        group.sort(key=lambda e: (e["ts"], e["seq"]))
        times = [parse_ts(e["ts"]) for e in group]
        start = 0
        for end in range(len(group)):
            while times[end] - times[start] >= window:
                start += 1
            members = group[start : end + 1]
            if distinct is not None:
                value: float = len({distinct(e) for e in members})
            else:
                value = sum(weight(e) for e in members)
            if value > threshold:
                hits.append((k, members, value))
                break
    return hits


def _delivered(e: Event) -> bool:
    """Rows sent to the caller: a comparison's side reads (``delivered: false``) are
    on record but never left the gateway; its matches (``comparison.completed``) did. An
    aborted delivery's ``rows`` are what left before the client went: they count too."""
    if e.get("type") in ("comparison.completed", "comparison.aborted"):
        return True
    sent = e.get("type") in ("query.completed", "query.aborted")
    return sent and _details(e).get("delivered") is not False


def bulk_pulls(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    done = [e for e in events if _delivered(e)]
    return [
        _alert(
            "bulk_pull",
            "high",
            str(actor),
            f"{int(rows)} rows within an hour",
            (e["seq"] for e in members),
        )
        for actor, members, rows in _windows(
            done, _actor, lambda e: e.get("rows") or 0, None, cfg.bulk_rows_per_hour, cfg.window
        )
    ]


def repeated_denials(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    denied = [e for e in events if e.get("outcome") == "denied"]
    return [
        _alert(
            "repeated_denials",
            "medium",
            str(actor),
            f"{int(n)} denials within an hour",
            (e["seq"] for e in members),
        )
        for actor, members, n in _windows(
            denied, _actor, lambda _e: 1, None, cfg.denials_per_hour, cfg.window
        )
    ]


def outside_hours(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    zone = ZoneInfo(cfg.timezone)
    by_actor: dict[str, list[int]] = defaultdict(list)
    for e in events:
        if e.get("type") not in QUERY_TYPES:
            continue
        local = parse_ts(e["ts"]).astimezone(zone)
        working = cfg.work_start_hour <= local.hour < cfg.work_end_hour
        if local.weekday() not in cfg.workdays or not working:
            by_actor[_actor(e)].append(e["seq"])
    return [
        _alert(
            "outside_working_hours",
            "low",
            actor,
            f"{len(seqs)} queries outside working hours ({cfg.timezone})",
            seqs,
        )
        for actor, seqs in by_actor.items()
    ]


def missing_case_reference(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    by_actor: dict[str, list[int]] = defaultdict(list)
    for e in events:
        sensitive = _details(e).get("level") in cfg.sensitive_levels
        if e.get("type") in QUERY_TYPES and sensitive and not e.get("case_ref"):
            by_actor[_actor(e)].append(e["seq"])
    return [
        _alert(
            "sensitive_without_case",
            "high",
            actor,
            f"{len(seqs)} queries on sensitive data without a case reference",
            seqs,
        )
        for actor, seqs in by_actor.items()
    ]


def many_departments(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    queries = [
        e for e in events if e.get("type") in QUERY_TYPES and _details(e).get("resource_dept")
    ]
    return [
        _alert(
            "many_departments",
            "medium",
            str(actor),
            f"data of {int(n)} departments within an hour",
            (e["seq"] for e in members),
        )
        for actor, members, n in _windows(
            queries,
            _actor,
            lambda _e: 1,
            lambda e: _details(e)["resource_dept"],
            cfg.departments_per_hour,
            cfg.window,
        )
    ]


def source_errors(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    failed = [e for e in events if e.get("type") == "query.failed"]

    def source_of(e: Event) -> str | None:
        return _details(e).get("source_id") or e.get("resource")

    return [
        _alert(
            "source_errors",
            "medium",
            None,
            f"{source} failed {int(n)} times within an hour",
            (e["seq"] for e in members),
            subject=str(source),
        )
        for source, members, n in _windows(
            failed, source_of, lambda _e: 1, None, cfg.source_errors_per_hour, cfg.window
        )
    ]


def same_person_many_users(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    """Who looked up whom: one person's records (by token) pulled by many users in a day."""
    per_token: list[Event] = []
    for e in events:
        if e.get("type") != "query.completed" or not _delivered(e):
            continue
        for token in _details(e).get("subject_tokens") or []:
            per_token.append({**e, "_token": token})
    return [
        _alert(
            "same_person_many_users",
            "high",
            None,
            f"records of subject {str(token)[:12]}… pulled by {int(n)} users in a day",
            (e["seq"] for e in members),
            subject=str(token),
        )
        for token, members, n in _windows(
            per_token,
            lambda e: e["_token"],
            lambda _e: 1,
            _actor,
            cfg.users_per_subject_per_day,
            timedelta(days=1),
        )
    ]


def own_records(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    by_actor: dict[str, list[int]] = defaultdict(list)
    for e in events:
        if _details(e).get("self_hash_hit") is True:
            by_actor[_actor(e)].append(e["seq"])
    return [
        _alert("own_records", "high", actor, "user retrieved records about themselves", seqs)
        for actor, seqs in by_actor.items()
    ]


def unended_starts(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    """A ``query.started`` (or ``comparison.started``) older than ``unended_after``
    with no completed, failed or aborted event of the same request id: the gateway
    records every end, so a missing one means a crash, a lost write, or an evasion."""
    now = cfg.now or datetime.now(UTC)
    ended: set[tuple[str, Any]] = set()
    for e in events:
        kind, _, what = str(e.get("type")).partition(".")
        if what in ENDINGS:
            ended.add((kind, e.get("request_id")))
    by_actor: dict[str, list[int]] = defaultdict(list)
    for e in events:
        kind, _, what = str(e.get("type")).partition(".")
        if what != "started" or kind not in ("query", "comparison"):
            continue
        if (kind, e.get("request_id")) in ended:
            continue
        if now - parse_ts(e["ts"]) >= cfg.unended_after:
            by_actor[_actor(e)].append(e["seq"])
    return [
        _alert(
            "query_never_ended",
            "high",
            actor,
            f"{len(seqs)} queries started but never ended on record",
            seqs,
        )
        for actor, seqs in by_actor.items()
    ]


RULES: tuple[Callable[[list[Event], AlertConfig], list[Alert]], ...] = (
    bulk_pulls,
    repeated_denials,
    outside_hours,
    missing_case_reference,
    many_departments,
    source_errors,
    same_person_many_users,
    own_records,
    unended_starts,
)


def alert_id(rule: str, subject: str | None, window: str) -> str:
    """The stable id of a finding: the same rule, subject and window give the same id
    on every evaluation (the window is the UTC day of the finding's first event)."""
    key = "\x1f".join((rule, subject or "", window))
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def compute_alerts(events: list[Event], cfg: AlertConfig | None = None) -> list[Alert]:
    """Run every rule over the events (typically the last day's).

    Each alert carries its ``id`` (``alert_id``); findings with the same id are
    grouped into one alert whose ``count`` says how many were merged."""
    cfg = cfg or AlertConfig()
    ts_of = {e["seq"]: e["ts"] for e in events if "seq" in e and "ts" in e}
    grouped: dict[str, Alert] = {}
    for rule in RULES:
        for alert in rule(events, cfg):
            seqs = alert["event_seqs"]
            first = ts_of.get(seqs[0]) if seqs else None
            window = parse_ts(first).astimezone(UTC).date().isoformat() if first else "-"
            aid = alert_id(alert["rule"], alert["subject"], window)
            if aid in grouped:
                into = grouped[aid]
                into["count"] += 1
                into["event_seqs"] = sorted(set(into["event_seqs"]) | set(seqs))
                continue
            grouped[aid] = {"id": aid, **alert, "window": window, "count": 1}
    return list(grouped.values())
