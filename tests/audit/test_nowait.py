"""``append_nowait``: validated at once, written by the group-commit writer, never raises
later; what it loses is logged and counted."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import structlog

from audit.log import AuditLog
from audit.verify import verify_database
from audit.writer import LAZY_DELAY_S
from catalog.errors import BadRequest
from tests.audit.helpers import event, open_log


def test_nowait_events_land_in_the_chain(db_url: str, sluice_home: Path) -> None:
    log = open_log(db_url, sluice_home)
    try:
        for n in range(25):
            log.append_nowait(event(n, type="query.completed", request_id=f"nowait-{n}"))
        receipt = log.append(event(99, type="query.started", outcome="started"))
    finally:
        log.close()
    # one writer, one queue: the waited-for append is behind every queued one
    assert receipt.seq == 26
    assert log.metrics.nowait_lost == 0 and log.metrics.failures == 0
    outcome = verify_database(store=log.store, witness_file=log.witness_file)
    assert outcome.ok, outcome
    assert outcome.events == 26


def test_nowait_flushed_at_close(db_url: str, sluice_home: Path) -> None:
    log = open_log(db_url, sluice_home)
    for n in range(7):
        log.append_nowait(event(n))
    log.close()
    assert log.metrics.appended == 7
    outcome = verify_database(store=log.store, witness_file=log.witness_file)
    assert outcome.ok and outcome.events == 7, outcome


def test_nowait_rejects_a_malformed_event_at_once(tmp_path: Path, sluice_home: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path / 'a.db'}", sluice_home)
    try:
        with pytest.raises(BadRequest):
            log.append_nowait(event(1, outcome="maybe"))
        with pytest.raises(BadRequest):
            log.append_nowait({**event(1), "secret": "x"})
    finally:
        log.close()
    assert log.metrics.appended == 0


def test_nowait_on_a_closed_log_is_counted_not_raised(tmp_path: Path, sluice_home: Path) -> None:
    log = open_log(f"sqlite:///{tmp_path / 'a.db'}", sluice_home)
    log.close()
    with structlog.testing.capture_logs() as logs:
        log.append_nowait(event(1))
    assert log.metrics.nowait_lost == 1
    assert log.metrics.failures == 1
    assert [e["event"] for e in logs] == ["audit_nowait_events_lost"]


def test_nowait_on_a_broken_store_is_counted_not_raised(sluice_home: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/nothing"
    log = AuditLog.open(url=url, home=sluice_home, append_timeout_s=1.0)
    with structlog.testing.capture_logs() as logs:
        log.append_nowait(event(1))
        log.append_nowait(event(2))
        log.close()  # drains the queue: the writer tries, fails, counts
    assert log.metrics.nowait_lost == 2
    assert log.metrics.failures >= 1
    assert "audit_nowait_events_lost" in {e["event"] for e in logs}


def test_a_lone_nowait_event_is_written_without_a_wake_up(db_url: str, sluice_home: Path) -> None:
    """``append_nowait`` does not wake the writer; with no other traffic the writer's
    idle tick still commits it within ``LAZY_DELAY_S`` (here: well under a second)."""
    log = open_log(db_url, sluice_home)
    try:
        time.sleep(0.2)  # let the writer go idle
        log.append_nowait(event(1, type="query.completed", request_id="lone"))
        deadline = time.monotonic() + max(1.0, 20 * LAZY_DELAY_S)
        while log.metrics.appended < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert log.metrics.appended == 1
    finally:
        log.close()
