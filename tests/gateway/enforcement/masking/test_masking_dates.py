"""``date_month``, ``date_year`` and the keyed ``date_shift`` on any dates (hypothesis):
coarsening agrees with Python's calendar; a shift is 1 to 30 days either way, the same
for the same date within a case (any column, order, type or text shape), unrelated
across cases, and keeps the type and the time of day."""

from __future__ import annotations

import datetime

import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.enforcement.masking import derive_case_key, mask_array, mask_batch
from gateway.enforcement.masking.dates import MAX_SHIFT_DAYS
from gateway.enforcement.masking.kernels import DISTINCT_FROM

FAST = settings(max_examples=80, deadline=None)
SECRET = b"s" * 32
KEY = derive_case_key(SECRET, "C-1")
DATES = st.dates(datetime.date(1000, 1, 1), datetime.date(9998, 12, 1))
CASE_REFS = st.text(min_size=1, max_size=20)


@FAST
@given(st.lists(st.one_of(st.none(), DATES), max_size=40))
def test_month_and_year_of_date_columns(dates: list[datetime.date | None]) -> None:
    column = pa.array(dates, pa.date32())
    months = mask_array(column, "date_month").to_pylist()
    years = mask_array(column, "date_year").to_pylist()
    assert months == [None if d is None else f"{d.year}-{d.month:02d}" for d in dates]
    assert years == [None if d is None else str(d.year) for d in dates]
    assert years == mask_array(column, "birth_date_year").to_pylist()


@FAST
@given(st.lists(DATES, max_size=40), st.booleans())
def test_month_of_dates_as_text_is_the_month_of_the_date(
    dates: list[datetime.date], compact: bool
) -> None:
    texts = [d.strftime("%Y%m%d") if compact else d.isoformat() for d in dates]
    out = mask_array(pa.array(texts, pa.large_string()), "date_month")
    assert out.type == pa.large_string()
    assert out.to_pylist() == [f"{d.year}-{d.month:02d}" for d in dates]


def shifts(values: list[datetime.date], key: bytes) -> list[int]:
    out = mask_array(pa.array(values, pa.date32()), "date_shift", hash_key=key).to_pylist()
    return [(after - before).days for before, after in zip(values, out, strict=True)]


@FAST
@given(st.lists(DATES, min_size=1, max_size=60), CASE_REFS)
def test_a_shift_is_1_to_30_days_and_the_same_for_the_same_date(
    dates: list[datetime.date], case_ref: str
) -> None:
    key = derive_case_key(SECRET, case_ref)
    moved = shifts(dates, key)
    assert all(1 <= abs(s) <= MAX_SHIFT_DAYS for s in moved)
    by_date: dict[datetime.date, int] = {}
    for day, shift in zip(dates, moved, strict=True):
        assert by_date.setdefault(day, shift) == shift
    again = shifts(list(reversed(dates)), key)  # another query, another order
    assert again == list(reversed(moved))


@FAST
@given(DATES, CASE_REFS, CASE_REFS)
def test_shifts_differ_across_cases(first: datetime.date, case_a: str, case_b: str) -> None:
    """Sixty consecutive days shifted alike under two case keys would happen with
    probability 60**-60: any two cases disagree somewhere."""
    if case_a == case_b:
        return
    days = [first + datetime.timedelta(days=i) for i in range(60)]
    assert shifts(days, derive_case_key(SECRET, case_a)) != shifts(
        days, derive_case_key(SECRET, case_b)
    )


def _compact(day: datetime.date) -> str:
    """``YYYYMMDD``, the year in four digits: glibc's ``%Y`` writes the year 999 as
    ``999`` (hypothesis found it), a seven-character date no source holds."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


@FAST
@given(st.lists(st.one_of(st.none(), DATES), max_size=30))
@example([datetime.date(999, 12, 12)])  # the year hypothesis found
def test_the_same_date_moves_alike_in_every_column_type_and_shape(
    dates: list[datetime.date | None],
) -> None:
    as_date = pa.array(dates, pa.date32())
    texts = [None if d is None else d.isoformat() for d in dates]
    compact = [None if d is None else _compact(d) for d in dates]
    batch = pa.RecordBatch.from_arrays(
        [as_date, as_date.cast(pa.date64()), pa.array(texts), pa.array(compact)],
        ["d32", "d64", "iso", "compact"],
    )
    out = mask_batch(batch, dict.fromkeys(batch.schema.names, "date_shift"), hash_key=KEY)
    assert [f.type for f in out.schema] == [pa.date32(), pa.date64(), pa.string(), pa.string()]
    moved = out.column(0).to_pylist()
    assert out.column(1).to_pylist() == moved
    assert out.column(2).to_pylist() == [None if d is None else d.isoformat() for d in moved]
    assert out.column(3).to_pylist() == [None if d is None else _compact(d) for d in moved]


@FAST
@given(
    st.lists(st.datetimes(datetime.datetime(1900, 1, 1), datetime.datetime(2100, 1, 1)),
             min_size=1, max_size=30),
    st.sampled_from(["s", "ms", "us"]),
)  # fmt: skip
def test_timestamps_move_by_their_dates_shift_keeping_the_time(
    stamps: list[datetime.datetime], unit: str
) -> None:
    stamps = [s.replace(microsecond=0) for s in stamps]
    out = mask_array(pa.array(stamps, pa.timestamp(unit)), "date_shift", hash_key=KEY)
    assert out.type == pa.timestamp(unit)
    day_shift = shifts([s.date() for s in stamps], KEY)
    for before, after, days in zip(stamps, out.to_pylist(), day_shift, strict=True):
        assert after - before == datetime.timedelta(days=days)


@FAST
@given(st.lists(st.text(max_size=12), max_size=30))
def test_text_that_is_no_plain_date_is_masked_whole(values: list[str]) -> None:
    out = mask_array(pa.array(values), "date_shift", hash_key=KEY).to_pylist()
    for value, masked in zip(values, out, strict=True):
        try:
            plain = datetime.date.fromisoformat(value).isoformat() == value
        except ValueError:
            plain = False
        compact = len(value) == 8 and value.isascii() and value.isdigit()
        if not (plain or compact):
            assert masked == "*" * len(value)
        # a value of stars alone is its own whole mask: the check above is the exact one
        assert masked != value or not value.strip("*")


def _long(values: list[object]) -> list[object]:
    """``values`` repeated to a column masked once per distinct value (``per_distinct``)."""
    return (values * (DISTINCT_FROM // max(len(values), 1) + 1))[: DISTINCT_FROM + 7]


@FAST
@given(st.lists(st.one_of(st.none(), DATES), min_size=1, max_size=30), st.sampled_from(
    ["date32", "iso", "compact"]))  # fmt: skip
def test_a_long_column_is_masked_as_each_of_its_values(
    dates: list[datetime.date | None], shape: str
) -> None:
    column: list[object] = [
        None if d is None else d if shape == "date32"
        else d.isoformat() if shape == "iso" else d.strftime("%Y%m%d")
        for d in _long(list(dates))
    ]  # fmt: skip
    arr = pa.array(column, pa.date32() if shape == "date32" else pa.string())
    days = _long(list(dates))
    assert mask_array(arr, "date_month").to_pylist() == [
        None if d is None else f"{d.year}-{d.month:02d}"
        for d in days  # type: ignore[attr-defined]
    ]
    assert mask_array(arr, "date_year").to_pylist() == [
        None if d is None else str(d.year)
        for d in days  # type: ignore[attr-defined]
    ]


@FAST
@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), min_size=1, max_size=30))
def test_a_long_column_of_any_text_is_masked_as_a_short_one(values: list[str | None]) -> None:
    long = pa.array(_long(list(values)), pa.string())
    for method in ("date_month", "birth_date_year"):
        each = {v: mask_array(pa.array([v], pa.string()), method)[0].as_py() for v in values}
        assert mask_array(long, method).to_pylist() == [each[v] for v in _long(list(values))]
