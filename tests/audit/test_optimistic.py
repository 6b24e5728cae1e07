"""The writer's optimistic path (one round trip on the head this process last wrote)
and the event preparation it relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.canonical import canonical_json
from audit.events import prepare
from audit.verify import verify_database
from catalog.errors import BadRequest, Unavailable
from tests.audit.helpers import event, open_log, replica_homes


def _seqs(pg_url: str) -> list[int]:
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        return [row[0] for row in conn.execute("SELECT seq FROM audit_events ORDER BY seq")]


def test_optimistic_path_falls_back_when_another_writer_appended(
    pg_url: str, tmp_path: Path
) -> None:
    """Two logs on one database stand for two processes: each caches its own head."""
    home_a, home_b = replica_homes(tmp_path / "a", tmp_path / "b")
    first = open_log(pg_url, home_a, checkpoint_every=1)
    second = open_log(pg_url, home_b, checkpoint_every=1)
    try:
        for n in range(3):  # slow, slow (finds its own head: quiet), then optimistic
            first.append(event(n))
        assert first.metrics.optimistic == 1
        assert second.append(event(10)).seq == 4  # moves the head under ``first``
        # ``first`` chains onto seq 3, is refused, re-chains on seq 4; the checkpoint it
        # signed for the refused attempt must not be stored either.
        assert first.append(event(11)).seq == 5
        assert first.metrics.optimistic_missed == 1
        assert first.append(event(12)).seq == 6  # slow again: it saw a foreign head
        assert first.append(event(13)).seq == 7  # its own head again: optimistic
        assert first.metrics.optimistic == 2
    finally:
        first.close()
        second.close()
    assert _seqs(pg_url) == list(range(1, 8))
    outcome = verify_database(store=first.store, witness_file=first.witness_file)
    assert outcome.ok and outcome.events == 7, outcome
    outcome = verify_database(store=second.store, witness_file=second.witness_file)
    assert outcome.ok, outcome


def test_optimistic_path_refuses_a_head_with_another_hash(pg_url: str, tmp_path: Path) -> None:
    """Same seq, different hash (the head was replaced): never chain onto a stale hash.

    Nothing legitimate replaces the head at a seq this writer committed: since issue 12
    the slow path takes it as evidence and seals instead of chaining on."""
    log = open_log(pg_url, tmp_path / "a")
    try:
        for n in range(3):
            log.append(event(n))
        writer = log._writer
        assert writer._head is not None
        writer._head = (writer._head[0], "f" * 64)
        with pytest.raises(Unavailable, match="audit trail sealed: hash at head seq 3"):
            log.append(event(3))
        assert log.metrics.optimistic_missed == 1
    finally:
        log.close()
    outcome = verify_database(store=log.store, witness_file=log.witness_file)
    assert outcome.ok and outcome.events == 3, outcome


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.floats(-1e20, 1e20)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    details=st.dictionaries(st.text(), json_values, max_size=3),
    fields=st.dictionaries(st.text(), json_values, max_size=3),
    rows=st.none() | st.integers(0, 2**40),
    duration=st.none() | st.floats(0, 1e16),
    seq=st.integers(1, 2**53 - 1),
)
def test_seq_is_spliced_exactly_where_canonical_json_puts_it(
    details: dict[str, Any], fields: dict[str, Any], rows: int | None, duration: float | None,
    seq: int,
) -> None:  # fmt: skip
    raw = event(1, details=details, fields=fields, rows=rows, duration_ms=duration)
    try:
        prepared = prepare(raw)
    except BadRequest:
        return  # not canonicalisable (e.g. a lone surrogate): refused in the caller
    assert prepared.canonical(seq) == canonical_json({**prepared.body, "seq": seq})


@pytest.mark.parametrize(
    "overrides",
    [
        {"purpose": "x" * 301},
        {"case_ref": "c\x00"},
        {"actor": {"sub": "s" * 129}},
        {"details": {"resource_dept": "d" * 65}},
        {"details": {"note": "\ud800"}},  # a lone surrogate cannot be serialised
        {"type": "query.started\n"},
    ],
)
def test_values_that_would_fail_a_whole_batch_fail_the_caller(overrides: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        prepare(event(1, **overrides))


def test_a_head_witnessed_by_this_process_is_never_chained_below(
    pg_url: str, tmp_path: Path
) -> None:
    """Three replicas on one database (tests/ops/test_replicas.py, under load): replica a
    last wrote seq 3, b appended up to 6, a's timed checkpoint signed and witnessed 6
    (its floor), and a's next batch took the optimistic path onto its own seq 3: it
    signed a checkpoint for seq 5 before the conditional insert, below its own
    witnessed 6, and sealed the trail ("refused to sign seq 5 below witnessed 6") for
    every request of that replica. A head another process moved is no evidence."""
    home_a, home_b = replica_homes(tmp_path / "a", tmp_path / "b")
    # every batch of a's is due a checkpoint (as SLUICE_AUDIT_CHECKPOINT_SECONDS=1 makes
    # each batch a second after the last one)
    first = open_log(pg_url, home_a, checkpoint_every=1000, checkpoint_seconds=0.0)
    second = open_log(pg_url, home_b, checkpoint_every=1000)
    try:
        for n in range(3):
            first.append(event(n))
        assert first.metrics.optimistic >= 1
        for n in range(3):
            second.append(event(10 + n))
        first._writer._timed_checkpoint()  # signs and witnesses seq 6
        assert first._writer.floor[0] == 6
        assert first.append(event(20)).seq == 7
        assert first.append(event(21)).seq == 8
    finally:
        first.close()
        second.close()
    assert _seqs(pg_url) == list(range(1, 9))
    outcome = verify_database(store=first.store, witness_file=first.witness_file)
    assert outcome.ok, outcome
