"""One started query: its frozen context, decision and plan, and what happens to it
from the start on record to its one end.

The only mutable parts are those a run produces: the progress of the read, the ledger
of what the transport took (``Started``), the source slot it gives back, and what its
last decision stands on beside the catalog (``standing``, renewed by the re-checks). The
format of the answer is the response's business: it is handed to ``produce``, never
kept here.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Iterator, Mapping

import pyarrow as pa

from audit.event_types import EventType, Outcome
from audit.events import Family, FamilyEvent
from audit.records import AuditEvent
from audit.records import Delivery as Sent
from audit.sink import AppendInFlight
from gateway.enforcement.query.aggregate import for_format, for_format_schema
from gateway.enforcement.query.audit_events import end_details, query_family, query_record
from gateway.enforcement.query.authorize import Standing
from gateway.enforcement.query.code_fields import code_columns
from gateway.enforcement.query.context import QueryContext
from gateway.enforcement.query.delivery import Books, Chunk, Started
from gateway.enforcement.query.execute import (
    BrokerMetrics,
    Progress,
    Reader,
    empty_schema,
    encode,
    encode_rows,
)
from gateway.enforcement.query.formats import JsonEncoder, make_encoder
from gateway.enforcement.query.plan import ExecutionPlan
from gateway.enforcement.query.slots import Slot
from policies.decision import Decision


class QueryRun(Started):
    """A query that policy has allowed, its rows reserved and a source slot taken;
    ``record_start`` puts it on record (nothing is sent before that is durable)."""

    kind = "query"

    def __init__(
        self,
        *,
        books: Books,
        ctx: QueryContext,
        decision: Decision,
        standing: Standing,
        plan: ExecutionPlan,
        reserved: int,
        slot: Slot,
        reader: Reader,
        metrics: BrokerMetrics,
        started_at: float,
    ) -> None:
        super().__init__(books=books, subject=ctx.user.subject,
                         request_id=ctx.origin.request_id, reserved=reserved,
                         started_at=started_at)  # fmt: skip
        self.ctx = ctx
        self.decision = decision
        # what the last decision read beside the catalog (the broker's re-check renews it)
        self.standing = standing
        self.plan = plan
        self.slot = slot
        self.progress = Progress(subject=ctx.user.subject, generation=ctx.generation)
        self._reader = reader
        self._metrics = metrics
        self._started: AppendInFlight | None = None
        self._family: Family | None = None
        self._read_all = False  # the reader came to its end (see ``cut``)

    @property
    def columns(self) -> list[dict[str, str | None]]:
        """The result's columns as policy released them (the result's header)."""
        return [c.header() for c in self.plan.columns]

    def record_start(self) -> None:
        """Submit ``query.started`` (fail closed: ``produce`` and ``collect`` wait for it
        to be durable before anything leaves). It names what will run: the columns
        requested and delivered, the masks and the row limit of the frozen plan."""
        plan = self.plan
        what = {"masks": dict(plan.masks), "rows_limit": plan.limit}
        if plan.aggregate is not None:  # issue 16: the threshold it runs under
            self.progress.aggregate = {"min_group_size": plan.aggregate.min_group_size}
        if self._family is not None:  # never: the family is made by this method only
            raise RuntimeError("query started twice")
        t = time.perf_counter()
        # what every record of this query shares, checked once: the start and its end are
        # built from it (``_event``), the same bodies and bytes as whole events
        self._family = query_family(self.ctx, self.decision)
        start = self._event(EventType.QUERY_STARTED, Outcome.STARTED, sent=Sent(), details=what)
        self._started = self.books.audit.submit(start)
        self._metrics.audit_s += time.perf_counter() - t
        self.on_record()

    def produce(self, fmt: str, bom: bool) -> Generator[Chunk, None, None]:
        """The result, encoded; no chunk is handed on before the start is durable, though
        rows may be read and encoded while its commit is under way."""
        header: dict[str, object] = {"columns": self.columns,
                                     "decision_id": self.decision.decision_id,
                                     "policy_version": self.decision.policy_version}  # fmt: skip
        try:
            chunks = self._small_json(header) if fmt == "json" else None
            if chunks is None:
                codes = code_columns(self.ctx.entry, self.plan.columns)  # text cells in xlsx
                encoder = make_encoder(fmt, bom=bom, cut=self.cut, text_columns=codes)
                batches, empty = self._batches(), lambda: empty_schema(self.plan)
                if self.plan.aggregate is not None:  # ``_suppressed`` as the format carries it
                    batches = for_format(batches, fmt)
                    empty = lambda: for_format_schema(empty_schema(self.plan), fmt)  # noqa: E731
                chunks = encode(batches, encoder=encoder, header=header,
                                progress=self.progress, empty=empty)  # fmt: skip
            for chunk in chunks:
                self._wait_started()  # fail closed: no record of the start, no data
                yield chunk
            self._wait_started()
        except Exception as exc:
            self.fail(exc)
            raise

    def collect(self, details: Mapping[str, object]) -> tuple[pa.Table, bool]:
        """All rows, masked, as one table that is *not* sent: a comparison's side.
        Audited like a query (``details`` says what for); the rows are charged by
        whoever delivers what is derived from them. Returns the table and whether it
        was cut at the plan's limit."""
        try:
            batches = list(self._batches())
            self._wait_started()
        except BaseException as exc:
            self.fail(exc)
            raise
        self.completed(rows=self.progress.rows, result_sha256=None,
                       details={**self._sent(), **details})  # fmt: skip
        schema = batches[0].schema if batches else empty_schema(self.plan)
        return pa.Table.from_batches(batches, schema=schema), self.progress.truncated

    def wait_started(self) -> None:
        """Block until ``query.started`` is durable: an engine that reads the source
        itself (a comparison side on Spark) starts reading only then."""
        self._wait_started()

    def own_token(self) -> str | None:
        """The reader's own subject token, when an administrator recorded their ID
        number (an engine that reads the side itself looks for it past ``tokens``)."""
        return self._reader.subjects.own_token(self.ctx.user.subject, self.ctx.generation)

    def read_elsewhere(
        self, *, rows: int, truncated: bool, tokens: list[str], counties: set[str],
        details: Mapping[str, object], own_seen: bool = False,
    ) -> None:  # fmt: skip
        """A comparison side read by an engine, not here (``comparison.planned``): its
        end on record as ``collect`` writes it, from what the engine reports
        (``own_seen``: the user's own record among the rows past ``tokens``)."""
        self.progress.rows, self.progress.truncated = rows, truncated
        self.progress.own_seen = own_seen
        self.progress.tokens[:] = tokens
        self.progress.counties |= counties
        self.completed(rows=rows, result_sha256=None, details={**self._sent(), **details})

    def cut(self) -> bool | None:
        """Whether the result was cut at its limit; ``None`` while the read is under way
        and no cut was seen yet (the reader reads one row past the limit: the cut is
        certain only at the end)."""
        if self.progress.truncated:
            return True
        return False if self._read_all else None

    def _small_json(self, header: dict[str, object]) -> Iterator[Chunk] | None:
        """A small plan's JSON answer from its rows as tuples (``small_answer``), or from
        their batch where that is unsure; ``None``: not a small plan, nothing read."""
        try:
            read = self._reader.small_rows(self.ctx.entry, self.plan)
        except BaseException:
            self.slot.release()
            raise
        if read is None:
            return None
        self._read_all = True
        self.slot.release()  # the rows are read: the source connection is back
        entry, plan, progress = self.ctx.entry, self.plan, self.progress
        rows = self._reader.answer(entry, plan, read, progress)
        if rows is not None:
            return encode_rows(rows, encoder=JsonEncoder(), header=header, progress=progress)
        return encode(self._reader.batches_of(entry, plan, read, progress),
                      encoder=JsonEncoder(), header=header, progress=progress,
                      empty=lambda: empty_schema(plan))  # fmt: skip

    def _batches(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._reader.batches(self.ctx.entry, self.plan, self.progress)
            self._read_all = True
        finally:  # the source connection is back in its pool: so is the slot
            self.slot.release()

    def _wait_started(self) -> None:
        if self._started is None:  # never: ``prepare`` records before it returns a run
            raise RuntimeError("query run before its start was submitted")
        t = time.perf_counter()
        self._started.wait()
        self._metrics.audit_s += time.perf_counter() - t

    # -- what its records say (``Started`` writes them) --

    def _event(
        self, type_: EventType, outcome: Outcome, *, sent: Sent, details: Mapping[str, object]
    ) -> AuditEvent | FamilyEvent:
        details = {**self._columns(), **details}
        aggregate = self.progress.aggregate
        if self._family is None:  # no start was built (``record_start`` makes the family)
            return query_record(self.ctx, type_, outcome, decision=self.decision, sent=sent,
                                details=details, aggregate=aggregate)  # fmt: skip
        return self._family.event(
            str(type_), str(outcome), rows=sent.rows, result_sha256=sent.result_sha256,
            duration_ms=sent.duration_ms,
            details=end_details(self.ctx, self.decision, details, aggregate),
        )  # fmt: skip

    def _columns(self) -> dict[str, object]:
        return {"columns_requested": list(self.plan.requested),
                "columns_delivered": list(self.plan.delivered)}  # fmt: skip

    def _sent(self) -> dict[str, object]:
        """What left, beside ``rows`` and ``result_sha256``: the tokens of the rows read,
        masks, truncation, bytes and the quota reservation."""
        progress = self.progress
        return {
            "truncated": progress.truncated,
            "masks": dict(self.plan.masks),
            "bytes_sent": self.ledger.size,
            "rows_reserved": self.reserved,
            **self._reader.subjects.details(
                progress.tokens,
                self.ctx.user,
                progress.counties,
                own_seen=progress.own_seen,
                generation=self.ctx.generation,
            ),
        }

    def _before_end(self, why: str | BaseException) -> None:
        """A query contains nothing else that was started."""

    def _release(self) -> None:
        self.slot.release()

    def _ends_without_io(self) -> bool:
        """The completion reads the caller's own token (``self_hash_hit``), from the
        database once a minute: without I/O while it is cached."""
        return self._reader.subjects.knows_own(self.subject, self.ctx.generation)

    def _counted(self, audit_s: float) -> None:
        self._metrics.audit_s += audit_s
        self._metrics.queries += 1


def newest_generation(runs: Iterable[QueryRun]) -> int | None:
    """The newest catalog generation the runs (a comparison's sides) were governed by:
    what the comparison's own-record check reads the user's own token under
    (``SubjectTokens.own_token``), so a change of their number made anywhere counts at
    once, as it does for a query."""
    known = [q.ctx.generation for q in runs if q.ctx.generation is not None]
    return max(known) if known else None
