"""Red team 5, as an analyst (alice, one county): a suppressed small count given back by
the *sum of the group field* over the coarser grouping.

Rule broken: small-count suppression (docs/policies.md, "Differencing: refused"): no
group under ``min_group_size`` is published, alone or by combining two answers of
nested groupings (one a subset of the other's fields). Secondary suppression makes
each part of a coarsening hold at least two withheld groups, so that the coarser
*count* only gives their total. But a coarser answer may also carry ``sum`` (or
``avg``) of the field the finer grouping split on — and that is a second equation.

Attack: alice asks ``civil.dibao_recipients`` grouped by ``region_code, status,
household_size`` (count), then grouped by ``region_code, status`` with ``count`` and
``sum(household_size)``. In a part with two withheld groups of sizes ``a`` and ``b``::

    n_a + n_b       = n(part)   - sum of the published counts
    a*n_a + b*n_b   = sum(part) - sum of household_size * published count

two equations, two unknowns: both withheld counts, the ones under the threshold
included, come out exactly (3 and 4 in the demo's 430121 "suspended" households,
threshold 5). The test checks the recovered counts against alice's own rows.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from fractions import Fraction
from typing import Any

import pytest

from tests.gateway.demo_app import DemoGateway

DATASET = "civil.dibao_recipients"
BASE = {"purpose": "supervision", "case_ref": "JW-RT5-SUM", "limit": 10_000}
KEY = ("region_code", "status")
SPLIT = "household_size"


def _aggregate(gw: DemoGateway, group_by: list[str], aggregates: list[dict[str, str]]) -> Any:
    resp = gw.query("alice", DATASET, {**BASE, "group_by": group_by, "aggregates": aggregates})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _solve_two(withheld: list[int], count: int, total: int) -> dict[int, Fraction] | None:
    """The counts of two withheld groups (values ``a``, ``b``) from their count and sum."""
    a, b = withheld
    if a == b:
        return None
    n_b = Fraction(total - a * count, b - a)
    return {a: count - n_b, b: n_b}


def _recovered(fine: Any, coarse: Any) -> list[tuple[tuple[str, ...], int, Fraction]]:
    """Every withheld fine group whose count the two answers pin down."""
    parts: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in fine["rows"]:
        parts[tuple(row[k] for k in KEY)].append(row)
    found = []
    for row in coarse["rows"]:
        if row["n"] is None or row["s"] is None:
            continue  # the coarser cell itself withheld: nothing to subtract from
        groups = parts[tuple(row[k] for k in KEY)]
        shown = [g for g in groups if not g["_suppressed"]]
        withheld = [g[SPLIT] for g in groups if g["_suppressed"]]
        if len(withheld) != 2:
            continue
        count = row["n"] - sum(g["n"] for g in shown)
        total = row["s"] - sum(g["n"] * g[SPLIT] for g in shown)
        solved = _solve_two(withheld, count, total)
        for value, n in (solved or {}).items():
            found.append((tuple(row[k] for k in KEY), value, n))
    return found


def test_sum_of_the_split_field_does_not_give_back_a_suppressed_count(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    fine = _aggregate(gw, [*KEY, SPLIT], [{"fn": "count", "as": "n"}])
    threshold = fine["aggregate"]["min_group_size"]
    coarse = _aggregate(
        gw, list(KEY),
        [{"fn": "count", "as": "n"}, {"fn": "sum", "field": SPLIT, "as": "s"}],
    )  # fmt: skip
    rows = gw.query("alice", DATASET, {**BASE, "fields": [*KEY, SPLIT]})
    assert rows.status_code == 200, rows.text
    truth = Counter((r["region_code"], r["status"], r[SPLIT]) for r in rows.json()["rows"])
    # the attack's precondition, whatever the fix: a part of alice's county holds exactly
    # two withheld groups, both under the threshold (so the test cannot pass vacuously)
    withheld: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for row in fine["rows"]:
        if row["_suppressed"]:
            withheld[tuple(row[k] for k in KEY)].append(truth[(*(row[k] for k in KEY), row[SPLIT])])
    assert any(len(n) == 2 and max(n) < threshold for n in withheld.values()), withheld
    leaked = [
        (part, value, int(n))
        for part, value, n in _recovered(fine, coarse)
        if n.denominator == 1 and 0 < n < threshold and truth[(*part, value)] == n
    ]
    assert leaked == [], (
        f"suppressed counts under {threshold} recovered exactly from count and "
        f"sum({SPLIT}) of the coarser grouping: {leaked}"
    )


VARIANTS = [
    {"fn": "avg", "field": SPLIT, "as": "x"},  # avg * n is the sum: the same two equations
    {"fn": "min", "field": SPLIT, "as": "x"},  # tells whether the smallest group is empty
    {"fn": "max", "field": SPLIT, "as": "x"},
    {"fn": "count", "field": SPLIT, "as": "x"},  # n - count(v): the size of v's null group
]


def test_every_aggregate_over_the_split_field_is_withheld_where_its_breakdown_is(
    deployment: DemoGateway,
) -> None:
    """The guarantee behind the fix, for avg, min, max and count(field): an aggregate
    over a field the coarse grouping does not split on is published in a coarse group
    only if the finer answer split on it withholds nothing there; the audit record of
    the coarse query counts every group with a withheld cell."""
    gw = deployment
    fine = _aggregate(gw, [*KEY, SPLIT], [{"fn": "count", "as": "n"}])
    rows = gw.query("alice", DATASET, {**BASE, "fields": [*KEY, SPLIT]})
    assert rows.status_code == 200, rows.text
    truth: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for r in rows.json()["rows"]:
        if r[SPLIT] is not None:
            truth[tuple(r[k] for k in KEY)].append(r[SPLIT])
    split = {tuple(r[k] for k in KEY) for r in fine["rows"] if r["_suppressed"]}
    assert split, "some part of alice's county must hold a withheld group"
    for variant in VARIANTS:
        body = {**BASE, "group_by": list(KEY),
                "aggregates": [{"fn": "count", "as": "n"}, variant]}  # fmt: skip
        resp = gw.query("alice", DATASET, body)
        assert resp.status_code == 200, resp.text
        coarse = resp.json()
        for row in coarse["rows"]:
            key = tuple(row[k] for k in KEY)
            if key in split:
                assert row["x"] is None and "x" in row["_suppressed"], (variant, row)
                continue
            if row["n"] is None:
                continue
            # published: the true value over alice's rows
            assert row["_suppressed"] == [], (variant, row)
            values = truth[key]
            want = {
                "avg": sum(values) / len(values) if values else None,
                "min": min(values, default=None),
                "max": max(values, default=None),
                "count": len(values),
            }[variant["fn"]]
            assert row["x"] == (pytest.approx(want) if want is not None else None), variant
        flagged = sum(1 for r in coarse["rows"] if r["_suppressed"])
        assert flagged > sum(1 for r in coarse["rows"] if r["n"] is None), variant
        events = gw.request_events(resp.headers["X-Request-Id"], 2)
        completed = next(e for e in events if e["type"] == "query.completed")
        assert completed["details"]["aggregate"]["suppressed"] == flagged, variant
