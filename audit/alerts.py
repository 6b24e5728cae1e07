"""Alert rules computed from the audit trail, one small function per rule.

Every rule reads parsed events (as ``search.present`` returns them, with ``seq``) and
returns findings ``{rule, severity, actor, subject, summary, event_seqs, occurrences}``
(``audit.alert_common``); the seqs link each alert to the events a security officer
should open. Thresholds are parameters of ``AlertConfig`` with conservative defaults.
Fields the gateway fills in ``details``: ``level`` (dataset classification, L1..L4),
``resource_dept``, ``source_id``, ``subject_tokens`` (keyed hashes of the ID numbers
returned), ``self_hash_hit``, ``counties`` (the county codes of the rows sent) and, on
``dataset.published``, ``below_suggestion`` (fields classified under the level the
classifier suggested). The per-user baseline rules live in ``audit.baseline``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Container, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from audit.alert_common import (
    COUNT,
    QUERY_TYPES,
    Alert,
    Event,
    actor_of,
    delivered,
    details_of,
    finding,
    per_key_and_day,
    utc_day,
    when,
    windows,
)
from audit.alert_config import AlertConfig
from audit.alert_subjects import person_many_departments, same_person_many_users
from audit.baseline import Baseline, unusual_counties, unusual_hours

# a start of each kind ends with one of these (issue 11: every start has an end on record)
ENDINGS = ("completed", "failed", "aborted")
# an audit export through the API (``gateway.web.audit_export``): its start and its ends
EXPORT, EXPORT_START = "audit.export", "audit.exported"
EXPORT_ENDS = frozenset(f"audit.export_{end}" for end in ENDINGS)

__all__ = ["QUERY_TYPES", "AlertConfig", "alert_id", "compute_alerts"]


def bulk_pulls(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    done = [e for e in events if delivered(e)]
    return [
        finding(
            "bulk_pull",
            "high",
            str(actor),
            f"{int(rows)} rows within an hour",
            [[e["seq"] for e in members]],
        )
        for actor, members, rows in windows(
            done, actor_of, lambda e: e.get("rows") or 0, None, cfg.bulk_rows_per_hour, cfg.window
        )
    ]


def repeated_denials(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    denied = [e for e in events if e.get("outcome") == "denied"]
    return [
        finding(
            "repeated_denials",
            "medium",
            str(actor),
            f"{int(n)} denials within an hour",
            [[e["seq"] for e in members]],
        )
        for actor, members, n in windows(
            denied, actor_of, lambda _e: 1, None, cfg.denials_per_hour, cfg.window
        )
    ]


def _each_event(
    rule: str, severity: str, summary: str, flagged: Mapping[tuple[str, Any], list[int]]
) -> list[Alert]:
    """Per-event rules: one finding per actor and day, each flagged event an occurrence."""
    return [
        finding(rule, severity, actor, summary, [[s] for s in seqs])
        for (actor, _day), seqs in flagged.items()
    ]


def off_hours(e: Event, cfg: AlertConfig, zone: ZoneInfo) -> str | None:
    """The actor of a query outside working hours (``outside_hours`` flags it)."""
    if e.get("type") not in QUERY_TYPES:
        return None
    local = when(e).astimezone(zone)
    working = cfg.work_start_hour <= local.hour < cfg.work_end_hour
    return actor_of(e) if local.weekday() not in cfg.workdays or not working else None


def outside_hours(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    zone = ZoneInfo(cfg.timezone)
    return _each_event(
        "outside_working_hours",
        "low",
        f"{COUNT} queries outside working hours ({cfg.timezone})",
        per_key_and_day(events, lambda e: off_hours(e, cfg, zone)),
    )


def without_case(e: Event, cfg: AlertConfig) -> str | None:
    """The actor of a query on sensitive data with no case reference."""
    sensitive = details_of(e).get("level") in cfg.sensitive_levels
    flagged = e.get("type") in QUERY_TYPES and sensitive and not e.get("case_ref")
    return actor_of(e) if flagged else None


def missing_case_reference(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    return _each_event(
        "sensitive_without_case",
        "high",
        f"{COUNT} queries on sensitive data without a case reference",
        per_key_and_day(events, lambda e: without_case(e, cfg)),
    )


def many_departments(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    queries = [
        e for e in events if e.get("type") in QUERY_TYPES and details_of(e).get("resource_dept")
    ]
    return [
        finding(
            "many_departments",
            "medium",
            str(actor),
            f"data of {int(n)} departments within an hour",
            [[e["seq"] for e in members]],
        )
        for actor, members, n in windows(
            queries,
            actor_of,
            lambda _e: 1,
            lambda e: details_of(e)["resource_dept"],
            cfg.departments_per_hour,
            cfg.window,
        )
    ]


def source_errors(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    failed = [e for e in events if e.get("type") == "query.failed"]

    def source_of(e: Event) -> str | None:
        return details_of(e).get("source_id") or e.get("resource")

    return [
        finding(
            "source_errors",
            "medium",
            None,
            f"{source} failed {int(n)} times within an hour",
            [[e["seq"] for e in members]],
            subject=str(source),
        )
        for source, members, n in windows(
            failed, source_of, lambda _e: 1, None, cfg.source_errors_per_hour, cfg.window
        )
    ]


def below_level(e: Event) -> list[Any] | None:
    """The fields a publication classified below the suggested level, if any."""
    if e.get("type") not in ("dataset.published", "dataset.updated"):
        return None
    below = details_of(e).get("below_suggestion")
    return below if isinstance(below, list) and below else None


def _below_text(b: dict[str, Any]) -> str:
    """One field below its suggestion: its level under the suggested one, or its
    category dropped (``none``) where evidence found one (red team 63)."""
    if b.get("pi_category") is not None:
        return f"{b.get('field')} {b.get('pi_category')} < {b.get('suggested_pi_category')}"
    return f"{b.get('field')} {b.get('level')} < {b.get('suggested_level')}"


def below_suggested_level(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    """A steward published (or edited a published entry to) a field classified below the
    level the classifier suggested from evidence; the event lists those fields."""
    out = []
    for e in events:
        below = below_level(e)
        if below is None:
            continue
        shown = ", ".join(_below_text(b) for b in below[:5] if isinstance(b, dict))
        more = f" and {len(below) - 5} more" if len(below) > 5 else ""
        out.append(
            finding(
                "below_suggested_level",
                "medium",
                actor_of(e),
                f"{e.get('resource')} published below the suggested level: {shown}{more}",
                [[e["seq"]]],
                subject=str(e.get("resource")),
            )
        )
    return out


def own_record(e: Event) -> str | None:
    """The actor of a delivery that held records about themselves."""
    return actor_of(e) if details_of(e).get("self_hash_hit") is True else None


def own_records(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    return _each_event(
        "own_records",
        "high",
        f"user retrieved records about themselves ({COUNT} times)",
        per_key_and_day(events, own_record),
    )


def end_of(e: Event) -> tuple[str, Any] | None:
    """``(kind, request_id)`` of an end (completed, failed, aborted), else None."""
    if e.get("type") in EXPORT_ENDS:
        return (EXPORT, e.get("request_id"))
    kind, _, what = str(e.get("type")).partition(".")
    return (kind, e.get("request_id")) if what in ENDINGS else None


def start_of(e: Event) -> tuple[str, Any] | None:
    """``(kind, request_id)`` of a query, comparison or audit export start, else None.
    An export on record without a request id (``sluice audit export`` wrote no end
    before it took one) is no start here."""
    if e.get("type") == EXPORT_START:
        rid = e.get("request_id")
        return (EXPORT, rid) if rid is not None else None
    kind, _, what = str(e.get("type")).partition(".")
    if what != "started" or kind not in ("query", "comparison"):
        return None
    return (kind, e.get("request_id"))


def unended(e: Event, ended: Container[tuple[str, Any]], now: datetime, cfg: AlertConfig) -> bool:
    """A start with no end in ``ended`` and older than ``unended_after`` at ``now``."""
    started = start_of(e)
    if started is None or started in ended:
        return False
    return now - when(e) >= cfg.unended_after


def unended_starts(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    """A ``query.started`` (or ``comparison.started``, or an export's
    ``audit.exported``) older than ``unended_after`` with no completed, failed or
    aborted event of the same request id: the gateway records every end, so a missing
    one means a crash, a lost write, or an evasion."""
    now = cfg.now or datetime.now(UTC)
    ended = {pair for pair in map(end_of, events) if pair is not None}
    return _each_event(
        "query_never_ended",
        "high",
        f"{COUNT} queries (or audit exports) started but never ended on record",
        per_key_and_day(events, lambda e: actor_of(e) if unended(e, ended, now, cfg) else None),
    )


RULES: tuple[Callable[[list[Event], AlertConfig], list[Alert]], ...] = (
    bulk_pulls,
    repeated_denials,
    outside_hours,
    missing_case_reference,
    many_departments,
    source_errors,
    same_person_many_users,
    person_many_departments,
    below_suggested_level,
    own_records,
    unended_starts,
)


def alert_id(rule: str, subject: str | None, window: str) -> str:
    """The stable id of a finding: the same rule, subject and window give the same id
    on every evaluation (the window is the UTC day of the occurrence's first event; a
    recurrence after a resolution is ``<day>#<n>``, see ``audit.alert_state``)."""
    key = "\x1f".join((rule, subject or "", window))
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def compute_alerts(
    events: list[Event],
    cfg: AlertConfig | None = None,
    baselines: Mapping[str, Baseline] | None = None,
) -> list[Alert]:
    """Run every rule over the events (typically the last day's), and the baseline
    rules when the users' ``baselines`` (learned from the history before these events)
    are given.

    Findings are grouped into one alert per rule, subject and UTC day (the day of each
    occurrence's first event): its ``id`` is ``alert_id``, ``count`` says how many
    distinct occurrences it holds and ``occurrences`` lists them (each a list of seqs)."""
    cfg = cfg or AlertConfig()
    by_seq = {e["seq"]: e for e in events if "seq" in e and "ts" in e}
    found: list[Alert] = []
    for rule in RULES:
        found.extend(rule(events, cfg))
    if baselines:
        found.extend(unusual_hours(events, cfg.timezone, baselines))
        found.extend(unusual_counties(events, baselines))
    return group_findings(found, by_seq)


def group_findings(found: Iterable[Alert], by_seq: Mapping[int, Event]) -> list[Alert]:
    """Findings grouped into alerts by rule, subject and the UTC day of each
    occurrence's first event (``by_seq`` finds it); the live runner groups one rule
    and key's findings at a time with it (``audit.alert_index``)."""
    grouped: dict[str, Alert] = {}
    # the occurrences already in each alert, as tuples: a membership test on the list
    # made grouping quadratic (a rule with one occurrence per event — outside working
    # hours on a busy day — took 8.8 s for 32,000 events, and the live runner re-runs it)
    seen: dict[str, set[tuple[int, ...]]] = {}
    ids: dict[tuple[str, str | None, str], str] = {}
    for item in found:
        for occurrence in item["occurrences"]:
            first = by_seq.get(occurrence[0])
            window = utc_day(first).isoformat() if first is not None else "-"
            named = (item["rule"], item["subject"], window)
            aid = ids.get(named)
            if aid is None:
                aid = ids[named] = alert_id(*named)
            into = grouped.get(aid)
            if into is None:
                into = grouped[aid] = {"id": aid, **item, "window": window, "occurrences": []}
                seen[aid] = set()
            key = tuple(occurrence)
            if key not in seen[aid]:
                seen[aid].add(key)
                into["occurrences"].append(occurrence)
    for alert in grouped.values():
        alert["occurrences"].sort(key=lambda o: o[-1])
        finish(alert)
    return list(grouped.values())


def finish(alert: Alert) -> Alert:
    """Derive ``count``, ``event_seqs`` and the summary's count from the occurrences."""
    occ = alert["occurrences"]
    alert["count"] = len(occ)
    alert["event_seqs"] = sorted({s for o in occ for s in o})
    template = alert.get("summary_template") or alert["summary"]
    alert["summary_template"] = template
    alert["summary"] = template.replace(COUNT, str(len(alert["event_seqs"])))
    return alert
