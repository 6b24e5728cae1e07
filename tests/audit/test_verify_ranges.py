"""How a parallel verification cuts the chain into ranges: every seq in exactly one
range, in order; a given ``range_rows`` as before; by default ranges that shrink
towards the end (so no process checks on alone for long while the others wait), and
the verdicts those boundaries give are the reference's."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import verify
from audit.verify import LAST_RANGE_ROWS, RANGE_ROWS, _ranges
from tests.audit.helpers import fill, open_log, tamper
from tests.audit.test_tamper import TAMPERING


def _covers(ranges: list[tuple[int, int]], lo: int, top: int) -> None:
    if top < lo:
        assert ranges == []
        return
    assert [first for first, _ in ranges] == [lo] + [last + 1 for _, last in ranges[:-1]]
    assert all(first <= last for first, last in ranges)
    assert ranges[-1][1] == top


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**6), st.integers(-1, 3 * 10**6), st.integers(1, 8),
       st.one_of(st.none(), st.integers(1, 300_000)))  # fmt: skip
def test_every_seq_in_exactly_one_range(lo: int, length: int, workers: int,
                                        range_rows: int | None) -> None:  # fmt: skip
    top = lo + length - 1
    ranges = _ranges(lo, top, range_rows, workers)
    _covers(ranges, lo, top)
    sizes = [last - first + 1 for first, last in ranges]
    if range_rows is not None:
        assert all(size == range_rows for size in sizes[:-1])
    elif workers == 1:
        assert all(size == RANGE_ROWS for size in sizes[:-1])
    else:
        assert all(LAST_RANGE_ROWS <= size <= RANGE_ROWS for size in sizes[:-1])
        assert sizes == sorted(sizes, reverse=True) or sizes[-1] < LAST_RANGE_ROWS


def test_the_default_ranges_of_a_million_events_shrink_to_the_end() -> None:
    sizes = [last - first + 1 for first, last in _ranges(1, 1_000_000, None, 2)]
    assert sum(sizes) == 1_000_000
    assert sizes[0] == RANGE_ROWS and sizes[-2] == LAST_RANGE_ROWS
    assert len(sizes) < 30  # a range costs a query and a COPY of its own


def test_empty_and_single_ranges() -> None:
    assert _ranges(5, 4, None, 2) == []
    assert _ranges(5, 5, None, 2) == [(5, 5)]
    assert _ranges(1, 10, 4, 2) == [(1, 4), (5, 8), (9, 10)]


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_shrinking_ranges_name_the_same_first_bad_seq(
    case: str, pg_url: str, sluice_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tampering cases of ``test_tamper`` on 25 events, in default ranges of 7, 5,
    4, 3, 2, 2 and 2 seqs (the bounds made small), against one process."""
    monkeypatch.setattr(verify, "RANGE_ROWS", 8)
    monkeypatch.setattr(verify, "LAST_RANGE_ROWS", 2)
    assert [b - a + 1 for a, b in _ranges(1, 25, None, 2)] == [7, 5, 4, 3, 2, 2, 2]
    log = open_log(pg_url, sluice_home)
    fill(log, 25)
    log.close()
    statements, bad_seq, reason = TAMPERING[case]
    tamper(pg_url, *statements)
    found = [verify.verify_database(store=log.store, witness_file=log.witness_file, workers=n)
             for n in (2, 1)]  # fmt: skip
    assert (found[0].ok, found[0].first_bad_seq, found[0].reason) == (False, bad_seq, reason)
    assert found[0] == found[1]
