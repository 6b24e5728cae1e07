"""Verification on PostgreSQL: COPY text rows, checked by several processes in ranges.

Same verdicts as the reference ``ChainChecker`` (first bad seq and reason), whatever the
range boundaries and however many processes read them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.chain import ChainChecker
from audit.events import prepare
from audit.scan import BLOCK_ROWS, CopyChecker, decode_row
from audit.verify import verify_database
from audit.writer import Pending, _chain
from tests.audit.helpers import event, fill, open_log, tamper
from tests.audit.test_tamper import TAMPERING


def _verify(log: Any, **kwargs: Any) -> Any:
    return verify_database(store=log.store, witness_file=log.witness_file, **kwargs)


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_parallel_ranges_name_the_same_first_bad_seq(
    case: str, pg_url: str, sluice_home: Path
) -> None:
    statements, bad_seq, reason = TAMPERING[case]
    log = open_log(pg_url, sluice_home)
    fill(log, 25)
    log.close()
    tamper(pg_url, *statements)
    outcome = _verify(log, workers=2, range_rows=4)  # boundaries after 4, 8, 12, 16, 20, 24
    assert (outcome.ok, outcome.first_bad_seq, outcome.reason) == (False, bad_seq, reason)
    assert outcome == _verify(log, workers=1)


BOUNDARY = {
    "last row of a range deleted": ("DELETE FROM audit_events WHERE seq = 8", 8, "gap"),
    "last two rows of a range deleted": ("DELETE FROM audit_events WHERE seq IN (7, 8)", 7, "gap"),
    "hash of a range's last row": (
        "UPDATE audit_events SET hash = repeat('a', 64) WHERE seq = 8",
        8,
        "hash mismatch",
    ),
    "prev_hash of a range's first row": (
        "UPDATE audit_events SET prev_hash = repeat('a', 64) WHERE seq = 9",
        9,
        "hash mismatch",
    ),
    "body of a range's first row": (
        "UPDATE audit_events SET body = replace(body, 'user', 'resu') WHERE seq = 9",
        9,
        "hash mismatch",
    ),
    "index of a range's last row": (
        "UPDATE audit_events SET resource = NULL WHERE seq = 12",
        12,
        "index mismatch",
    ),
}


@pytest.mark.parametrize("case", sorted(BOUNDARY))
def test_a_bad_row_at_a_range_boundary(case: str, pg_url: str, sluice_home: Path) -> None:
    statement, bad_seq, reason = BOUNDARY[case]
    log = open_log(pg_url, sluice_home)
    fill(log, 20)
    log.close()
    tamper(pg_url, statement)
    outcome = _verify(log, workers=2, range_rows=4)
    assert (outcome.ok, outcome.first_bad_seq, outcome.reason) == (False, bad_seq, reason)


def test_parallel_and_single_agree_on_an_intact_chain(pg_url: str, sluice_home: Path) -> None:
    log = open_log(pg_url, sluice_home)
    fill(log, 35)
    log.close()
    parallel = _verify(log, workers=3, range_rows=6)
    assert parallel.ok and parallel.events == 35 and parallel.checkpoints == 4, parallel
    assert parallel == _verify(log, workers=1) == _verify(log, workers=1, range_rows=1000)
    part = _verify(log, workers=2, range_rows=3, from_seq=5, to_seq=20)
    assert part.ok and part.events == 16 and part.checkpoints == 2, part


ODD = ["tab\there", "new\nline", "back\\slash", "\\N", 'quote"s', "北京市\r", "\x7f", ""]


def test_values_that_copy_escapes_verify_and_stay_checked(pg_url: str, sluice_home: Path) -> None:
    """Tabs, newlines, backslashes and a literal ``\\N`` in indexed columns and bodies."""
    log = open_log(pg_url, sluice_home)
    for n, odd in enumerate(ODD):
        log.append(
            event(n, purpose=odd, case_ref=odd or None, resource=f"r{odd}",
                  actor={"sub": odd or "x", "dept": odd}, details={"resource_dept": odd, odd: odd})
        )  # fmt: skip
    log.close()
    assert _verify(log).ok
    assert _verify(log, workers=2, range_rows=3).ok
    # the body says purpose is the two characters \N: a NULL column must not pass for it
    tamper(pg_url, "UPDATE audit_events SET purpose = NULL WHERE seq = 4")
    outcome = _verify(log, workers=2, range_rows=3)
    assert (outcome.first_bad_seq, outcome.reason) == (4, "index mismatch")


# -- the COPY checker against the reference, byte by byte ----------------------------

_ESC = {"\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _copy_text(row: tuple[Any, ...]) -> bytes:
    """PostgreSQL's COPY text form of one row (CopyAttributeOutText)."""
    out = []
    for value in row:
        if value is None:
            out.append("\\N")
        elif isinstance(value, bool):
            out.append("t" if value else "f")
        else:
            out.append("".join(_ESC.get(ch, ch) for ch in str(value)))
    return ("\t".join(out) + "\n").encode()


def _stream() -> bytes:
    raws = [event(1, purpose="a\tb\\c"), event(2, resource=None), event(3, case_ref="\\N")]
    rows, _ = _chain([Pending(prepare(raw)) for raw in raws], 0, "0" * 64, MAC_KEY)
    return b"".join(_copy_text(row) for row in rows)


MAC_KEY = bytes(range(32))


STREAM = _stream()


def _verdict(checker: ChainChecker) -> tuple[Any, ...]:
    return (checker.count, checker.last_seq, checker.failure)


@settings(max_examples=400, deadline=None)
@given(
    st.integers(0, len(STREAM) - 1),
    st.integers(0, 255),
    st.integers(0, 64),
    st.sampled_from([MAC_KEY, None]),
    st.sampled_from([1, None, 3]),
)
def test_copy_checker_agrees_with_the_reference(
    position: int, byte: int, chunk: int, key: bytes | None, mac_from: int | None
) -> None:
    """Chunks of ``chunk`` bytes, or (0) one row per chunk as psycopg hands COPY over
    (the fast path's case); with and without the MAC key, whatever the first MAC'd seq."""
    data = bytearray(STREAM)
    data[position] = byte
    lines = bytes(data).split(b"\n")
    try:
        rows = [decode_row(line) for line in lines if line]
    except (ValueError, UnicodeDecodeError):
        return  # not something PostgreSQL could send
    reference = ChainChecker(with_mac=True, mac_key=key, mac_from=mac_from)
    reference.feed(rows)
    fast = CopyChecker(mac_key=key, mac_from=mac_from)
    if chunk:
        fast.feed_copy(bytes(data[i : i + chunk]) for i in range(0, len(data), chunk))
    else:
        fast.feed_copy(memoryview(row) for row in bytes(data).splitlines(keepends=True))
    fast.finish()
    assert _verdict(fast) == _verdict(reference)
    if key and bytes(data) != STREAM and data.count(b"\n") == STREAM.count(b"\n"):
        assert fast.failure is not None


def test_copy_checker_takes_rows_in_blocks_and_cut_anywhere() -> None:
    """More rows than a block, one row per chunk or cut across rows: same hashes, and
    no intact row leaves the fast path (``_decide`` is for rows it doubts)."""
    raws = [event(n) for n in range(1, 3 * BLOCK_ROWS + 2)]
    rows, _ = _chain([Pending(prepare(raw)) for raw in raws], 0, "0" * 64, MAC_KEY)
    stream = b"".join(_copy_text(row) for row in rows)
    want = {1, BLOCK_ROWS, BLOCK_ROWS + 1, len(rows)}
    for chunks in (stream.splitlines(keepends=True), [stream[i : i + 1000] for i in
                   range(0, len(stream), 1000)]):  # fmt: skip
        fast = CopyChecker(mac_key=MAC_KEY, mac_from=1, want=set(want))
        fast._decide = lambda line: pytest.fail(f"an intact row was doubted: {line[:40]!r}")
        assert fast.feed_copy(chunks)
        fast.finish()
        assert (fast.count, fast.last_seq, fast.failure) == (len(rows), len(rows), None)
        assert fast.hashes_at == {seq: rows[seq - 1][2] for seq in want}
