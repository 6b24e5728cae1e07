"""The per-user baseline: accesses at an hour or in a county the user's own history
never shows are flagged; usual ones are not; users with little history never are."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from audit.alerts import AlertConfig, compute_alerts
from audit.baseline import BaselineBook
from audit.events import format_ts

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY_10 = datetime(2025, 3, 14, 10, 0, tzinfo=SHANGHAI)  # a Friday
CFG = AlertConfig()


def delivery(seq: int, at: datetime, sub: str = "alice", counties: list[str] | None = None,
             **details: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "seq": seq, "ts": format_ts(at), "type": "query.completed", "outcome": "ok",
        "actor": {"sub": sub}, "resource": "dataset:civil.dibao_recipients",
        "case_ref": "C-1", "rows": 5,
        "details": {"resource_dept": "civil", "level": "L2",
                    "counties": counties if counties is not None else ["430121"], **details},
    }  # fmt: skip


def book_of(history: list[dict[str, Any]]) -> BaselineBook:
    book = BaselineBook(
        timezone=CFG.timezone, days=CFG.baseline_days,
        min_events=CFG.baseline_min_events, min_days=CFG.baseline_min_days,
    )  # fmt: skip
    book.extend(history)
    return book


def office_hours(sub: str = "alice", days: int = 10, per_day: int = 3) -> list[dict[str, Any]]:
    """An ordinary user: 09:15, 11:15 and 13:15 on ten days, one county."""
    out = []
    for d in range(1, days + 1):
        for k in range(per_day):
            at = (TODAY_10 - timedelta(days=d)).replace(hour=9 + 2 * k, minute=15)
            out.append(delivery(len(out) + 1, at, sub))
    return out


def rules(events: list[dict[str, Any]], book: BaselineBook) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for alert in compute_alerts(events, CFG, book.baselines(TODAY_10.date())):
        found.setdefault(alert["rule"], []).append(alert)
    return found


def test_an_access_at_an_unusual_hour_is_flagged() -> None:
    book = book_of(office_hours())
    night = delivery(1000, TODAY_10.replace(hour=3))  # 03:00: never within an hour before
    fired = rules([night], book)["unusual_hours"]
    assert [(a["actor"], a["event_seqs"]) for a in fired] == [("alice", [1000])]


def test_usual_hours_are_quiet_including_the_hour_next_to_one_seen() -> None:
    book = book_of(office_hours())
    usual = [
        delivery(1000, TODAY_10.replace(hour=11, minute=40)),
        delivery(1001, TODAY_10.replace(hour=14, minute=30)),
    ]  # 13:xx seen: an hour off
    assert "unusual_hours" not in rules(usual, book)


def test_a_county_never_read_before_is_flagged_a_known_one_is_not() -> None:
    book = book_of(office_hours())
    known = delivery(1000, TODAY_10, counties=["430121"])
    new = delivery(1001, TODAY_10 + timedelta(minutes=5), counties=["430121", "430102"])
    found = rules([known, new], book)
    assert [a["event_seqs"] for a in found["unusual_counties"]] == [[1001]]
    assert "430102" in found["unusual_counties"][0]["summary"]
    assert "unusual_counties" not in rules([known], book)


def test_users_with_too_little_history_are_never_flagged() -> None:
    """Three days of history (below five active days) or nineteen accesses (below
    twenty): no baseline yet, however odd the access."""
    few_days = book_of(office_hours(days=3, per_day=8))
    few_events = book_of(office_hours(days=19, per_day=1))
    odd = delivery(1000, TODAY_10.replace(hour=3), counties=["430999"])
    for book in (few_days, few_events):
        found = rules([odd], book)
        assert "unusual_hours" not in found and "unusual_counties" not in found


def test_the_baseline_is_the_users_own() -> None:
    """bob's night work does not make alice's night access usual."""
    nights = [delivery(i, (TODAY_10 - timedelta(days=1 + i % 10)).replace(hour=2), "bob")
              for i in range(1, 31)]  # fmt: skip
    book = book_of(office_hours() + nights)
    found = rules([delivery(1000, TODAY_10.replace(hour=2, minute=30)),
                   delivery(1001, TODAY_10.replace(hour=2, minute=30), "bob")], book)  # fmt: skip
    assert [a["actor"] for a in found["unusual_hours"]] == ["alice"]


def test_only_deliveries_learn_and_old_days_are_forgotten() -> None:
    side_reads = [delivery(i, (TODAY_10 - timedelta(days=1 + i % 10)).replace(hour=2),
                           delivered=False) for i in range(1, 31)]  # fmt: skip
    book = book_of(office_hours() + side_reads)
    assert book.baselines(TODAY_10.date())["alice"].hours[2] == 0
    # forty days later the whole history is past the baseline period: no baseline
    later = TODAY_10.date() + timedelta(days=40)
    book.prune(later)
    assert book.baselines(later) == {}
