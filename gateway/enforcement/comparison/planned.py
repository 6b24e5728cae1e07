"""A comparison side handed to an engine that reads its source itself (Spark).

The broker has done everything it does for any side — resolved, admitted, authorized,
planned (projection, the runner's jurisdiction as the row filter, masks, the key as its
HMAC token under the case key) and put ``query.started`` on record — and the plan is
frozen. What is left, the read, happens where the engine runs; the side waits for its
start to be durable before the engine may read (``start``), and ends on record when
the engine reports what it read (``read``), exactly as ``QueryRun.collect`` ends it:
the rows, the people (subject tokens) and counties read, the masks, ``delivered:
false``. More rows than the comparison's ceiling fail the run (a partial side would
hide hits), after the side's end is on record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from catalog.errors import TooLarge
from gateway.enforcement.query.entries import Entry
from gateway.enforcement.query.plan import ExecutionPlan
from gateway.enforcement.query.run import QueryRun
from gateway.enforcement.query.subjects import MAX_TOKENS


class PlannedSide:
    """One side, prepared and on record, not yet read."""

    def __init__(
        self, *, alias: str, query: QueryRun, audit_key: bytes, max_rows: int,
        details: Mapping[str, object], ended: Callable[[str, int], None],
    ) -> None:  # fmt: skip
        self.alias = alias
        self._query = query
        self.audit_key = audit_key  # the gateway-wide subject-token key (``subjects``)
        self.max_rows = max_rows
        self._details = dict(details)
        self._ended = ended

    @property
    def entry(self) -> Entry:
        return self._query.ctx.entry

    @property
    def plan(self) -> ExecutionPlan:
        return self._query.plan

    def start(self) -> None:
        """Wait until the side's ``query.started`` is durable: nothing is read before."""
        self._query.wait_started()

    def own_token(self) -> str | None:
        """The runner's own subject token, if recorded: the engine looks for it among
        all the rows it read, not only the first ``MAX_TOKENS`` people (red team 36)."""
        return self._query.own_token()

    def read(
        self, *, rows: int, tokens: list[str], counties: set[str], own_seen: bool = False
    ) -> None:
        """The engine read ``rows`` governed rows: the side's end on record."""
        cut = rows > self.max_rows
        try:
            self._query.read_elsewhere(rows=min(rows, self.max_rows), truncated=cut,
                                       tokens=tokens[:MAX_TOKENS], counties=counties,
                                       details=self._details, own_seen=own_seen)  # fmt: skip
        finally:
            self._ended(self.alias, rows)
        if cut:
            raise TooLarge(
                f"side {self.alias!r} ({self.entry.id}) has more than {self.max_rows} rows; "
                "narrow it with 'where' (a partial comparison would hide hits)"
            )
