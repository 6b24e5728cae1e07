"""Runs a comparison: two governed queries, matched on hash tokens of their keys.

Each side is an ordinary governed query prepared by the broker — casbin, the Rego
decision (fields, masks, the user's jurisdiction as row filter), its own durable
``query.started`` — so a comparison can never read what the two queries could not.
What differs, and why:

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

import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pac
import structlog

from catalog.errors import Forbidden, RateLimited, SluiceError, TooLarge
from gateway.enforcement.comparison.schemas import ComparisonBody, ComparisonSide
from gateway.enforcement.query.audit_events import actor
from gateway.enforcement.query.broker import Broker, PreparedQuery
from gateway.enforcement.query.delivery import Chunk, Delivery, Ledger, Once
from gateway.enforcement.query.formats import make_encoder
from gateway.enforcement.query.schemas import QueryBody
from gateway.enforcement.query.subjects import MAX_TOKENS, SUBJECT_COLUMN
from policies.decision import UserContext

log = structlog.get_logger("sluice.comparison")

KEY_COLUMN = "key_token"
SIDES = ("left", "right")


@dataclass
class PreparedComparison:
    """Both sides allowed by policy and on record as started; the comparison too."""

    comparison_id: str
    user: UserContext
    body: ComparisonBody
    sides: tuple[PreparedQuery, PreparedQuery]
    limit: int
    fmt: str
    bom: bool
    client: str | None
    request_id: str
    started_at: float
    started: Any = None  # audit.log.PendingAppend of comparison.started
    finished: set[str] = field(default_factory=set)  # sides whose outcome is on record
    client_request_id: str | None = None
    reserved: int = 0  # the matches' rows reserved on the daily quota
    ledger: Ledger = field(default_factory=Ledger)  # what the transport took
    end: Once = field(default_factory=Once)
    matches: int = 0
    truncated: bool = False
    rows_read: dict[str, int] = field(default_factory=dict)
    # who was matched: distinct subject tokens of the matched rows (bounded)
    subject_tokens: list[str] = field(default_factory=list)
    subject_tokens_truncated: bool = False

    def spec(self, label: str) -> ComparisonSide:
        return self.body.left if label == "left" else self.body.right


class Comparer:
    """Prepares and runs comparisons; one per gateway process, beside the broker."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.services = broker.services

    def prepare(
        self, *, user: UserContext, body: ComparisonBody, fmt: str, bom: bool,
        client: str | None, request_id: str, client_request_id: str | None = None,
    ) -> PreparedComparison:  # fmt: skip
        prepared: list[PreparedQuery] = []
        limiter = self.services.limiter
        reserved = 0
        try:
            for label in SIDES:
                spec = body.left if label == "left" else body.right
                prepared.append(
                    self._side(user, body, spec, label, client, request_id, client_request_id)
                )
            left, right = prepared
            remaining = limiter.remaining_rows(user.subject)
            caps = [left.decision.max_rows, right.decision.max_rows, remaining]
            limit = min([*caps, body.limit] if body.limit else caps)
            # the matches to be sent, reserved atomically before any side is read
            reserved = limiter.reserve_rows(user.subject, limit) if limit > 0 else 0
            if reserved <= 0:
                raise RateLimited("daily row quota used up; it resets at midnight UTC")
        except Exception as exc:
            limiter.release_rows(user.subject, reserved)
            for q in prepared:  # their starts are on record: so is the refusal
                self.broker.abandon(q, exc)
            raise
        pc = PreparedComparison(
            comparison_id="cmp_" + uuid.uuid4().hex[:20], user=user, body=body,
            sides=(left, right), limit=reserved, fmt=fmt, bom=bom, client=client,
            request_id=request_id, started_at=time.perf_counter(),
            client_request_id=client_request_id, reserved=reserved,
        )  # fmt: skip
        try:
            pc.started = self.services.audit.submit(
                self._event(pc, "comparison.started", "started")
            )
        except Exception as exc:  # the audit log refused: fail closed, sides on record
            limiter.release_rows(user.subject, reserved)
            for q in pc.sides:
                self.broker.abandon(q, exc)
            raise
        self.broker.in_flight.add(pc, lambda reason: self._aborted(pc, reason))
        return pc

    def _side(
        self, user: UserContext, body: ComparisonBody, spec: ComparisonSide, label: str,
        client: str | None, request_id: str, client_request_id: str | None,
    ) -> PreparedQuery:  # fmt: skip
        query = QueryBody(
            fields=list(dict.fromkeys([spec.key, *spec.fields])), where=spec.where,
            purpose=body.purpose, case_ref=body.case_ref,
        )  # fmt: skip
        q = self.broker.prepare(
            user=user, dataset_id=spec.dataset, body=query, fmt="arrow", bom=False,
            client=client, request_id=f"{request_id}.{label}", reserve=False,
            client_request_id=client_request_id,
        )  # fmt: skip
        visible = q.output if q.output is not None else [c["name"] for c in q.columns]
        if spec.key not in visible:  # policy refuses a named hidden field; belt and braces
            self.broker.abandon(q, Forbidden("key not visible"))
            raise Forbidden(f"the {label} key {spec.key!r} is not released to you")
        # match on tokens only, whatever policy released: raw keys never leave
        q.masks[spec.key] = "hash"
        q.hash_key = self.broker.subjects.case_key(body.case_ref)
        q.columns = [
            {**c, "action": "mask", "method": "hash"} if c["name"] == spec.key else c
            for c in q.columns
        ]
        q.subject_column = _subject_field(q, spec)
        ceiling = self.services.settings.comparison_max_side_rows
        q.limit = ceiling
        if q.plan.limit is not None:  # one more row than the ceiling tells us it was cut
            q.plan = replace(q.plan, limit=ceiling + 1, offset=0)
        return q

    def run(self, pc: PreparedComparison) -> ComparisonDelivery:
        """The matches as a ``Delivery`` (the response reports what was sent and ends
        it); nothing is yielded before ``comparison.started`` is durable, and every
        side's outcome is recorded."""
        return ComparisonDelivery(self, pc)

    def produce(self, pc: PreparedComparison) -> Generator[Chunk, None, None]:
        tables: list[pa.Table] = []
        try:
            for label, q in zip(SIDES, pc.sides, strict=True):
                try:  # ``collect`` records its own outcome, failed or completed
                    table, cut = self.broker.collect(
                        q, details={"comparison_id": pc.comparison_id, "side": label,
                                    "delivered": False},
                    )  # fmt: skip
                finally:
                    pc.finished.add(label)
                if cut:
                    ceiling = self.services.settings.comparison_max_side_rows
                    raise TooLarge(
                        f"the {label} side ({q.dataset.id}) has more than {ceiling} rows; "
                        "narrow it with 'where' (a partial comparison would hide matches)"
                    )
                tables.append(table)
                pc.rows_read[label] = table.num_rows
            joined, pc.truncated = match(
                tables[0], pc.body.left.key, tables[1], pc.body.right.key, limit=pc.limit
            )
            pc.matches = joined.num_rows
            joined = _take_subjects(pc, joined)
            for chunk in self._encode(pc, joined, pc.truncated):
                pc.started.wait()  # fail closed: no record of the start, no data
                yield chunk
        except Exception as exc:
            self._failed(pc, exc)
            raise

    def _failed(self, pc: PreparedComparison, exc: BaseException) -> None:
        if not isinstance(exc, Exception):
            self._aborted(pc, "cancelled")
            return
        if not pc.end.claim():
            return
        try:
            for label, q in zip(SIDES, pc.sides, strict=True):
                if label not in pc.finished:
                    self.broker.abandon(q, exc)
            error = exc.to_dict() if isinstance(exc, SluiceError) else {"code": "internal"}
            log.warning("comparison_failed", request_id=pc.request_id, error=error.get("code"))
            self.services.audit.append(
                self._event(pc, "comparison.failed", "error", rows=pc.ledger.rows,
                            result_sha256=pc.ledger.sha256(),
                            details={"error": error, **self._sent(pc)})
            )  # fmt: skip
        finally:
            self._settle(pc)

    def _aborted(self, pc: PreparedComparison, reason: str) -> None:
        if not pc.end.claim():
            return
        try:
            for label, q in zip(SIDES, pc.sides, strict=True):
                if label not in pc.finished:
                    self.broker._aborted(q, reason)
            self.services.audit.append(
                self._event(pc, "comparison.aborted", "aborted", rows=pc.ledger.rows,
                            result_sha256=pc.ledger.sha256(), duration_ms=_ms(pc.started_at),
                            details={"reason": reason, **self._sent(pc)})
            )  # fmt: skip
        finally:
            self._settle(pc)

    def _completed(self, pc: PreparedComparison) -> None:
        if not pc.end.claim():
            return
        try:
            self.services.audit.append_nowait(
                self._event(pc, "comparison.completed", "ok", rows=pc.ledger.rows,
                            result_sha256=pc.ledger.sha256(), duration_ms=_ms(pc.started_at),
                            details=self._sent(pc))
            )  # fmt: skip
        finally:
            self._settle(pc)

    def _sent(self, pc: PreparedComparison) -> dict[str, Any]:
        return {"truncated": pc.truncated, "rows_read": dict(pc.rows_read),
                "matches": pc.matches, "bytes_sent": pc.ledger.size,
                "rows_reserved": pc.reserved,
                **self.broker.subjects.details(pc.subject_tokens, pc.user),
                "subject_tokens_truncated": pc.subject_tokens_truncated}  # fmt: skip

    def _settle(self, pc: PreparedComparison) -> None:
        self.broker.in_flight.discard(pc)
        unsent = pc.reserved - pc.ledger.rows
        if unsent > 0:
            try:
                self.services.limiter.release_rows(pc.user.subject, unsent)
            except Exception:  # the record is written; an unreleased rest only over-charges
                log.warning("quota_release_failed", request_id=pc.request_id, rows=unsent)

    def _encode(
        self, pc: PreparedComparison, joined: pa.Table, truncated: bool
    ) -> Iterator[Chunk]:
        encoder = make_encoder(pc.fmt, bom=pc.bom)
        header = {
            "comparison_id": pc.comparison_id,
            "columns": output_columns(pc),
            "sides": self._sides(pc),
        }
        yield encoder.begin(joined.schema, header), 0
        pending = 0
        for batch in joined.to_batches(max_chunksize=32_768):
            chunk = encoder.batch(batch)
            pending += batch.num_rows
            if chunk:
                yield chunk, pending
                pending = 0
        yield encoder.end({"truncated": truncated, "row_count": joined.num_rows}), pending

    def _sides(self, pc: PreparedComparison) -> dict[str, Any]:
        return {
            label: {
                "dataset": q.dataset.id, "key": pc.spec(label).key,
                "request_id": q.request_id, "decision_id": q.decision.decision_id,
                "policy_version": q.decision.policy_version,
            }
            for label, q in zip(SIDES, pc.sides, strict=True)
        }  # fmt: skip

    def _event(
        self, pc: PreparedComparison, type_: str, outcome: str,
        details: dict[str, Any] | None = None, **extra: Any,
    ) -> dict[str, Any]:  # fmt: skip
        left, right = pc.sides
        if pc.client_request_id is not None:
            details = {**(details or {}), "client_request_id": pc.client_request_id}
        return {
            "type": type_,
            "actor": actor(pc.user),
            "resource": f"comparison:{left.dataset.id}+{right.dataset.id}",
            "purpose": pc.body.purpose,
            "case_ref": pc.body.case_ref,
            "client": pc.client,
            "request_id": pc.request_id,
            "outcome": outcome,
            "details": {"comparison_id": pc.comparison_id, "sides": self._sides(pc),
                        **(details or {})},
            **extra,
        }  # fmt: skip


def match(
    left: pa.Table, left_key: str, right: pa.Table, right_key: str, *, limit: int
) -> tuple[pa.Table, bool]:
    """Inner join on the key tokens (a null key matches nothing); columns come out as
    ``key_token``, ``left.<field>``…, ``right.<field>``…, rows ordered by token, cut to
    ``limit`` (and whether it was cut).

    A key shared by many rows on both sides multiplies: two million-row sides on a
    low-cardinality key would join to 10^12 rows. So the join size is counted per token
    first and only the rows that can reach the first ``limit`` matches are joined:
    never much more than ``limit`` rows are materialised.
    """
    sides = []
    for label, table, key in (("left", left, left_key), ("right", right, right_key)):
        names = [KEY_COLUMN if n == key else f"{label}.{n}" for n in table.column_names]
        renamed = table.rename_columns(names)
        index = names.index(KEY_COLUMN)
        sides.append(renamed.set_column(index, KEY_COLUMN, renamed.column(index).cast(pa.string())))
    counts = [
        s.group_by(KEY_COLUMN).aggregate([(KEY_COLUMN, "count")]).rename_columns(
            [KEY_COLUMN, f"n{i}"]
        )
        for i, s in enumerate(sides)
    ]  # fmt: skip
    per_key = counts[0].join(counts[1], keys=KEY_COLUMN, join_type="inner").sort_by(KEY_COLUMN)
    n0, n1 = (per_key.column(n).cast(pa.int64()) for n in ("n0", "n1"))
    products = pac.multiply(n0, n1)
    total = pac.sum(products).as_py() or 0
    truncated = total > limit
    if truncated:  # keep whole keys up to the limit, and of the last key only enough rows
        before = pac.subtract(pac.cumulative_sum(products), products)
        keep = per_key.filter(pac.less(before, limit))
        last = keep.num_rows - 1
        need = limit - before[last].as_py()
        n_right = keep.column("n1")[last].as_py()
        last_key = keep.column(KEY_COLUMN)[last]
        whole = keep.column(KEY_COLUMN).slice(0, last)
        rows = (-(-need // n_right), min(n_right, need))  # left rows, right rows
        sides = [
            pa.concat_tables([
                s.filter(pac.is_in(s.column(KEY_COLUMN), value_set=whole)),
                s.filter(pac.equal(s.column(KEY_COLUMN), last_key)).slice(0, n),
            ])
            for s, n in zip(sides, rows, strict=True)
        ]  # fmt: skip
    joined = sides[0].join(sides[1], keys=KEY_COLUMN, join_type="inner")
    order = [KEY_COLUMN] + [n for s in sides for n in s.column_names if n != KEY_COLUMN]
    joined = joined.select(order).sort_by(KEY_COLUMN).combine_chunks()
    return (joined.slice(0, limit) if truncated else joined), truncated


def _subject_field(q: PreparedQuery, spec: ComparisonSide) -> str | None:
    """The side's field naming people: its key if an ID number, else the first
    ID-number field it reads (None: this side names no one)."""
    ids = {f.name for f in q.dataset.fields if f.pi_category == "id_number"}
    for name in (spec.key, *spec.fields):
        if name in ids:
            return name
    return None


def _take_subjects(pc: PreparedComparison, joined: pa.Table) -> pa.Table:
    """Note the distinct subject tokens of the matched rows (up to ``MAX_TOKENS``, in
    match order) on ``pc`` and return the matches without the token columns."""
    names = [f"{label}.{SUBJECT_COLUMN}" for label in SIDES]
    present = [n for n in names if n in joined.column_names]
    seen: dict[str, None] = {}
    for name in present:
        column = pac.unique(pac.drop_null(joined.column(name).combine_chunks()))
        for token in column.to_pylist():
            if token in seen:
                continue
            if len(seen) >= MAX_TOKENS:
                pc.subject_tokens_truncated = True
                break
            seen[str(token)] = None
    pc.subject_tokens = list(seen)
    return joined.drop_columns(present) if present else joined


def output_columns(pc: PreparedComparison) -> list[dict[str, Any]]:
    """What each output column is and how policy released it."""
    columns: list[dict[str, Any]] = [{"name": KEY_COLUMN, "action": "mask", "method": "hash"}]
    for label, q in zip(SIDES, pc.sides, strict=True):
        key = pc.spec(label).key
        columns += [
            {**c, "name": f"{label}.{c['name']}", "dataset": q.dataset.id}
            for c in q.columns
            if c["name"] != key
        ]
    return columns


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


class ComparisonDelivery(Delivery):
    """A comparison's matches on their way out (see ``gateway.enforcement.query.delivery``)."""

    def __init__(self, comparer: Comparer, pc: PreparedComparison) -> None:
        super().__init__()
        self._comparer = comparer
        self.comparison = pc

    @property
    def ledger(self) -> Ledger:
        return self.comparison.ledger

    def _produce(self) -> Generator[Chunk, None, None]:
        return self._comparer.produce(self.comparison)

    def complete(self) -> None:
        self._comparer._completed(self.comparison)

    def abort(self, reason: str) -> None:
        self._comparer._aborted(self.comparison, reason)

    def fail(self, exc: BaseException) -> None:
        self._comparer._failed(self.comparison, exc)
