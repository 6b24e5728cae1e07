"""``parse_ts`` reads ``format_ts``'s shape on a fast path: it must agree with the
strict ``strptime`` reading on every text, the odd ones included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from audit.events import format_ts, parse_ts

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _strptime(text: str) -> datetime | type[ValueError]:
    try:
        return datetime.strptime(text, FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return ValueError


def _parsed(text: str) -> datetime | type[ValueError]:
    try:
        return parse_ts(text)
    except ValueError:
        return ValueError


@given(st.datetimes(timezones=st.just(UTC)))
def test_round_trip(moment: datetime) -> None:
    assert parse_ts(format_ts(moment)) == moment


@given(st.datetimes(timezones=st.just(UTC)), st.sampled_from(range(10)), st.text(max_size=3))
def test_agrees_with_strptime_on_altered_texts(moment: datetime, cut: int, junk: str) -> None:
    text = format_ts(moment)
    for altered in (text[:-cut - 1] + "Z", text.replace("-0", "-", 1), text[:-1] + junk + "Z",
                    text.replace("T", " "), text[:-1], text + junk):  # fmt: skip
        assert _parsed(altered) == _strptime(altered), altered


def test_impossible_dates_and_other_digits_are_refused_as_before() -> None:
    for text in ("2024-02-30T00:00:00.000000Z", "2024-01-01T24:00:00.000000Z",
                 "٢٠٢٤-01-01T00:00:00.000000Z", "2024-01-01T00:00:00.0000000Z"):  # fmt: skip
        assert _parsed(text) == _strptime(text)
    assert parse_ts("2024-01-01T00:00:00.000001Z") - parse_ts(
        "2024-01-01T00:00:00.000000Z"
    ) == timedelta(microseconds=1)
