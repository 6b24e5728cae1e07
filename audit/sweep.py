"""The monitor's walk of the chain *between* checkpoints: the evidence a witness cannot hold.

The monitor compares witnessed checkpoints with the database, so it sees a chain cut
short or rewritten at a witnessed seq. It did not see a row deleted or edited between
two checkpoints, which ``sluice audit verify`` names but nothing ran on its own. That
row can matter on its own: the newest ``catalog.row_bound`` of a row deleted, or its
indexed ``resource`` column edited, makes an older binding the newest the trail names,
and a row written back as it was before a change made through the gateway governs again
(red team 17, on the embedded default where the insider edits the file). So, behind
every monitor tick:

- *contiguity*: the events ``1..head`` must number ``head`` (a deleted row anywhere is
  a gap; the seqs are written by the writers one after another, never skipped);
- *a window of the chain*: ``audit.verify`` over the next ``window`` seqs from where the
  last window ended (hash links, MACs, indexed columns against the hashed body, the
  checkpoints among them), wrapping to seq 1 at the head, so every event is walked again
  and again.

After an unseal that accepted a loss in the middle of the chain (the chain up to the
anchor no longer verified: ``audit.unseal``), the events below the anchor must stay as
many as they were then, and the window passes over each failure the unseal named
(``accepted_failures``: an edited event, or a hole after which the first event must be
genuine on its own); else the accepted hole sealed again at the next step, after every
unseal (red team 18). More than ``MAX_ACCEPTED`` failures, and the window starts above
the anchor (an edit below it is then named by ``sluice audit verify`` only).

Both cost the serving process (the monitor is one of its threads), so a step runs only
when the last one's time is at most ``duty`` of the time since: on a long trail the count
and the window take longer and the steps come less often, never more than that share of
one core. A failure is evidence and seals, as the monitor's own comparisons do; an
unreachable database is not (the monitor retries).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audit.genuine import genuine_seqs
from audit.store import AuditStore
from audit.verify import OUT_OF_RANGE, verify_database

WINDOW = 2000
DUTY = 0.02

Evidence = tuple[str, dict[str, Any]]


class ChainSweep:
    """The walk's position and pace (one per monitor, driven from its thread)."""

    def __init__(
        self,
        store: AuditStore,
        superseded: Callable[[], list[tuple[int, int]]],
        accepted: Callable[[], Accepted] = lambda: Accepted(),
        *,
        window: int = WINDOW,
        duty: float = DUTY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.superseded = superseded
        self.accepted = accepted
        self.window = window
        self.duty = duty
        self.clock = clock
        self.cursor = 1
        self.passes = 0
        self.next_at = 0.0

    def step(self, conn: Any, head: int) -> Evidence | None:
        """One count and one window if it is time; the evidence if either failed."""
        now = self.clock()
        beyond = self._beyond(conn)  # one indexed read: every tick, not at the walk's pace
        if beyond is not None or head < 1 or now < self.next_at:
            return beyond
        accepted = self.accepted()  # one unseal's word for the whole step
        try:
            return self._gap(conn, head, accepted) or self._window(head, accepted)
        finally:
            took = self.clock() - now
            self.next_at = self.clock() + took * (1 / self.duty - 1)

    @staticmethod
    def _start(head: int, accepted: Accepted) -> tuple[int, int | None]:
        """Where the count splits (an unseal's anchor + 1: ``SealStore.accepted``) and
        how many events lie below it. The head may be the anchor itself (the new epoch's
        first event not written or not yet seen): the split holds, nothing lies above it
        (it fell back to counting 1..head whole, found the accepted hole and sealed again
        as the unseal answered: stop 27's clean-clone run)."""
        walk_from, below = accepted.walk_from, accepted.events_below
        return (walk_from, below) if 1 < walk_from <= head + 1 else (1, None)

    @staticmethod
    def _window_start(head: int, accepted: Accepted) -> int:
        """Seq 1, or above the anchor when the unseal could not name each failure."""
        return 1 if accepted.failures is not None else ChainSweep._start(head, accepted)[0]

    def _count(self, conn: Any, lo: int, hi: int) -> int:
        p = self.store.p
        sql = f"SELECT count(*) FROM audit_events WHERE seq >= {p} AND seq <= {p}"
        return int(self.store.fetch_all(conn, sql, (lo, hi))[0][0])

    def _gap(self, conn: Any, head: int, accepted: Accepted) -> Evidence | None:
        start, below = self._start(head, accepted)
        if below is not None:
            count = self._count(conn, 1, start - 1)
            if count != below:
                return (f"gap: {below - count} event(s) missing below seq {start}",
                        {"source": "chain walk", "below_seq": start, "events": count,
                         "events_at_unseal": below})  # fmt: skip
        count = self._count(conn, start, head)
        if count == head - start + 1:
            return None
        return (f"gap: {head - start + 1 - count} event(s) missing below seq {head}",
                {"source": "chain walk", "head_seq": head, "events": count})  # fmt: skip

    def _beyond(self, conn: Any) -> Evidence | None:
        """A checkpoint above the chain's head signs an event that does not exist: no
        gateway writes one (a checkpoint commits with its events), so it is an insider's
        row — one copied far above the head had the timed checkpoint take every later
        head for signed (red team 34). Found in one statement (one snapshot: the head and
        the checkpoints agree), save the void checkpoints an unseal left above its anchor
        (``superseded``)."""
        sql = ("SELECT seq FROM audit_checkpoints WHERE seq > (SELECT coalesce(max(seq), 0)"
               " FROM audit_events) ORDER BY seq LIMIT 100")  # fmt: skip
        void = self.superseded()
        for (seq,) in self.store.fetch_all(conn, sql):
            if not any(lo < int(seq) <= hi for lo, hi in void):
                return (f"chain walk: a checkpoint at seq {seq}, above the chain's head",
                        {"source": "chain walk", "checkpoint_seq": int(seq)})  # fmt: skip
        return None

    def _window(self, head: int, accepted: Accepted) -> Evidence | None:
        start = self._window_start(head, accepted)
        lo = self.cursor if start <= self.cursor <= head else start
        hi = min(head, lo + self.window - 1)
        found = verify_database(store=self.store, witness_file=None, from_seq=lo, to_seq=hi,
                                workers=1, superseded=self.superseded())  # fmt: skip
        if not found.ok and found.first_bad_seq in (accepted.failures or ()):
            seq = int(found.first_bad_seq or 0)
            resume = resume_after(self.store, seq, found.reason)
            if resume is None:  # the event after the accepted hole is not a gateway's
                return (f"chain walk: the event after the hole at seq {seq} is not genuine",
                        {"source": "chain walk", "first_bad_seq": seq + 1})  # fmt: skip
            self.cursor = start if resume > head else resume
            return None
        if not found.ok and found.reason != OUT_OF_RANGE:
            return (f"chain walk: {found.reason} at seq {found.first_bad_seq}",
                    {"source": "chain walk", "from_seq": lo, "to_seq": hi,
                     "first_bad_seq": found.first_bad_seq, "reason": found.reason,
                     "detail": found.detail})  # fmt: skip
        if hi >= head:
            self.cursor, self.passes = start, self.passes + 1
        else:
            self.cursor = hi + 1
        return None


@dataclass(frozen=True)
class Accepted:
    """What the newest unseal accepted (``audit.seal.Epoch``): the count splits at
    ``walk_from`` (events below it stay ``events_below``); the window walks from seq 1
    and passes over the ``failures`` it named, or, when it could not name them all,
    starts at ``walk_from``."""

    walk_from: int = 1
    events_below: int | None = None
    failures: tuple[int, ...] | None = None


MAX_ACCEPTED = 100


def resume_after(store: AuditStore, seq: int, reason: str | None) -> int | None:
    """Where a walk goes on after an accepted failure at ``seq``: the next seq for an
    edited event (its successor links to its stored hash), past the hole for a gap,
    where the first event after it must be genuine on its own (``audit.genuine``: its
    link cannot be checked); None when nothing follows or that event is not genuine."""
    if reason != "gap":
        return seq + 1
    conn = store.connect(reader=True)
    try:
        sql = f"SELECT min(seq) FROM audit_events WHERE seq > {store.p}"
        found = store.fetch_all(conn, sql, (seq,))
    finally:
        conn.close()
    after = found[0][0] if found else None
    if after is None or int(after) not in genuine_seqs(store, [int(after)]):
        return None
    return int(after) + 1


def accepted_failures(
    store: AuditStore, anchor: int, superseded: list[tuple[int, int]]
) -> tuple[int, ...] | None:
    """Every failure of the chain up to ``anchor``, as the walk will meet them (at most
    ``MAX_ACCEPTED``: None beyond, or when the event after a hole is not genuine)."""
    failures: list[int] = []
    lo = 1
    while lo <= anchor and len(failures) <= MAX_ACCEPTED:
        found = verify_database(store=store, witness_file=None, from_seq=lo, to_seq=anchor,
                                superseded=superseded)  # fmt: skip
        if found.ok or found.reason == OUT_OF_RANGE or found.first_bad_seq is None:
            return tuple(failures)
        failures.append(int(found.first_bad_seq))
        resume = resume_after(store, int(found.first_bad_seq), found.reason)
        if resume is None:
            return None
        lo = resume
    return None if len(failures) > MAX_ACCEPTED else tuple(failures)
