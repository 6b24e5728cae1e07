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

Both cost the serving process (the monitor is one of its threads), so a step runs only
when the last one's time is at most ``duty`` of the time since: on a long trail the count
and the window take longer and the steps come less often, never more than that share of
one core. A failure is evidence and seals, as the monitor's own comparisons do; an
unreachable database is not (the monitor retries).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

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
        *,
        window: int = WINDOW,
        duty: float = DUTY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.superseded = superseded
        self.window = window
        self.duty = duty
        self.clock = clock
        self.cursor = 1
        self.passes = 0
        self.next_at = 0.0

    def step(self, conn: Any, head: int) -> Evidence | None:
        """One count and one window if it is time; the evidence if either failed."""
        now = self.clock()
        if head < 1 or now < self.next_at:
            return None
        try:
            return self._gap(conn, head) or self._window(head)
        finally:
            took = self.clock() - now
            self.next_at = self.clock() + took * (1 / self.duty - 1)

    def _gap(self, conn: Any, head: int) -> Evidence | None:
        p = self.store.p
        sql = f"SELECT count(*) FROM audit_events WHERE seq >= 1 AND seq <= {p}"
        count = int(self.store.fetch_all(conn, sql, (head,))[0][0])
        if count == head:
            return None
        return (f"gap: {head - count} event(s) missing below seq {head}",
                {"source": "chain walk", "head_seq": head, "events": count})  # fmt: skip

    def _window(self, head: int) -> Evidence | None:
        lo = self.cursor if self.cursor <= head else 1
        hi = min(head, lo + self.window - 1)
        found = verify_database(store=self.store, witness_file=None, from_seq=lo, to_seq=hi,
                                workers=1, superseded=self.superseded())  # fmt: skip
        if not found.ok and found.reason != OUT_OF_RANGE:
            return (f"chain walk: {found.reason} at seq {found.first_bad_seq}",
                    {"source": "chain walk", "from_seq": lo, "to_seq": hi,
                     "first_bad_seq": found.first_bad_seq, "reason": found.reason,
                     "detail": found.detail})  # fmt: skip
        if hi >= head:
            self.cursor, self.passes = 1, self.passes + 1
        else:
            self.cursor = hi + 1
        return None
