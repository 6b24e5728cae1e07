"""The writer's optimistic append under interleavings and faults: another process
appending between batches, checkpoints due in the same batch, commits that fail (or
seem to), restarts on a stale cached head. The chain stays gap-free, every event is
in it exactly once, and it verifies."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from audit.log import AuditLog
from audit.verify import verify_database
from catalog.errors import Unavailable
from tests.audit.helpers import event, open_log, replica_homes


def _requests(pg_url: str) -> tuple[list[int], Counter[str]]:
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        rows = conn.execute("SELECT seq, body::jsonb->>'request_id' FROM audit_events ORDER BY seq")
        listed = rows.fetchall()
    return [r[0] for r in listed], Counter(r[1] for r in listed)


def _verify(log: AuditLog, events: int) -> None:
    outcome = verify_database(store=log.store, witness_file=log.witness_file)
    assert outcome.ok and outcome.events == events, outcome


@pytest.mark.parametrize("method", ["append_if_head", "insert_and_commit"])
def test_a_commit_that_reached_the_server_is_not_written_twice(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """The connection breaks after the server committed but before the answer came
    back: the writer's fresh try must find the batch in the chain, not append it again."""
    log = open_log(pg_url, tmp_path, checkpoint_every=1000)
    try:
        for n in range(3):
            log.append(event(n))
        store = log.store
        real = getattr(store, method)
        broken: list[int] = []

        def commits_then_breaks(conn: Any, *args: Any) -> Any:
            result = real(conn, *args)
            if not broken:
                broken.append(1)
                raise psycopg.OperationalError("server closed the connection unexpectedly")
            return result

        monkeypatch.setattr(store, method, commits_then_breaks)
        if method == "insert_and_commit":
            log._writer._quiet = False  # the slow path
        receipt = log.append(event(3))
        assert broken
        assert receipt.seq == 4
        assert log.append(event(4)).seq == 5
    finally:
        log.close()
    seqs, requests = _requests(pg_url)
    assert seqs == list(range(1, 6))
    assert set(requests.values()) == {1}, requests
    _verify(log, 5)


def test_a_commit_that_failed_on_both_tries_leaves_no_trace(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed attempt remembered from one batch must not be taken for the next
    batch's: the next batch is chained anew."""
    log = open_log(pg_url, tmp_path, checkpoint_every=1000)
    try:
        for n in range(3):
            log.append(event(n))
        store = log.store

        def fails(conn: Any, *args: Any) -> Any:
            raise psycopg.OperationalError("the network is down")

        with monkeypatch.context() as patch:
            patch.setattr(store, "append_if_head", fails)
            patch.setattr(store, "insert_and_commit", fails)
            with pytest.raises(Unavailable):
                log.append(event(3))
        assert log.append(event(4)).seq == 4
        assert log.append(event(5)).seq == 5
    finally:
        log.close()
    seqs, requests = _requests(pg_url)
    assert seqs == list(range(1, 6))
    assert "req-3" not in requests and set(requests.values()) == {1}
    _verify(log, 5)


def test_a_statement_failing_inside_the_optimistic_transaction_writes_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    """The checkpoint insert fails once, after the batch's rows went in within the same
    one-query transaction: the rows roll back with it (no COMMIT runs), the connection
    is dropped, and the fresh try writes batch and checkpoint once."""
    log = open_log(pg_url, tmp_path, checkpoint_every=4)
    try:
        for n in range(3):
            log.append(event(n))
        assert log._writer._quiet
        with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("CREATE SEQUENCE fail_once")
            conn.execute(
                "CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                " IF nextval('fail_once') = 1 THEN RAISE EXCEPTION 'checkpoint refused'; END IF;"
                " RETURN NEW; END $$"
            )
            conn.execute(
                "CREATE TRIGGER fail_once BEFORE INSERT ON audit_checkpoints"
                " FOR EACH ROW EXECUTE FUNCTION fail_once()"
            )
        missed = log.metrics.optimistic
        assert log.append(event(3)).seq == 4  # checkpoint due: seq 4
        assert log.metrics.optimistic == missed  # the optimistic try failed
        assert log.append(event(4)).seq == 5
    finally:
        log.close()
    seqs, requests = _requests(pg_url)
    assert seqs == list(range(1, 6)) and set(requests.values()) == {1}
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        checkpoints = conn.execute("SELECT seq FROM audit_checkpoints ORDER BY seq").fetchall()
    assert checkpoints == [(4,), (5,)]  # 5: signed on close
    _verify(log, 5)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_processes_interleaving_with_checkpoints_and_restarts(
    pg_url: str, tmp_path: Path, seed: int
) -> None:
    """Two logs on one database (two processes), appending in a random order with
    checkpoints due every 1-3 events, one of them restarted on the way (its cached head
    gone stale while it was down): every event once, in a gap-free, verified chain."""
    import random

    rng = random.Random(seed)
    every = rng.choice([1, 2, 3])
    homes = replica_homes(tmp_path / "a", tmp_path / "b")
    logs = [open_log(pg_url, home, checkpoint_every=every) for home in homes]
    written = 0
    try:
        for step in range(40):
            side = rng.randrange(2)
            if rng.random() < 0.05:
                logs[side].close()
                logs[side] = open_log(pg_url, homes[side], checkpoint_every=every)
            logs[side].append(event(step))
            written += 1
    finally:
        for log in logs:
            log.close()
    seqs, requests = _requests(pg_url)
    assert seqs == list(range(1, written + 1))
    assert set(requests.values()) == {1} and len(requests) == written
    assert sum(log.metrics.optimistic for log in logs) > 0
    for log in logs:
        _verify(log, written)


def test_two_processes_appending_at_once(pg_url: str, tmp_path: Path) -> None:
    """Threads on two logs at the same time: batches of several events race for the
    head, optimistic attempts are refused and re-chained, checkpoints fall inside
    batches; every event is in the chain once and the chain verifies."""
    import threading

    homes = replica_homes(tmp_path / "a", tmp_path / "b")
    logs = [open_log(pg_url, home, checkpoint_every=7) for home in homes]
    per_thread = 30

    def work(log: AuditLog, base: int) -> None:
        for n in range(per_thread):
            log.append(event(base + n))

    threads = [threading.Thread(target=work, args=(logs[i % 2], 1000 * i)) for i in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for log in logs:
            log.close()
    written = 6 * per_thread
    seqs, requests = _requests(pg_url)
    assert seqs == list(range(1, written + 1))
    assert set(requests.values()) == {1} and len(requests) == written
    for log in logs:
        _verify(log, written)
