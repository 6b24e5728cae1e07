"""Runs a comparison: two governed queries, matched on hash tokens of their keys.

Each side is an ordinary governed query prepared by the broker — casbin, the Rego
decision (fields, masks, the user's jurisdiction as row filter), its own durable
``query.started`` — so a comparison can never read what the two queries could not.
What differs is handed to the broker as ``SideOverrides`` *before* the side is planned
and recorded, so each side's ``query.started`` says what actually runs:

- the key is always replaced by its HMAC token under the case key (the ``hash`` mask),
  whether policy released it in clear or masked: raw identity numbers never leave, and
  the same person has the same token on both sides within one case;
- the sides are read whole (up to ``comparison_max_side_rows``; more is refused, never
  silently cut — a partial match list would read as "no anomaly"), because their rows
  are not delivered: the policy's row cap and the daily quota apply to the matches sent;
- a ``comparison.started`` event naming both sides is durable before the first byte,
  and ``comparison.completed`` (or ``.failed``, or ``.aborted`` when the client goes or
  stalls, or the server stops) records the matches the transport took and the SHA-256
  of those bytes; the matches' rows are reserved on the quota before the sides are read
  and what was not sent is released (``gateway.enforcement.query.delivery``);
- "who looked up whom": each side carries the subject tokens (the gateway-wide HMAC
  tokens of ID numbers, never the numbers) of its key when the key is an ID number,
  else of its first ID-number field, beside its rows; after the match, the distinct
  tokens of the matched rows — at most ``MAX_TOKENS`` (1000), ``subject_tokens_truncated``
  says when more matched — go into ``comparison.completed`` (and ``.failed`` /
  ``.aborted``) as ``subject_tokens``, and the column is dropped before anything is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator

import pyarrow as pa
from sqlalchemy import Engine

from audit.sink import AuditSink
from catalog.errors import RateLimited, TooLarge
from gateway.core.seams import UsageLimiter
from gateway.core.services import Services
from gateway.enforcement.comparison.access import check_keys_alike, keys_granted_by_alias
from gateway.enforcement.comparison.match import SIDES, match, take_subjects
from gateway.enforcement.comparison.run import ComparisonRun
from gateway.enforcement.comparison.schemas import ComparisonBody
from gateway.enforcement.query.broker import Broker
from gateway.enforcement.query.context import Origin, QueryRequest
from gateway.enforcement.query.delivery import Books, Chunk, Delivery
from gateway.enforcement.query.formats import make_encoder
from gateway.enforcement.query.plan import QUOTA_USED_UP, SideOverrides
from gateway.enforcement.query.run import QueryRun
from gateway.enforcement.query.schemas import QueryBody
from policies.decision import UserContext

__all__ = ["Comparer", "ComparisonRun", "match"]


class Comparer:
    """Prepares and runs comparisons; one per gateway process, beside the broker."""

    def __init__(
        self, broker: Broker, *, catalog: Engine, audit: AuditSink, limiter: UsageLimiter,
        max_side_rows: int,
    ) -> None:  # fmt: skip
        self.broker = broker
        self.catalog = catalog
        self.audit = audit
        self.limiter = limiter
        self.max_side_rows = max_side_rows

    @classmethod
    def from_services(cls, broker: Broker, services: Services) -> Comparer:
        return cls(broker, catalog=services.engine, audit=services.audit,
                   limiter=services.limiter,
                   max_side_rows=services.settings.comparison_max_side_rows)  # fmt: skip

    def prepare(self, *, user: UserContext, body: ComparisonBody, origin: Origin) -> ComparisonRun:
        """Both sides prepared (each on record as started), the matches reserved, and
        ``comparison.started`` submitted; a refusal of either side refuses it all, and a
        side already started is recorded as failed."""
        prepared: list[QueryRun] = []
        reserved = 0
        try:
            for label in SIDES:
                prepared.append(self._side(user, body, label, origin))
            left, right = prepared
            entries = {"left": left.ctx.entry.id, "right": right.ctx.entry.id}
            with self.catalog.connect() as conn:
                granted, surely = keys_granted_by_alias(conn, user.subject, entries, self.audit)
            check_keys_alike([("left", body.left.key, "right", body.right.key)],
                             {"left": left.decision, "right": right.decision},
                             granted, surely)  # fmt: skip
            reserved = self._reserve(user, body, left, right)
        except Exception as exc:
            self.limiter.release_rows(user.subject, reserved)
            for q in prepared:  # their starts are on record: so is the refusal
                q.fail(exc)
            raise
        run = ComparisonRun(
            books=Books(audit=self.audit, limiter=self.limiter, in_flight=self.broker.in_flight),
            comparison_id="cmp_" + uuid.uuid4().hex[:20], user=user, body=body,
            sides=(left, right), origin=origin, reserved=reserved, subjects=self.broker.subjects,
        )  # fmt: skip
        try:
            run.record_start()
        except Exception as exc:  # the audit log refused: fail closed, sides on record
            self.limiter.release_rows(user.subject, reserved)
            for q in run.sides:
                q.fail(exc)
            raise
        return run

    def _side(
        self, user: UserContext, body: ComparisonBody, label: str, origin: Origin
    ) -> QueryRun:
        spec = body.left if label == "left" else body.right
        query = QueryBody(
            fields=list(dict.fromkeys([spec.key, *spec.fields])), where=spec.where,
            purpose=body.purpose, case_ref=body.case_ref,
        )  # fmt: skip
        side_origin = Origin(request_id=f"{origin.request_id}.{label}", client=origin.client,
                             client_request_id=origin.client_request_id)  # fmt: skip
        return self.broker.prepare(
            QueryRequest(user=user, dataset_id=spec.dataset, body=query, origin=side_origin),
            side=SideOverrides(label=label, key=spec.key, max_rows=self.max_side_rows),
        )

    def _reserve(self, user: UserContext, body: ComparisonBody, left: QueryRun,
                 right: QueryRun) -> int:  # fmt: skip
        """The matches to be sent, reserved atomically before any side is read."""
        remaining = self.limiter.remaining_rows(user.subject)
        caps = [left.decision.max_rows, right.decision.max_rows, remaining]
        limit = min([*caps, body.limit] if body.limit else caps)
        reserved = self.limiter.reserve_rows(user.subject, limit) if limit > 0 else 0
        if reserved <= 0:
            raise RateLimited(QUOTA_USED_UP)
        return reserved

    def check_still_allowed(
        self, run: ComparisonRun, user: UserContext, seen: int, *, user_at: int | None = None
    ) -> int:
        """The matches in flight are governed as a query's result is, side by side
        (``Broker.check_still_allowed``, the one re-check): once either entry is frozen,
        or policy would no longer release a side as it was read — a revoked grant, a
        narrowed jurisdiction, a lowered clearance, a role removed — it raises. ``seen``:
        the catalog generation last checked; returns the one read (``user_at``: as the
        broker's)."""
        generation = seen
        for q in run.sides:  # each against ``seen``: the first's read must not skip the other
            generation = self.broker.check_still_allowed(q, user, seen, user_at=user_at)
        return generation

    def run(self, run: ComparisonRun, *, fmt: str, bom: bool = False) -> Delivery:
        """The matches as a ``Delivery`` (the response reports what was sent and ends
        it); nothing is yielded before ``comparison.started`` is durable, and every
        side's outcome is recorded."""
        return Delivery(run, lambda: self.produce(run, fmt, bom))

    def produce(self, run: ComparisonRun, fmt: str, bom: bool) -> Generator[Chunk, None, None]:
        try:
            tables = [self._read_side(run, label, q)
                      for label, q in zip(SIDES, run.sides, strict=True)]  # fmt: skip
            joined, run.truncated = match(
                tables[0], run.body.left.key, tables[1], run.body.right.key, limit=run.limit
            )
            run.matches = joined.num_rows
            joined, run.subject_tokens, run.subject_tokens_truncated = take_subjects(joined)
            for chunk in self._encode(run, joined, fmt, bom):
                run.wait_started()  # fail closed: no record of the start, no data
                yield chunk
        except Exception as exc:
            run.fail(exc)
            raise

    def _read_side(self, run: ComparisonRun, label: str, q: QueryRun) -> pa.Table:
        """One side, whole; more rows than the ceiling is a 413, never a silent cut."""
        try:  # ``collect`` records its own outcome, failed or completed
            table, cut = q.collect({"comparison_id": run.comparison_id, "side": label,
                                    "delivered": False})  # fmt: skip
        finally:
            run.finished.add(label)
        if cut:
            raise TooLarge(
                f"the {label} side ({q.ctx.entry.id}) has more than {self.max_side_rows} rows; "
                "narrow it with 'where' (a partial comparison would hide matches)"
            )
        run.rows_read[label] = table.num_rows
        return table

    def _encode(self, run: ComparisonRun, joined: pa.Table, fmt: str, bom: bool) -> Iterator[Chunk]:
        encoder = make_encoder(fmt, bom=bom, cut=lambda: run.truncated)  # matched: known
        header = {
            "comparison_id": run.comparison_id,
            "columns": run.output_columns(),
            "sides": run.sides_header(),
        }
        yield encoder.begin(joined.schema, header), 0
        pending = 0
        for batch in joined.to_batches(max_chunksize=32_768):
            chunk = encoder.batch(batch)
            pending += batch.num_rows
            if chunk:
                yield chunk, pending
                pending = 0
        yield encoder.end({"truncated": run.truncated, "row_count": joined.num_rows}), pending
