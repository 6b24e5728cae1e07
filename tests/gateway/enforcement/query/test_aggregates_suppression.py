"""Small-count suppression (issue 16), as a property over random data and thresholds.

The pipeline under test is the one every source ends in: a grouping (here Arrow's, the
files and HTTP path; SQL's is shown equal to it in tests/adapters/test_aggregates.py),
then ``gateway.enforcement.query.aggregate.answer``: suppression over the whole
grouping, then the caller's filters (group fields only), order and limit.

For every answer allowed, and every pair of answers:

- **alone**: a group with fewer rows than the threshold has every cell null and
  flagged; every published cell is the true value; no group matching the filter is
  dropped;
- **same groups, different filters**: a group has the same cells and the same
  suppression in both answers;
- **differencing two answers** whose groupings nest (one groups on a subset of the
  other's fields, down to none: the grand total): for every published coarse cell,
  the fine cells it covers that the other answer does not publish (withheld, filtered
  out or cut) are the unknowns of one equation; a group under the threshold is never
  among exactly one unknown, nor among unknowns pinned by their total (each unknown
  group holds at least one row, so unknowns adding up to their number are all ones) —
  neither its count nor its sum is revealed.

An answer the gateway refuses (``withheld_groups_pinned``: see
``gateway.enforcement.query.aggregate``) is no answer; whether it refuses is decided on
the whole grouping, so it does so whatever the filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.aggregate import Aggregate, AggregatePlan, ArrowGrouper
from adapters.base import Column, Filter, QueryPlan
from catalog.errors import Forbidden
from gateway.enforcement.query.aggregate import (
    SUPPRESSED,
    AggregateExec,
    Output,
    answer,
    joint_plan,
    suppression,
)

FIELDS = ("a", "b", "c")
VALUES = ["x0", "x1", "x2", "y3", None]
COLS = {**{f: Column(f, "string") for f in FIELDS}, "v": Column("v", "int64")}
KNOWN = tuple(COLS.values())
OUTPUTS = (Output("n", "count", None), Output("s", "sum", "v"))
Row = tuple[Any, ...]


def run(
    rows: Sequence[Row],
    group: Sequence[str],
    filters: Sequence[Filter],
    k: int,
    limit: int = 100_000,
) -> list[dict[str, Any]]:
    table = pa.table(
        {
            name: pa.array([r[i] for r in rows], pa.string() if name != "v" else pa.int64())
            for i, name in enumerate(COLS)
        }
    )
    group_by = tuple(COLS[g] for g in group)
    aggregates = (Aggregate("count"), Aggregate("sum", COLS["v"]))
    rows_plan = QueryPlan(object_name="t", columns=KNOWN[:1], known_columns=KNOWN)
    plan, split = joint_plan(rows_plan, group_by, aggregates)
    grouper = ArrowGrouper(plan)
    grouper.add(table)
    spec = AggregateExec(
        source=plan,
        group_by=group_by,
        outputs=OUTPUTS,
        aggregates=aggregates,
        breakdowns=split,
        min_group_size=k,
        filters=tuple(filters),
        order=(),
        offset=0,
    )
    return answer(grouper.result(), spec, limit).table.to_pylist()


def truth(rows: Sequence[Row], group: Sequence[str]) -> dict[tuple[Any, ...], tuple[int, int]]:
    """Every group of the whole data: (rows, sum of v)."""
    index = [FIELDS.index(g) for g in group]
    out: dict[tuple[Any, ...], list[int]] = {}
    for row in rows:
        cell = out.setdefault(tuple(row[i] for i in index), [0, 0])
        cell[0] += 1
        cell[1] += row[3]
    if not group and not out:
        out[()] = [0, 0]
    return {key: (n, s) for key, (n, s) in out.items()}


def matches(value: Any, flt: Filter) -> bool:
    """SQL's answer to a filter on one value (null compares false but for is_null)."""
    if flt.op == "is_null":
        return (value is None) == flt.value
    if value is None:
        return False
    if flt.op == "=":
        return bool(value == flt.value)
    if flt.op == "!=":
        return bool(value != flt.value)
    if flt.op == "in":
        return value in flt.value
    if flt.op == "<":
        return bool(value < flt.value)
    if flt.op == ">=":
        return bool(value >= flt.value)
    assert flt.op == "prefix"
    return bool(value.startswith(flt.value))


rows_st = st.lists(
    st.tuples(*[st.sampled_from(VALUES) for _ in FIELDS], st.integers(-50, 500)), max_size=70
)
groups_st = st.lists(st.sampled_from(FIELDS), unique=True, max_size=3)
present = st.sampled_from([v for v in VALUES if v is not None])


@st.composite
def filters_st(draw: st.DrawFn, group: Sequence[str]) -> list[Filter]:
    if not group:
        return []
    out = []
    for _ in range(draw(st.integers(0, 2))):
        field = draw(st.sampled_from(list(group)))
        op = draw(st.sampled_from(["=", "!=", "in", "<", ">=", "prefix", "is_null"]))
        if op == "in":
            value: Any = draw(st.lists(present, min_size=1, max_size=3, unique=True))
        elif op == "is_null":
            value = draw(st.booleans())
        elif op == "prefix":
            value = draw(st.sampled_from(["x", "y", "x1"]))
        else:
            value = draw(present)
        out.append(Filter(field, op, value))  # type: ignore[arg-type]
    return out


@st.composite
def queries(draw: st.DrawFn) -> tuple[list[str], list[Filter], int]:
    group = draw(groups_st)
    return group, draw(filters_st(group)), draw(st.integers(1, 400))


def check_alone(
    rows: Sequence[Row],
    group: Sequence[str],
    filters: Sequence[Filter],
    k: int,
    got: list[dict[str, Any]],
    limit: int,
) -> None:
    true = truth(rows, group)
    wanted = [key for key in true if all(matches(key[group.index(f.field)], f) for f in filters)]
    keys = [tuple(r[g] for g in group) for r in got]
    assert len(keys) == min(len(wanted), limit) and set(keys) <= set(wanted)  # none dropped
    for key, row in zip(keys, got, strict=True):
        n, s = true[key]
        if row[SUPPRESSED] == ["n", "s"]:
            assert row["n"] is None and row["s"] is None
            continue
        assert n >= k, (key, n, k)  # a small group is never published
        assert row["n"] == n
        if row[SUPPRESSED]:  # sum(v) withheld alone: its breakdown by v holds a small group
            assert row[SUPPRESSED] == ["s"] and row["s"] is None
        else:
            assert row["s"] == (s if n else None)


def check_pair(
    rows: Sequence[Row],
    fine: tuple[list[str], list[dict[str, Any]]],
    coarse: tuple[list[str], list[dict[str, Any]]],
    k: int,
) -> None:
    """What an analyst holding both answers can solve for (see the module doc)."""
    g_fine, a_fine = fine
    g_coarse, a_coarse = coarse
    true_fine = truth(rows, g_fine)
    published = {tuple(r[g] for g in g_fine): r["n"] for r in a_fine if r["n"] is not None}
    for row in a_coarse:
        if row["n"] is None:
            continue
        coarse_key = tuple(row[g] for g in g_coarse)
        part = [
            key for key in true_fine if tuple(key[g_fine.index(g)] for g in g_coarse) == coarse_key
        ]
        unknown = [key for key in part if key not in published]
        left = row["n"] - sum(published[key] for key in part if key in published)
        assert left == sum(true_fine[key][0] for key in unknown)
        pinned = len(unknown) == 1 or left == len(unknown)
        if pinned:
            small = [key for key in unknown if true_fine[key][0] < k]
            assert not small, (g_fine, g_coarse, unknown, left, k)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rows=rows_st, k=st.integers(1, 8), first=queries(), second=queries())
def test_no_small_group_is_revealed_alone_or_by_differencing_two_answers(
    rows: list[Row],
    k: int,
    first: tuple[list[str], list[Filter], int],
    second: tuple[list[str], list[Filter], int],
) -> None:
    answers = []
    for group, filters, limit in (first, second):
        try:
            got = run(rows, group, filters, k, limit)
        except Forbidden:
            with pytest.raises(Forbidden):  # the grouping is refused, whatever the filter
                run(rows, group, [], k)
            return
        check_alone(rows, group, filters, k, got, limit)
        answers.append((group, got))
    (g1, a1), (g2, a2) = answers
    if sorted(g1) == sorted(g2):  # the same groups, whatever the filters: the same cells
        by_key = {tuple(r[g] for g in g1): r for r in a1}
        for row in a2:
            other = by_key.get(tuple(row[g] for g in g1))
            assert other is None or other == row
    if set(g2) <= set(g1):
        check_pair(rows, (g1, a1), (g2, a2), k)
    if set(g1) <= set(g2):
        check_pair(rows, (g2, a2), (g1, a1), k)


@settings(max_examples=150, deadline=None)
@given(rows=rows_st, k=st.integers(1, 8), group=groups_st)
def test_the_same_groups_with_every_filter_are_one_answer(
    rows: list[Row], k: int, group: list[str]
) -> None:
    """Whatever filter picks a group, it is the whole answer's row for it."""
    try:
        whole = {tuple(r[g] for g in group): r for r in run(rows, group, [], k)}
    except Forbidden:
        return
    for field in group:
        for value in VALUES:
            flt = Filter(field, "is_null", True) if value is None else Filter(field, "=", value)
            for row in run(rows, group, [flt], k):
                assert row == whole[tuple(row[g] for g in group)]


# ---------------------------------------------------------------- examples


def _withheld(keys: list[list[Any]], rows: list[int], k: int) -> list[bool]:
    arrays = [pa.array(column) for column in keys]
    return suppression(arrays, np.array(rows), k).tolist()


def test_one_small_group_takes_the_next_smallest_with_it() -> None:
    # the grand total (another query's answer) minus the others would give it back
    assert _withheld([["a", "b", "c", "d"]], [3, 9, 7, 40], 5) == [True, False, True, False]


def test_small_groups_of_one_row_each_take_another() -> None:
    # two withheld groups adding up to 2 are two groups of one row: a third is needed
    assert _withheld([["a", "b", "c", "d"]], [1, 1, 20, 9], 5) == [True, True, False, True]


def test_each_coarsening_holds_none_or_two() -> None:
    """Grouped by village and status: the village's total is another answer's cell, so
    its small status cell takes the village's other cell with it."""
    villages = ["v1", "v1", "v2", "v2"]
    status = ["active", "suspended", "active", "suspended"]
    withheld = _withheld([villages, status], [30, 3, 25, 12], 5)
    assert withheld[1] and withheld[0]  # v1 whole
    # and the status totals: "suspended" then holds v1's and one more
    assert withheld[3] or withheld[2]


def test_nothing_small_nothing_withheld_and_the_threshold_of_one() -> None:
    assert _withheld([["a", "b"]], [5, 6], 5) == [False, False]
    assert _withheld([["a", "b"]], [1, 1], 1) == [False, False]
    assert _withheld([[]], [], 5) == []


def test_a_lone_group_is_withheld_without_a_partner() -> None:
    assert _withheld([["a"]], [2], 5) == [True]


@pytest.mark.parametrize("k", [2, 5, 10])
def test_an_empty_source_counted_whole_is_one_withheld_group(k: int) -> None:
    assert run([], [], [], k) == [{"n": None, "s": None, SUPPRESSED: ["n", "s"]}]


def test_single_row_groups_a_total_would_give_away_are_refused() -> None:
    """Five villages of one recipient each, all withheld (threshold 5): their total, 5,
    is publishable by the coarser answer, and would tell each one's size."""
    with pytest.raises(Forbidden, match="group on fewer fields"):
        _withheld([["v1", "v2", "v3", "v4", "v5"]], [1, 1, 1, 1, 1], 5)
    # fewer than the threshold: their total is withheld too, nothing to refuse
    assert _withheld([["v1", "v2", "v3"]], [1, 1, 1], 5) == [True, True, True]
    # one larger group among them: its size hides theirs
    assert all(_withheld([["v1", "v2", "v3", "v4", "v5"]], [1, 1, 1, 1, 2], 5))


# ------------------------------------------- the coarse answer from the joint grouping

FUNCTIONS = [
    Aggregate("count"),
    Aggregate("count", COLS["v"]),
    Aggregate("count_distinct", COLS["v"]),
    Aggregate("sum", COLS["v"]),
    Aggregate("avg", COLS["v"]),
    Aggregate("min", COLS["v"]),
    Aggregate("max", COLS["v"]),
    Aggregate("count_distinct", COLS["b"]),  # over a field grouped on (when b is)
]
ALL = tuple(Output(f"x{i}", a.fn, a.column.name if a.column else None)
            for i, a in enumerate(FUNCTIONS))  # fmt: skip
values_st = st.lists(
    st.tuples(*[st.sampled_from(VALUES) for _ in FIELDS], st.one_of(st.none(), st.integers(-5, 5))),
    max_size=60,
)


def _answers(rows: Sequence[Row], group: Sequence[str], k: int) -> tuple[list[Any], list[Any]]:
    """The gateway's answer (joint grouping, breakdowns) and the direct grouping of the
    same aggregates (Arrow's, as the file sources run it)."""
    table = pa.table({name: pa.array([r[i] for r in rows], pa.string() if name != "v"
                                     else pa.int64()) for i, name in enumerate(COLS)})  # fmt: skip
    group_by = tuple(COLS[g] for g in group)
    rows_plan = QueryPlan(object_name="t", columns=KNOWN[:1], known_columns=KNOWN)
    plan, split = joint_plan(rows_plan, group_by, tuple(FUNCTIONS))
    grouper = ArrowGrouper(plan)
    grouper.add(table)
    spec = AggregateExec(source=plan, group_by=group_by, outputs=ALL,
                         aggregates=tuple(FUNCTIONS), breakdowns=split, min_group_size=k,
                         filters=(), order=(), offset=0)  # fmt: skip
    got = answer(grouper.result(), spec, 100_000).table.to_pylist()
    direct = AggregatePlan(rows=rows_plan, group_by=group_by, aggregates=tuple(FUNCTIONS),
                           max_groups=100_000)  # fmt: skip
    reference = ArrowGrouper(direct)
    reference.add(table)
    want = reference.result().to_pylist()
    return got, want


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=values_st, group=groups_st)
def test_the_coarse_aggregates_equal_a_direct_grouping(rows: list[Row], group: list[str]) -> None:
    """Threshold 1: nothing is withheld, and every aggregate computed from the joint
    grouping (nulls of v included) is what grouping on the fields alone gives."""
    got, want = _answers(rows, group, 1)
    key = {tuple(w[f"g{i}"] for i in range(len(group))): w for w in want}
    assert len(got) == len(want)
    for row in got:
        ref = key[tuple(row[g] for g in group)]
        if ref["a0"] == 0:  # the empty source's one group of no row: under any threshold
            continue
        assert row[SUPPRESSED] == []
        for i, _ in enumerate(FUNCTIONS):
            expect = ref[f"a{i}"]
            assert row[f"x{i}"] == (pytest.approx(expect) if expect is not None else None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=values_st, group=groups_st, k=st.integers(2, 6))
def test_an_aggregate_over_v_is_published_only_where_the_split_on_v_withholds_nothing(
    rows: list[Row], group: list[str], k: int
) -> None:
    """The red team's equations need a coarse aggregate over v next to a finer answer
    split on v with a withheld group in that part: never both."""
    try:
        got, _ = _answers(rows, group, k)
    except Forbidden:
        return
    # the answer split on v, through the same suppression: group on the fields and on v
    split = _split_on_v(rows, group, k)
    for row in got:
        key = tuple(row[g] for g in group)
        over_v = [f"x{i}" for i, a in enumerate(FUNCTIONS) if a.column is COLS["v"]]
        if split is None or key in split:
            assert all(row[x] is None and x in row[SUPPRESSED] for x in over_v), row
        elif row["x0"] is not None:  # the group shown, its breakdown by v withholds none
            assert not set(over_v) & set(row[SUPPRESSED]), row


def _split_on_v(rows: Sequence[Row], group: Sequence[str], k: int) -> set[tuple[Any, ...]] | None:
    """The coarse keys whose part of the answer grouped on ``group`` and v withholds a
    group (None: that answer is refused)."""
    keys = [pa.array([r[FIELDS.index(g)] for r in rows], pa.string()) for g in group]
    keys.append(pa.array([r[3] for r in rows], pa.int64()))
    if not rows:
        return set()
    frame = pa.table({f"k{i}": c for i, c in enumerate(keys)})
    names = [f"k{i}" for i in range(len(keys))]
    grouped = frame.group_by(names, use_threads=False).aggregate([([], "count_all")])
    counts = np.asarray(grouped.column("count_all").to_numpy(), dtype=np.int64)
    try:
        withheld = suppression([grouped.column(n) for n in names], counts, k)
    except Forbidden:
        return None
    out = grouped.filter(pa.array(withheld)).to_pylist()
    return {tuple(r[f"k{i}"] for i in range(len(group))) for r in out}
