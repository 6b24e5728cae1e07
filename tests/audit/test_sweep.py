"""The monitor walks the chain between checkpoints (``audit.sweep``), SQLite and PostgreSQL.

Red team 17: on the embedded default an insider deleted the newest ``catalog.row_bound``
of a row in the middle of the trail, below the newest checkpoint, and wrote the row
back as it was before the change it bound: the older binding was the newest the trail
named, the replay governed, and the monitor (which compares witnessed checkpoints only)
did not seal. A deletion, an edited indexed column or an edited body between two
checkpoints now seals within a few ticks; a healthy chain under appends never does.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from audit.log import AuditLog
from audit.sweep import Accepted, ChainSweep
from tests.audit.helpers import event, fill, open_log, tamper

TICK = 0.05
DEADLINE_S = 20


def _live(db_url: str, home: Path) -> AuditLog:
    log = open_log(db_url, home, checkpoint_every=10, monitor_seconds=TICK)
    fill(log, 40)  # four checkpoints: what is tampered with below lies between them
    return log


def _sealed_within_deadline(log: AuditLog) -> str:
    deadline = time.monotonic() + DEADLINE_S
    while not log.seal.sealed:
        assert time.monotonic() < deadline, "the monitor did not seal"
        time.sleep(0.02)
    return log.seal.reason or ""


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("DELETE FROM audit_events WHERE seq = 15", "gap"),
        ("UPDATE audit_events SET resource = 'dataset:elsewhere' WHERE seq = 15", "chain walk"),
        ("UPDATE audit_events SET prev_hash = hash WHERE seq = 25", "chain walk"),
    ],
    ids=["deleted", "indexed column edited", "link edited"],
)
def test_a_row_changed_between_checkpoints_seals(
    db_url: str, sluice_home: Path, statement: str, reason: str
) -> None:
    log = _live(db_url, sluice_home)
    try:
        tamper(db_url, statement)
        assert reason in _sealed_within_deadline(log)
    finally:
        log.close()


def test_a_healthy_chain_under_appends_is_walked_and_never_sealed(
    db_url: str, sluice_home: Path
) -> None:
    log = _live(db_url, sluice_home)
    log.monitor.sweep.window = 7  # many windows, wraps included, while the head moves
    log.monitor.sweep.duty = 0.5
    stop = threading.Event()

    def append() -> None:
        for n in range(150):  # the head moves while windows are walked and wrap
            if stop.wait(0.01):
                return
            log.append(event(n))

    writer = threading.Thread(target=append)
    writer.start()
    try:
        deadline = time.monotonic() + DEADLINE_S * 2
        while writer.is_alive() or log.monitor.sweep.passes < 3:
            assert time.monotonic() < deadline, "the walk did not go round"
            assert not log.seal.sealed, log.seal.reason
            time.sleep(0.02)
    finally:
        stop.set()
        writer.join()
        log.close()
    assert not log.seal.sealed, log.seal.reason


@pytest.mark.parametrize("head", [15, 16])
def test_a_step_at_the_unseal_anchor_counts_the_accepted_hole_below_it(head: int) -> None:
    """The officers accepted the hole at seq 5 and unsealed at anchor 15; the monitor's
    next step saw head 15 (the new epoch's first event, 16, not yet seen), counted 1..15
    whole, found 14 and sealed again (stop 27's clean-clone run)."""
    present = (set(range(1, 16)) - {5}) | ({16} if head == 16 else set())
    accepted = Accepted(walk_from=16, events_below=14, failures=(5,))
    sweep = ChainSweep(store=None, superseded=list, accepted=lambda: accepted)  # type: ignore[arg-type]
    sweep._count = lambda _conn, lo, hi: len([s for s in present if lo <= s <= hi])  # type: ignore[method-assign]
    assert sweep._gap(None, head, accepted) is None
    present.discard(3)  # another event deleted below the anchor still seals
    assert sweep._gap(None, head, accepted) is not None
