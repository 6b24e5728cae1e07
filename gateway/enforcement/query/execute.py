"""Reading a frozen plan: the source's batches, masked, token-filtered, cut to the limit,
and encoded.

Kept apart from the steps that decide (``authorize``, ``plan``) so that what runs can
be read in one page: a batch is read raw, its subject tokens noted ("who looked up
whom"), masked (vectorised, ``gateway.enforcement.masking``), filtered on hash tokens,
narrowed to the columns sent, offset, and cut — one row past the limit marks the result
truncated rather than silently short.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from adapters.arrow_types import schema_for
from adapters.base import Filter, RowsRead, SourceAdapter
from gateway.enforcement.masking import mask_batch
from gateway.enforcement.query import small_answer
from gateway.enforcement.query.aggregate import answer
from gateway.enforcement.query.aggregate import batches as aggregate_batches
from gateway.enforcement.query.delivery import Chunk
from gateway.enforcement.query.entries import Entry
from gateway.enforcement.query.formats import Encoder, JsonEncoder
from gateway.enforcement.query.plan import STREAM_BATCH_ROWS, ExecutionPlan
from gateway.enforcement.query.subjects import MAX_TOKENS, SUBJECT_COLUMN, SubjectTokens
from gateway.enforcement.sources.pool import SourcePool

_NO_COLUMNS = pa.schema([])  # what ``JsonEncoder.begin`` is given (it reads no schema)


@dataclass
class BrokerMetrics:
    """Where a process's query time goes, for operators and the bench: time spent in
    the audit calls on the request path (submitting the start, waiting for it to be
    durable, queueing the completion) and in masking. Plain sums, updated without a
    lock: approximate under concurrency, cheap on every query. A small answer made
    from its tuples (``Reader.answer``) counts all of its steps as masking."""

    queries: int = 0
    audit_s: float = 0.0
    mask_s: float = 0.0
    # sources asked what an entry reads before it was served, while a freeze stood on its
    # system (``lineage_now``): none while nothing is frozen there
    lineage_asked: int = 0


@dataclass
class Progress:
    """What was read (not what was sent: that is the ``Ledger``)."""

    rows: int = 0
    truncated: bool = False
    tokens: list[str] = field(default_factory=list)
    counties: set[str] = field(default_factory=set)  # of the region field, for the alerts
    aggregate: dict[str, int] | None = None  # an aggregate's groups and suppressed (issue 16)
    subject: str | None = None  # whose read: their own record is looked for past ``tokens``
    generation: int | None = None  # the catalog generation the read is governed by
    own_seen: bool = False  # found there (``SubjectTokens.holds_own``)


class Reader:
    """Reads plans from their sources; one per broker."""

    def __init__(
        self, *, sources: SourcePool, subjects: SubjectTokens, metrics: BrokerMetrics
    ) -> None:
        self.sources = sources
        self.subjects = subjects
        self.metrics = metrics

    def batches(
        self, entry: Entry, plan: ExecutionPlan, progress: Progress
    ) -> Iterator[pa.RecordBatch]:
        """Read, mask, filter and cut to the limit; counts into ``progress``."""
        adapter = self.sources.adapter_for(entry.source)
        if plan.aggregate is not None:
            yield from self._groups(adapter, plan, progress)
            return
        yield from self._cut(entry, plan, adapter.execute(plan.source), progress)

    def small_rows(self, entry: Entry, plan: ExecutionPlan) -> RowsRead | None:
        """A small plan's rows, read whole as tuples (``small_answer.eligible``, and the
        adapter reads them so); ``None``: nothing was read, ``batches`` reads it."""
        if not small_answer.eligible(plan):
            return None
        return self.sources.adapter_for(entry.source).small_rows(plan.source)

    def answer(
        self, entry: Entry, plan: ExecutionPlan, read: RowsRead, progress: Progress
    ) -> list[dict[str, object]] | None:
        """The rows of the JSON answer of ``read`` without Arrow (``small_answer``),
        counted into ``progress`` as ``batches`` counts them; ``None``: unsure, nothing
        counted (``batches_of`` answers)."""
        t = time.perf_counter()
        found = small_answer.answer(read, entry, plan, self.subjects, len(progress.tokens))
        self.metrics.mask_s += time.perf_counter() - t
        if found is None:
            return None
        progress.tokens.extend(found.tokens)
        if entry.region_field:
            self.subjects.add_counties(found.counties, progress.counties)
        progress.rows += len(found.rows)
        progress.truncated = found.truncated
        return found.rows

    def batches_of(
        self, entry: Entry, plan: ExecutionPlan, read: RowsRead, progress: Progress
    ) -> Iterator[pa.RecordBatch]:
        """``batches`` of rows already read (``small_rows``)."""
        return self._cut(entry, plan, _one(read), progress)

    def _cut(
        self, entry: Entry, plan: ExecutionPlan, raws: Iterable[pa.RecordBatch],
        progress: Progress,
    ) -> Iterator[pa.RecordBatch]:  # fmt: skip
        skip = plan.skip
        for raw in raws:
            if progress.rows >= plan.limit:
                progress.truncated = raw.num_rows > 0
                if progress.truncated:
                    break
                continue
            batch = self._masked(entry, plan, raw, progress)
            if skip:
                cut = min(skip, batch.num_rows)
                batch, skip = batch.slice(cut), skip - cut
            if progress.rows + batch.num_rows > plan.limit:
                batch = batch.slice(0, plan.limit - progress.rows)
                progress.truncated = True
            progress.rows += batch.num_rows
            yield batch
            if progress.truncated:
                break

    def _groups(
        self, adapter: SourceAdapter, plan: ExecutionPlan, progress: Progress
    ) -> Iterator[pa.RecordBatch]:
        """An aggregate query: the source's whole grouping, suppressed, filtered, cut
        (``aggregate.answer``); nothing of a row is read into the gateway but groups."""
        spec = plan.aggregate
        assert spec is not None
        result = answer(adapter.aggregate(spec.source), spec, plan.limit)
        progress.rows, progress.truncated = result.groups, result.truncated
        progress.aggregate = {"min_group_size": spec.min_group_size, "groups": result.groups,
                              "suppressed": result.suppressed,
                              "groups_read": result.groups_read}  # fmt: skip
        yield from aggregate_batches(result, STREAM_BATCH_ROWS)

    def _masked(
        self, entry: Entry, plan: ExecutionPlan, raw: pa.RecordBatch, progress: Progress
    ) -> pa.RecordBatch:
        """One raw batch as it may leave: tokens noted, masked, token-filtered, narrowed."""
        progress.tokens.extend(self.subjects.collect(raw, entry, len(progress.tokens)))
        if len(progress.tokens) >= MAX_TOKENS and progress.subject and not progress.own_seen:
            progress.own_seen = self.subjects.holds_own(raw, entry, progress.subject,
                                                        progress.generation)  # fmt: skip
        self.subjects.counties(raw, entry, progress.counties)
        if plan.subject_column is not None and plan.subject_column in raw.schema.names:
            raw = raw.append_column(
                SUBJECT_COLUMN, self.subjects.column(raw.column(plan.subject_column))
            )
        t = time.perf_counter()
        batch = mask_batch(raw, plan.masks, hash_key=plan.hash_key, shift_key=plan.shift_key,
                           hash_keys=plan.key_hashes, id_numbers=plan.id_numbers)  # fmt: skip
        self.metrics.mask_s += time.perf_counter() - t
        batch = _apply_post_filters(batch, plan.post_filters)
        if plan.output is not None:
            keep = [SUBJECT_COLUMN] if SUBJECT_COLUMN in batch.schema.names else []
            batch = batch.select([*plan.output, *keep])
        return batch


def _one(read: RowsRead) -> Iterator[pa.RecordBatch]:
    yield read.batch()


def encode(
    batches: Iterable[pa.RecordBatch],
    *,
    encoder: Encoder,
    header: dict[str, object],
    progress: Progress,
    empty: Callable[[], pa.Schema],
) -> Iterator[Chunk]:
    """The batches encoded, each chunk with the rows it completes (rows an encoder holds
    back count with the chunk that has them); ``empty`` gives the schema when none came
    (built only then: it costs more than a small query's masking)."""
    started = False
    pending = 0
    for batch in batches:
        if not started:
            started = True
            yield encoder.begin(batch.schema, header), 0
        chunk = encoder.batch(batch)
        pending += batch.num_rows
        if chunk:
            yield chunk, pending
            pending = 0
    if not started:
        yield encoder.begin(empty(), header), 0
    yield from _tail(encoder, progress, pending)


def encode_rows(
    rows: list[dict[str, object]], *, encoder: JsonEncoder, header: dict[str, object],
    progress: Progress,
) -> Iterator[Chunk]:  # fmt: skip
    """``encode``'s chunks of a small answer's rows (``Reader.answer``), byte for byte."""
    yield encoder.begin(_NO_COLUMNS, header), 0
    if rows:
        yield encoder.rows(rows), len(rows)
    yield from _tail(encoder, progress, 0)


def _tail(encoder: Encoder, progress: Progress, pending: int) -> Iterator[Chunk]:
    """The end, which may come in pieces (xlsx is assembled there and handed on 1 MiB at
    a time). The rows it still holds count with its *first* piece: an xlsx's rows are
    in the zip's first entry, a deflate stream whose every prefix inflates to the rows
    it holds, so a client that stops before the last piece has taken them (red team 27:
    counted with the last, most of a workbook left on record as 0 rows, no quota
    charged). Over-recording, never under-recording."""
    trailer: dict[str, object] = {"truncated": progress.truncated, "row_count": progress.rows}
    if progress.aggregate is not None:  # an aggregate query's groups and suppressed ones
        trailer["aggregate"] = progress.aggregate
    rows, ended = pending, False
    for part in encoder.tail(trailer):
        if part:
            yield part, rows
            rows, ended = 0, True
    if not ended:  # an empty end still ends (with the rows held, if any)
        yield b"", rows


def empty_schema(plan: ExecutionPlan) -> pa.Schema:
    """The result schema when no batch came back: masked columns are strings."""
    if plan.aggregate is not None:
        return plan.aggregate.output_schema()
    schema = schema_for(plan.source.columns)
    for name in plan.masks:
        schema = schema.set(schema.get_field_index(name), pa.field(name, pa.string()))
    if plan.output is not None:
        schema = pa.schema([schema.field(name) for name in plan.output])
    return schema


def _apply_post_filters(batch: pa.RecordBatch, filters: Iterable[Filter]) -> pa.RecordBatch:
    for flt in filters:
        mask = pc.equal(batch.column(flt.field), pa.scalar(str(flt.value)))
        batch = batch.filter(pc.fill_null(mask, False))
    return batch
