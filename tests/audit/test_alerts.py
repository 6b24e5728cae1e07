"""Each alert rule fires on a pattern that calls for review, and stays quiet otherwise."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from audit.alerts import AlertConfig, compute_alerts
from audit.events import format_ts

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2025, 3, 3, 10, 0, tzinfo=SHANGHAI)


def ev(seq: int, minutes: float = 0, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "seq": seq,
        "ts": format_ts(MONDAY_10 + timedelta(minutes=minutes)),
        "type": "query.completed",
        "outcome": "ok",
        "actor": {"sub": "alice", "dept": "finance", "roles": ["analyst"]},
        "resource": "dataset:finance.payroll",
        "case_ref": "CASE-1",
        "rows": 10,
        "details": {"resource_dept": "finance", "level": "L2"},
    }
    base.update(fields)
    return base


def who(sub: str) -> dict[str, Any]:
    return {"sub": sub, "dept": "finance", "roles": ["analyst"]}


CASES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "bulk_pull": (
        [ev(1, 0, rows=6000), ev(2, 30, rows=6000)],
        [ev(1, 0, rows=6000), ev(2, 90, rows=6000)],
    ),
    "repeated_denials": (
        [ev(i, i, type="query.denied", outcome="denied") for i in range(1, 7)],
        [ev(i, i * 20, type="query.denied", outcome="denied") for i in range(1, 7)],
    ),
    "outside_working_hours": (
        [ev(1, 60 * 12)],  # 22:00 on a Monday
        [ev(1, 60 * 8)],  # 18:00 on a Monday
    ),
    "sensitive_without_case": (
        [ev(1, case_ref=None, details={"level": "L3"})],
        [ev(1, case_ref=None, details={"level": "L2"}), ev(2, details={"level": "L4"})],
    ),
    "many_departments": (
        [ev(i, i, details={"resource_dept": f"d{i}"}) for i in range(1, 6)],
        [ev(i, i * 30, details={"resource_dept": f"d{i}"}) for i in range(1, 6)],
    ),
    "source_errors": (
        [ev(i, i, type="query.failed", outcome="error") for i in range(1, 5)],
        [ev(i, i * 40, type="query.failed", outcome="error") for i in range(1, 5)],
    ),
    "same_person_many_users": (
        [ev(i, i, actor=who(f"u{i}"), details={"subject_tokens": ["tk_a"]}) for i in range(1, 5)],
        [ev(i, i, actor=who("u1"), details={"subject_tokens": ["tk_a"]}) for i in range(1, 5)],
    ),
    "person_many_departments": (
        [
            ev(i, i * 60, details={"resource_dept": d, "subject_tokens": ["tk_p", f"tk_{i}"]})
            for i, d in enumerate(("finance", "civil", "audit"), start=1)
        ],
        [
            ev(1, 0, details={"resource_dept": "finance", "subject_tokens": ["tk_p"]}),
            ev(2, 60, details={"resource_dept": "civil", "subject_tokens": ["tk_p"]}),
            ev(3, 60 * 25, details={"resource_dept": "audit", "subject_tokens": ["tk_p"]}),
            ev(4, 90, details={"resource_dept": "audit", "subject_tokens": ["tk_q"]}),
        ],
    ),
    "below_suggested_level": (
        [
            ev(
                1,
                type="dataset.published",
                outcome="ok",
                resource="dataset:civil.x",
                rows=None,
                details={
                    "below_suggestion": [
                        {"field": "id_number", "level": "L2", "suggested_level": "L3"}
                    ]
                },
            )
        ],
        [
            ev(
                1,
                type="dataset.published",
                outcome="ok",
                resource="dataset:civil.x",
                rows=None,
                details={"below_suggestion": []},
            ),
            ev(
                2,
                type="dataset.updated",
                outcome="ok",
                resource="dataset:civil.x",
                rows=None,
                details={"changed": ["fields.phone.level"]},
            ),
        ],
    ),
    "own_records": (
        [ev(1, details={"self_hash_hit": True})],
        [ev(1, details={"self_hash_hit": False})],
    ),
    "query_never_ended": (
        [
            ev(1, type="query.started", outcome="started", request_id="r1"),
            ev(2, type="query.started", outcome="started", request_id="r2"),
            ev(3, 1, type="query.completed", request_id="r2"),
        ],
        [
            ev(1, type="query.started", outcome="started", request_id="r1"),
            ev(2, 5, type="query.aborted", outcome="aborted", request_id="r1"),
            ev(3, type="comparison.started", outcome="started", request_id="c1"),
            ev(4, 2, type="comparison.failed", outcome="error", request_id="c1"),
        ],
    ),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires(rule: str) -> None:
    firing, _quiet = CASES[rule]
    alerts = [a for a in compute_alerts(firing) if a["rule"] == rule]
    assert len(alerts) == 1, alerts
    assert alerts[0]["event_seqs"], "every alert links to its events"
    assert set(alerts[0]["event_seqs"]) <= {e["seq"] for e in firing}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_stays_quiet(rule: str) -> None:
    _firing, quiet = CASES[rule]
    assert [a for a in compute_alerts(quiet) if a["rule"] == rule] == []


def test_thresholds_are_parameters() -> None:
    events = [ev(1, rows=50)]
    assert compute_alerts(events, AlertConfig(bulk_rows_per_hour=10))[0]["rule"] == "bulk_pull"


def test_a_comparisons_side_reads_are_not_a_bulk_pull() -> None:
    """The rows a comparison reads to match (``delivered: false``) never left the
    gateway; the matches it sends count like any query's rows."""
    side = {"resource_dept": "finance", "delivered": False, "subject_tokens": ["tk_a"]}
    reads = [ev(1, rows=50_000, details=side), ev(2, rows=80_000, details=side)]
    assert compute_alerts(reads) == []
    many = [ev(i, i, actor=who(f"u{i}"), details=side) for i in range(1, 5)]
    assert compute_alerts(many) == []  # not "pulled" by four users either
    matches = ev(3, 5, type="comparison.completed", rows=12_000, resource="comparison:a+b")
    assert [a["rule"] for a in compute_alerts([*reads, matches])] == ["bulk_pull"]


def test_a_start_still_young_is_not_yet_unended() -> None:
    """A query may still be streaming: only starts older than ``unended_after`` (on the
    config's clock) alert; the rule links the start to open."""
    start = ev(7, type="query.started", outcome="started", request_id="r7")
    young = AlertConfig(now=MONDAY_10 + timedelta(minutes=10))
    old = AlertConfig(now=MONDAY_10 + timedelta(minutes=31))
    assert [a for a in compute_alerts([start], young) if a["rule"] == "query_never_ended"] == []
    fired = [a for a in compute_alerts([start], old) if a["rule"] == "query_never_ended"]
    assert [a["event_seqs"] for a in fired] == [[7]]


def test_rows_sent_before_an_abort_count_as_a_bulk_pull() -> None:
    """Closing the connection mid-stream does not hide the rows that left."""
    aborted = [ev(i, i, type="query.aborted", outcome="aborted", rows=6000) for i in (1, 2)]
    assert "bulk_pull" in {a["rule"] for a in compute_alerts(aborted)}


def test_alert_ids_are_stable_per_rule_subject_and_day() -> None:
    """The same finding keeps its id as more events arrive (state hangs on the id);
    another actor, rule or day is another alert."""
    denials = [ev(i, i, type="query.denied", outcome="denied") for i in range(1, 7)]
    first = [a for a in compute_alerts(denials) if a["rule"] == "repeated_denials"]
    more = denials + [ev(i, i, type="query.denied", outcome="denied") for i in range(7, 10)]
    later = [a for a in compute_alerts(more) if a["rule"] == "repeated_denials"]
    assert len(first) == len(later) == 1
    assert first[0]["id"] == later[0]["id"] and len(first[0]["id"]) == 20
    bob = [{**e, "actor": who("bob")} for e in denials]
    assert [a["id"] for a in compute_alerts(bob) if a["rule"] == "repeated_denials"] != [
        first[0]["id"]
    ]
    next_day = [{**e, "ts": format_ts(MONDAY_10 + timedelta(days=1, minutes=e["seq"]))}
                for e in denials]  # fmt: skip
    ids = [a["id"] for a in compute_alerts(next_day) if a["rule"] == "repeated_denials"]
    assert ids and ids != [first[0]["id"]]


def test_duplicate_findings_are_grouped_under_one_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same finding twice is one occurrence; another burst the same day is a second
    occurrence of the same alert (one alert per rule, subject and day, counted)."""
    import audit.alerts as alerts

    monkeypatch.setattr(alerts, "RULES", (alerts.repeated_denials, alerts.repeated_denials))
    denials = [ev(i, i, type="query.denied", outcome="denied") for i in range(1, 7)]
    found = alerts.compute_alerts(denials)
    assert len(found) == 1 and found[0]["count"] == 1
    assert found[0]["event_seqs"] == [1, 2, 3, 4, 5, 6]
    later = [ev(i, 120 + i, type="query.denied", outcome="denied") for i in range(7, 13)]
    again = alerts.compute_alerts(denials + later)
    assert len(again) == 1 and again[0]["id"] == found[0]["id"]
    assert again[0]["count"] == 2 and again[0]["occurrences"] == [
        [1, 2, 3, 4, 5, 6],
        [7, 8, 9, 10, 11, 12],
    ]
    # a few more denials inside the first burst's hour are not a new occurrence
    more = [ev(i, 30 + i, type="query.denied", outcome="denied") for i in (20, 21)]
    assert alerts.compute_alerts(denials + more)[0]["count"] == 1


def test_per_event_rules_count_events_and_split_by_day() -> None:
    """Queries outside working hours: one alert per user and UTC day, counting them."""
    night = [ev(1, 60 * 12), ev(2, 60 * 12 + 5), ev(3, 60 * 12 + 10)]  # 22:00 Monday, Shanghai
    found = [a for a in compute_alerts(night) if a["rule"] == "outside_working_hours"]
    assert len(found) == 1 and found[0]["count"] == 3
    assert found[0]["summary"].startswith("3 queries outside working hours")
    next_night = [ev(4, 60 * 36)]  # 22:00 Tuesday: another UTC day
    both = [a for a in compute_alerts(night + next_night) if a["rule"] == "outside_working_hours"]
    assert sorted(a["count"] for a in both) == [1, 3]
    assert len({a["id"] for a in both}) == 2


def test_the_seal_is_a_critical_alert(tmp_path: Path) -> None:
    from audit.alert_state import sealed_alert
    from audit.seal import SealStore

    class Log:
        seal = SealStore(tmp_path)

    assert sealed_alert(Log()) is None
    Log.seal.seal("witness saw seq 9, head is 7", {"seq": 9})
    alert = sealed_alert(Log())
    assert alert is not None
    assert (alert["rule"], alert["severity"]) == ("audit.sealed", "critical")
    assert "witness saw seq 9" in alert["summary"]
    again = sealed_alert(Log())
    assert again is not None and again["id"] == alert["id"]


def test_a_busy_nights_alert_is_one_alert_of_every_occurrence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """30,000 queries outside working hours are one alert of 30,000 occurrences, in
    order. (Grouping them once tested each against the alert's list, quadratic: 8 s on
    the development machine. Its speed is measured by ``python -m bench.alerts``, not
    asserted here: tests never time.)"""
    import audit.alerts as alerts

    monkeypatch.setattr(alerts, "RULES", (alerts.outside_hours,))
    night = [ev(i, 60 * 12 + i / 1000) for i in range(1, 30_001)]
    found = alerts.compute_alerts(night)
    assert len(found) == 1 and found[0]["count"] == 30_000
    assert found[0]["occurrences"][:2] == [[1], [2]]
