"""``windows`` keeps its totals as the window slides; the recount it replaced is the
reference: the same occurrences (keys, members, values) on any events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.alert_common import Event, when, windows

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def recount(
    events: list[Event], key: Callable[[Event], Hashable | None],
    weight: Callable[[Event], float], distinct: Callable[[Event], Hashable] | None,
    threshold: float, window: timedelta,
) -> list[tuple[Hashable, list[Event], float]]:  # fmt: skip
    groups: dict[Hashable, list[Event]] = defaultdict(list)
    for event in events:
        k = key(event)
        if k is not None:
            groups[k].append(event)
    hits = []
    for k, group in groups.items():
        group.sort(key=lambda e: (e["ts"], e["seq"]))
        times = [when(e) for e in group]
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
                start = end + 1
    return hits


_event = st.tuples(st.integers(0, 7200), st.sampled_from("abc"), st.sampled_from("wxyz"),
                   st.integers(0, 500))  # fmt: skip


def _events(raw: list[tuple[int, str, str, int]]) -> list[Event]:
    out: list[dict[str, Any]] = []
    for seq, (second, actor, dept, rows) in enumerate(raw):
        ts = (T0 + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out.append({"seq": seq, "ts": ts, "actor": {"sub": actor}, "rows": rows,
                    "details": {"resource_dept": dept}})  # fmt: skip
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(_event, max_size=60), st.integers(0, 6), st.integers(0, 2000),
       st.integers(1, 3600))  # fmt: skip
def test_same_occurrences_as_a_recount(
    raw: list[tuple[int, str, str, int]], distinct_threshold: int, rows_threshold: int,
    window_s: int,
) -> None:  # fmt: skip
    events = _events(raw)
    window = timedelta(seconds=window_s)

    def actor(e: Event) -> str:
        return str(e["actor"]["sub"])

    def dept(e: Event) -> str:
        return str(e["details"]["resource_dept"])

    def rows(e: Event) -> int:
        return int(e["rows"])

    cases: list[tuple[Callable[[Event], float], Callable[[Event], Hashable] | None, float]] = [
        (lambda _e: 1, dept, distinct_threshold),
        (rows, None, rows_threshold),
        (lambda _e: 1, None, distinct_threshold),
    ]
    for weight, distinct, threshold in cases:
        got = windows(list(events), actor, weight, distinct, threshold, window)
        want = recount(list(events), actor, weight, distinct, threshold, window)
        assert [(k, [e["seq"] for e in m], v, type(v)) for k, m, v in got] == [
            (k, [e["seq"] for e in m], v, type(v)) for k, m, v in want
        ]
