"""The subject rules (``audit.alert_subjects``) count tuples pointing at each delivery
instead of a copy of the delivery per token; the copying version they replaced is the
reference here: the same findings, in the same order, on any events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.alert_common import Alert, Event, actor_of, delivered, details_of, finding, windows
from audit.alert_subjects import person_many_departments, same_person_many_users
from audit.alerts import AlertConfig, compute_alerts

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
DAY = timedelta(days=1)


# -- the reference: the rules as they were, one event copy per (delivery, token) --


def _looked_up(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for e in events:
        if e.get("type") not in ("query.completed", "comparison.completed") or not delivered(e):
            continue
        for token in details_of(e).get("subject_tokens") or []:
            out.append({**e, "_token": token})
    return out


def _departments_of(e: Event) -> tuple[str, ...]:
    details = details_of(e)
    many = details.get("resource_depts")
    if isinstance(many, list) and many:
        return tuple(sorted(str(d) for d in many))
    one = details.get("resource_dept")
    return (str(one),) if one else ()


def reference_users(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    return [
        finding("same_person_many_users", "high", None,
                f"records of subject {str(token)[:12]}… pulled by {int(n)} users in a day",
                [[e["seq"] for e in members]], subject=str(token))
        for token, members, n in windows(_looked_up(events), lambda e: e["_token"],
                                         lambda _e: 1, actor_of,
                                         cfg.users_per_subject_per_day, DAY)
    ]  # fmt: skip


def reference_departments(events: list[Event], cfg: AlertConfig) -> list[Alert]:
    hits = [dict(e, _dept=d) for e in _looked_up(events) for d in _departments_of(e)]
    out = []
    for token, members, n in windows(hits, lambda e: e["_token"], lambda _e: 1,
                                     lambda e: e["_dept"], cfg.person_departments_per_day,
                                     DAY):  # fmt: skip
        who = sorted({actor_of(e) for e in members})
        out.append(finding("person_many_departments", "high",
                           who[0] if len(who) == 1 else None,
                           f"records of subject {str(token)[:12]}… read from {int(n)} "
                           f"departments' data in a day by {', '.join(who)}",
                           [[e["seq"] for e in members]], subject=str(token)))  # fmt: skip
    return out


# -- events: deliveries and others, tokens repeated, several departments, ts ties --

_TYPES = ("query.completed", "comparison.completed", "query.aborted", "query.started")
_delivery = st.tuples(
    st.integers(0, 2 * 86_400),  # seconds: windows of a day open and close
    st.sampled_from("abcd"),  # actor
    st.sampled_from(_TYPES),
    st.lists(st.sampled_from(["t1", "t2", "t3"]), max_size=4),  # tokens, repeats allowed
    st.lists(st.sampled_from(["civil", "hr", "tax", "health"]), max_size=3),  # depts
    st.sampled_from([None, True, False]),  # delivered
)


def _events(raw: list[tuple[int, str, str, list[str], list[str], bool | None]]) -> list[Event]:
    out: list[dict[str, Any]] = []
    for seq, (second, actor, type_, tokens, depts, sent) in enumerate(raw, start=1):
        ts = (T0 + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        details: dict[str, Any] = {"subject_tokens": tokens}
        if len(depts) == 1:
            details["resource_dept"] = depts[0]
        elif depts:
            details["resource_depts"] = depts
        if sent is not None:
            details["delivered"] = sent
        out.append({"seq": seq, "ts": ts, "type": type_, "actor": {"sub": actor},
                    "details": details})  # fmt: skip
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(_delivery, max_size=50), st.integers(0, 3), st.integers(0, 3))
def test_same_findings_as_the_copying_rules(
    raw: list[tuple[int, str, str, list[str], list[str], bool | None]], users: int, depts: int
) -> None:
    events = _events(raw)
    cfg = AlertConfig(users_per_subject_per_day=users, person_departments_per_day=depts)
    assert same_person_many_users(events, cfg) == reference_users(events, cfg)
    assert person_many_departments(events, cfg) == reference_departments(events, cfg)


def test_a_person_read_from_three_departments_by_two_users_is_one_alert() -> None:
    """A case spelled out: the rules still fire, through ``compute_alerts``."""
    raw = [(0, "a", "query.completed", ["t1"], ["civil"], None),
           (60, "b", "query.completed", ["t1", "t2"], ["hr"], None),
           (120, "b", "comparison.completed", ["t1"], ["tax", "civil"], None),
           (180, "c", "query.completed", ["t1"], ["health"], False)]  # not delivered  # fmt: skip
    found = compute_alerts(_events(raw), AlertConfig(users_per_subject_per_day=1))
    by_rule = {a["rule"]: a for a in found if a["subject"] == "t1"}
    assert by_rule["person_many_departments"]["event_seqs"] == [1, 2, 3]
    assert by_rule["person_many_departments"]["actor"] is None  # a and b
    assert (
        "from 3 departments' data in a day by a, b" in by_rule["person_many_departments"]["summary"]
    )
    assert by_rule["same_person_many_users"]["event_seqs"] == [1, 2]
