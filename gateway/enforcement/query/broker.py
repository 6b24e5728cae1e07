"""The policy enforcement point for one query.

Order matters and is fixed: catalog lookup → casbin (may this role query this
department's data) → Rego decision (fields, masks, rows, limits) → ``query.started``
audit event (fail closed) → push-down to the source → masking → encoding →
``query.completed``. Nothing is read from a source before the started event is on
record, and the source only ever sees fields the decision allows or masks.

Between the decision and the start, two things are taken that the end gives back: the
rows the query may send are *reserved* on the daily quota (atomically, so parallel
requests share what is left), and a connection slot of the source (per user and per
source, never waiting: see ``gateway.enforcement.query.slots``). Every start ends on record exactly
once — completed, failed or aborted — with the rows, bytes and digest the transport
took (``gateway.enforcement.query.delivery``); the unsent part of the reservation is released.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import structlog
from sqlalchemy import Connection

from adapters.arrow_types import schema_for
from adapters.base import Column, Filter, QueryPlan, RowFilter
from catalog.errors import (
    DatasetFrozen,
    Forbidden,
    NotFound,
    RateLimited,
    SluiceError,
    Unavailable,
    audited,
)
from gateway.core.services import Services
from gateway.enforcement.grants import approved_grant_rows, unexpired_grants
from gateway.enforcement.masking import mask_batch
from gateway.enforcement.query.audit_events import query_event
from gateway.enforcement.query.delivery import Chunk, Delivery, InFlight, Ledger, Once
from gateway.enforcement.query.entries import Entry, GenerationCache, catalog_generation, load_entry
from gateway.enforcement.query.formats import make_encoder
from gateway.enforcement.query.schemas import QueryBody
from gateway.enforcement.query.slots import Slot, StreamSlots
from gateway.enforcement.query.subjects import SUBJECT_COLUMN, SubjectTokens
from gateway.enforcement.query.validate import (
    build_filters,
    build_order,
    check_names,
    policy_request,
)
from gateway.enforcement.sources.pool import SourcePool
from policies.decision import Decision, UserContext
from policies.inputs import build_input

log = structlog.get_logger("sluice.broker")

STREAM_BATCH_ROWS = 32_768
# the client's X-Request-Id while one ``prepare`` runs (one thread, start to end), so
# every denial it records carries it beside the gateway's id without threading it
# through each refusal path
_CLIENT_REQUEST_ID: ContextVar[str | None] = ContextVar("client_request_id", default=None)


@dataclass
class BrokerMetrics:
    """Where a process's query time goes, for operators and the bench: time spent in
    the audit calls on the request path (submitting the start, waiting for it to be
    durable, queueing the completion) and in masking. Plain sums, updated without a
    lock: approximate under concurrency, cheap on every query."""

    queries: int = 0
    audit_s: float = 0.0
    mask_s: float = 0.0


@dataclass
class _RunState:
    """What was read (not what was sent: that is the ``Ledger``)."""

    rows: int = 0
    truncated: bool = False
    tokens: list[str] = field(default_factory=list)
    counties: set[str] = field(default_factory=set)  # of the region field, for the alerts


@dataclass
class PreparedQuery:
    """A query that policy has allowed and the audit trail has on record as started."""

    user: UserContext
    dataset: Entry
    body: QueryBody
    decision: Decision
    plan: QueryPlan
    post_filters: list[Filter]
    masks: dict[str, str]
    hash_key: bytes | None
    limit: int
    fmt: str
    bom: bool
    client: str | None
    request_id: str
    started_at: float
    columns: list[dict[str, Any]] = field(default_factory=list)
    started: Any = None  # audit.log.PendingAppend of the query.started event
    output: list[str] | None = None  # columns to send when more were read (token filters)
    client_request_id: str | None = None  # the client's X-Request-Id, kept beside ours
    reserved: int = 0  # rows reserved on the daily quota; what is not sent goes back
    slot: Slot | None = None  # the source connection slot, released when reading ends
    ledger: Ledger = field(default_factory=Ledger)  # what the transport took
    end: Once = field(default_factory=Once)  # the one end event
    progress: _RunState = field(default_factory=_RunState)  # what was read
    # a raw column whose subject tokens ride along as ``SUBJECT_COLUMN`` (a comparison
    # side's: who was matched is known only after the match); never sent
    subject_column: str | None = None


class Broker:
    """Prepares and runs governed queries; one instance per gateway process."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.sources = SourcePool(services)
        # both loaded only when the catalog generation moved (see gateway.enforcement.query.entries)
        self.entries: GenerationCache[str, Entry | None] = GenerationCache(512)
        self.grants: GenerationCache[tuple[str, str, str, str], tuple[Any, ...]] = (
            GenerationCache(4096)
        )
        # catalog lookups of a query are reads: autocommit spares the BEGIN and ROLLBACK
        # round trips a session would add (same pool as the rest of the catalog)
        self._reader = services.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.subjects = SubjectTokens(services)
        self.metrics = BrokerMetrics()
        settings = services.settings
        self.slots = StreamSlots(
            per_source=settings.source_max_connections,
            per_user=settings.source_max_connections_per_user,
            wait_s=settings.source_slot_wait_s,
        )
        self.in_flight = InFlight()
        # Services.close records what is still streaming as aborted (audit still open)
        services.on_close.append(self.abort_in_flight)

    def abort_in_flight(self, reason: str = "shutdown") -> None:
        """Record every started query or comparison still without an end as aborted."""
        self.in_flight.abort_all(reason)

    def close(self) -> None:
        """On shutdown: the in-flight queries on record as aborted, then the pools."""
        self.abort_in_flight("shutdown")
        self.sources.close()

    # -- preparation: everything that can refuse happens before any row is read --

    def prepare(
        self,
        *,
        user: UserContext,
        dataset_id: str,
        body: QueryBody,
        fmt: str,
        bom: bool,
        client: str | None,
        request_id: str,
        client_request_id: str | None = None,
        reserve: bool = True,
    ) -> PreparedQuery:
        """``reserve=False``: rows that will not be delivered (a comparison's sides)
        take nothing from the quota; what is derived from them and sent is charged."""
        token = _CLIENT_REQUEST_ID.set(client_request_id)
        try:
            with self._reader.connect() as conn:
                return self._prepare(
                    conn, user, dataset_id, body, fmt, bom, client, request_id,
                    client_request_id=client_request_id, reserve=reserve,
                )  # fmt: skip
        finally:
            _CLIENT_REQUEST_ID.reset(token)

    def _prepare(
        self,
        conn: Connection,
        user: UserContext,
        dataset_id: str,
        body: QueryBody,
        fmt: str,
        bom: bool,
        client: str | None,
        request_id: str,
        *,
        client_request_id: str | None = None,
        reserve: bool = True,
    ) -> PreparedQuery:
        started_at = time.perf_counter()
        services = self.services
        generation = catalog_generation(conn)
        dataset = self.entries.get(generation, dataset_id, lambda: load_entry(conn, dataset_id))
        if dataset is None or dataset.status != "published":
            raise NotFound(f"no dataset {dataset_id!r}")
        if dataset.frozen:  # an officer's emergency freeze: refused, and on record
            self._record_denial(user, dataset, body, client, request_id,
                                details={"code": DatasetFrozen.code})  # fmt: skip
            raise audited(DatasetFrozen(f"dataset {dataset_id!r} is frozen by a security officer"))
        try:
            services.authorizer.check(
                subject=user.subject, domain=dataset.department, action="dataset:query"
            )
        except Forbidden as exc:  # a role refusal is a denial on record like any other
            self._record_denial(user, dataset, body, client, request_id,
                                details={"role": exc.message})  # fmt: skip
            audited(exc)  # on record: gateway.web.refusals must not record it again
            raise
        check_names(body, dataset)
        remaining = self._check_limits(user, dataset, body, client, request_id)
        now = datetime.now(UTC)
        grant_key = (user.subject, dataset.id, body.purpose or "", body.case_ref or "")
        grant_rows = self.grants.get(generation, grant_key, lambda: approved_grant_rows(
            conn=conn, subject=user.subject, dataset_id=dataset.id, purpose=body.purpose,
            case_ref=body.case_ref,
        ))  # fmt: skip
        grants = unexpired_grants(grant_rows, now)
        request_input = policy_request(body)
        decision_input = build_input(
            user=user,
            dataset=dataset.policy_input,
            request=request_input,
            grants=grants,
            now=now,
            rows_remaining_today=remaining,
            max_rows_by_level=services.settings.max_rows_by_level or None,
        )
        decision = services.pdp.decide(decision_input)
        if not decision.allow:
            self._refuse(user, dataset, body, decision, client, request_id)

        wanted = body.fields or [f.name for f in dataset.fields]
        allowed = [n for n in wanted if _action(decision, n) in ("allow", "mask")]
        if not allowed:
            self._refuse(user, dataset, body, decision, client, request_id, "no field is visible")
        masks = {
            n: decision.fields[n].method or "redact"
            for n in allowed
            if decision.fields[n].action == "mask"
        }
        masked_anywhere = {n for n, fa in decision.fields.items() if fa.action == "mask"}
        pushed, post = build_filters(body, dataset, masked_anywhere)
        # Defence in depth behind the policy: the source only ever filters or sorts on
        # fields the decision releases in clear; masked fields only by token equality.
        for flt in post:
            if _method(decision, flt.field) != "hash" or flt.op != "=":
                raise Forbidden(
                    f"filter on masked field {flt.field!r}: only equality on its hash token"
                )
        for name in [f.field for f in pushed] + [o.field for o in body.orders()]:
            if _action(decision, name) != "allow":
                raise Forbidden(f"filtering or sorting on {name!r} is refused")

        limit = min(body.limit or decision.max_rows, decision.max_rows, max(remaining, 0))
        if limit <= 0:
            raise RateLimited("daily row quota used up; it resets at midnight UTC")
        reserved, slot = self._take(user, dataset, body, client, request_id, limit, reserve)
        limit = reserved if reserve else limit
        try:
            return self._start(
                user, dataset, body, decision, allowed, masks, pushed, post, limit, fmt, bom,
                client, request_id, started_at, client_request_id, reserved, slot,
            )  # fmt: skip
        except BaseException:
            slot.release()
            self.services.limiter.release_rows(user.subject, reserved)
            raise

    def _take(
        self, user: UserContext, dataset: Entry, body: QueryBody, client: str | None,
        request_id: str, limit: int, reserve: bool,
    ) -> tuple[int, Slot]:  # fmt: skip
        """Reserve the rows on the quota (atomic: parallel requests share the rest) and
        take a source slot; either refusal is a 429 / 503 and a denial on record."""
        limiter = self.services.limiter
        reserved = limiter.reserve_rows(user.subject, limit) if reserve else 0
        try:
            if reserve and reserved <= 0:
                raise RateLimited("daily row quota used up; it resets at midnight UTC")
            slot = self.slots.acquire(dataset.source_id, user.subject)
        except (RateLimited, Unavailable) as exc:
            limiter.release_rows(user.subject, reserved)
            self._record_denial(user, dataset, body, client, request_id,
                                details={"limit": exc.message})  # fmt: skip
            audited(exc)  # on record: gateway.web.refusals must not record it again
            raise
        return reserved, slot

    def _start(
        self, user: UserContext, dataset: Entry, body: QueryBody, decision: Decision,
        allowed: list[str], masks: dict[str, str], pushed: list[Filter], post: list[Filter],
        limit: int, fmt: str, bom: bool, client: str | None, request_id: str,
        started_at: float, client_request_id: str | None, reserved: int, slot: Slot,
    ) -> PreparedQuery:  # fmt: skip
        """Build the plan and put the start on record (submitted; ``run`` waits)."""
        services = self.services

        types = {f.name: f.type for f in dataset.fields}
        row_filter = None
        if decision.row_filter:
            row_filter = RowFilter(
                field=decision.row_filter["field"],
                prefixes=tuple(decision.row_filter.get("prefixes") or ()),
            )
        # a token filter on a masked field the caller did not ask to see: read and mask
        # it too, filter, then drop it before encoding
        extra = list(dict.fromkeys(f.field for f in post if f.field not in allowed))
        for name in extra:
            masks[name] = decision.fields[name].method or "redact"
        plan = QueryPlan(
            object_name=dataset.object_name,
            columns=tuple(Column(n, types[n]) for n in [*allowed, *extra]),
            known_columns=tuple(Column(f.name, f.type) for f in dataset.fields),
            filters=tuple(pushed),
            row_filter=row_filter,
            order_by=tuple(build_order(body)),
            # one row more than allowed tells us the result was truncated
            limit=None if post else limit + 1,
            offset=0 if post else body.offset,
            # each batch exists as rows, Arrow, masked Arrow and bytes at once: 32k rows
            # keep a 1,000,000-row stream's peak memory bounded at little throughput cost
            batch_size=STREAM_BATCH_ROWS,
        )
        hash_key = None
        if "hash" in masks.values() or post:
            hash_key = self.subjects.case_key(body.case_ref or "")
        columns = [
            {"name": n, "action": decision.fields[n].action, "method": decision.fields[n].method}
            for n in allowed
        ]
        prepared = PreparedQuery(
            user=user, dataset=dataset, body=body, decision=decision, plan=plan,
            post_filters=post, masks=masks, hash_key=hash_key, limit=limit, fmt=fmt, bom=bom,
            client=client, request_id=request_id, started_at=started_at, columns=columns,
            output=allowed if extra else None, client_request_id=client_request_id,
            reserved=reserved, slot=slot,
        )  # fmt: skip
        # fail closed: the start is committed before any byte leaves (``run`` waits)
        event = self._event(prepared, "query.started", "started")
        t = time.perf_counter()
        prepared.started = services.audit.submit(event)
        self.metrics.audit_s += time.perf_counter() - t
        self.in_flight.add(prepared, lambda reason: self._aborted(prepared, reason))
        return prepared

    def _check_limits(
        self,
        user: UserContext,
        dataset: Entry,
        body: QueryBody,
        client: str | None,
        request_id: str,
    ) -> int:
        """Count the request against the user's rate and return the rows left today;
        an exhausted rate or quota is refused with 429, and the refusal audited."""
        limiter = self.services.limiter
        try:
            limiter.hit_request(user.subject)
            remaining = int(limiter.remaining_rows(user.subject))
            if remaining <= 0:
                raise RateLimited("daily row quota used up; it resets at midnight UTC")
        except RateLimited as exc:
            self._record_denial(user, dataset, body, client, request_id,
                                details={"limit": exc.message})  # fmt: skip
            audited(exc)  # on record: gateway.web.refusals must not record it again
            raise
        return remaining

    def _record_denial(
        self,
        user: UserContext,
        dataset: Entry,
        body: QueryBody,
        client: str | None,
        request_id: str,
        *,
        decision: Decision | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Every refusal (role, rate or quota, policy) is a ``query.denied`` on record."""
        client_request_id = _CLIENT_REQUEST_ID.get()
        if client_request_id is not None:
            details = {**(details or {}), "client_request_id": client_request_id}
        self.services.audit.append(
            query_event(
                type_="query.denied", user=user, dataset_id=dataset.id,
                department=dataset.department, level=dataset.level,
                source_id=dataset.source_id, purpose=body.purpose, case_ref=body.case_ref,
                decision=decision, client=client, request_id=request_id, outcome="denied",
                details=details,
            )
        )

    def _refuse(
        self,
        user: UserContext,
        dataset: Entry,
        body: QueryBody,
        decision: Decision,
        client: str | None,
        request_id: str,
        extra_reason: str | None = None,
    ) -> None:
        reasons = list(decision.reasons) + ([extra_reason] if extra_reason else [])
        self._record_denial(
            user, dataset, body, client, request_id, decision=decision,
            details={"reasons_extra": [extra_reason]} if extra_reason else None,
        )
        details: dict[str, Any] = {"reasons": reasons, "reason_codes": decision.reason_dicts(),
                                   "decision_id": decision.decision_id}  # fmt: skip
        if decision.requires_approval:
            details["requires_approval"] = True
            details["approval_fields"] = list(decision.approval_fields)
            details["how_to_ask"] = (
                "POST /api/v1/access-requests with dataset, fields, purpose, case_ref, "
                "justification and days"
            )
        message = "; ".join(reasons) or "refused by policy"
        raise audited(Forbidden(message, **details))

    def _event(
        self, q: PreparedQuery, type_: str, outcome: str,
        details: dict[str, Any] | None = None, **extra: Any,
    ) -> dict[str, Any]:  # fmt: skip
        if q.client_request_id is not None:  # the client's own id, beside the gateway's
            details = {**(details or {}), "client_request_id": q.client_request_id}
        return query_event(
            type_=type_, user=q.user, dataset_id=q.dataset.id,
            department=q.dataset.department, level=q.dataset.level,
            source_id=q.dataset.source_id, purpose=q.body.purpose,
            case_ref=q.body.case_ref, decision=q.decision, client=q.client,
            request_id=q.request_id, outcome=outcome, details=details, **extra,
        )

    # -- execution: stream, mask, encode, record --

    def run(self, q: PreparedQuery) -> QueryDelivery:
        """The result as a ``Delivery``: whoever sends it reports what the transport
        took and how it ended. Rows may be read and encoded while the ``query.started``
        commit is under way, but no chunk is handed on before that event is durable."""
        return QueryDelivery(self, q)

    def produce(self, q: PreparedQuery) -> Generator[Chunk, None, None]:
        try:
            for chunk in self._encode(q, q.progress):
                self._wait_started(q)  # fail closed: no record of the start, no data
                yield chunk
            self._wait_started(q)
        except Exception as exc:
            self._failed(q, exc)
            raise

    def collect(self, q: PreparedQuery, details: dict[str, Any]) -> tuple[pa.Table, bool]:
        """All of a prepared query's rows, masked, as one table that is *not* sent: the
        input of a comparison. Audited like a query (``details`` says what for); the
        rows are charged to the quota by whoever delivers what is derived from them.
        Returns the table and whether it was cut at the query's limit."""
        state = q.progress
        try:
            batches = list(self._masked(q, state))
            self._wait_started(q)
        except BaseException as exc:
            self._failed(q, exc)
            raise
        self._completed(q, details=details, delivered=False)
        schema = batches[0].schema if batches else _empty_schema(q)
        return pa.Table.from_batches(batches, schema=schema), state.truncated

    def _wait_started(self, q: PreparedQuery) -> None:
        t = time.perf_counter()
        q.started.wait()
        self.metrics.audit_s += time.perf_counter() - t

    def abandon(self, q: PreparedQuery, exc: Exception) -> None:
        """A prepared query that will not run (e.g. the other side of a comparison was
        refused): its start is on record, so is why nothing followed."""
        self._failed(q, exc)

    # -- the one end of each start --

    def _sent(self, q: PreparedQuery) -> dict[str, Any]:
        """What left, beside ``rows`` and ``result_sha256``: the tokens of the rows read,
        masks, truncation, bytes and the quota reservation."""
        return {
            "truncated": q.progress.truncated,
            "masks": q.masks,
            "bytes_sent": q.ledger.size,
            "rows_reserved": q.reserved,
            **self.subjects.details(q.progress.tokens, q.user, q.progress.counties),
        }

    def _failed(self, q: PreparedQuery, exc: BaseException) -> None:
        if not q.end.claim():
            return
        if not isinstance(exc, Exception):  # cancelled, interpreter exit: not an error
            self._record_abort(q, "cancelled")
            return
        error = exc.to_dict() if isinstance(exc, SluiceError) else {"code": "internal"}
        log.warning("query_failed", request_id=q.request_id, error=error.get("code"))
        try:
            self.services.audit.append(
                self._event(q, "query.failed", "error", rows=q.ledger.rows,
                            result_sha256=q.ledger.sha256(), duration_ms=_ms(q.started_at),
                            details={"error": error, **self._sent(q)})
            )  # fmt: skip
            audited(exc)  # on record: gateway.web.refusals must not record it again
        finally:
            self._settle(q)

    def _aborted(self, q: PreparedQuery, reason: str) -> None:
        if q.end.claim():
            self._record_abort(q, reason)

    def _record_abort(self, q: PreparedQuery, reason: str) -> None:
        """Stopped before the end by the client (gone, stalled), a cancellation or the
        server's shutdown: on record with what had been sent, durably."""
        log.info("query_aborted", request_id=q.request_id, reason=reason, rows=q.ledger.rows)
        try:
            self.services.audit.append(
                self._event(q, "query.aborted", "aborted", rows=q.ledger.rows,
                            result_sha256=q.ledger.sha256(), duration_ms=_ms(q.started_at),
                            details={"reason": reason, **self._sent(q)})
            )  # fmt: skip
        finally:
            self._settle(q)

    def _completed(
        self, q: PreparedQuery, *, details: dict[str, Any] | None = None, delivered: bool = True
    ) -> None:
        """``delivered=False``: read for a comparison, not sent (``rows`` is what was
        read, no digest)."""
        if not q.end.claim():
            return
        rows = q.ledger.rows if delivered else q.progress.rows
        # the start is on record; a lost completion reads as "incomplete" in the trail
        event = self._event(
            q, "query.completed", "ok", rows=rows,
            result_sha256=q.ledger.sha256() if delivered else None,
            duration_ms=_ms(q.started_at), details={**self._sent(q), **(details or {})},
        )  # fmt: skip
        t = time.perf_counter()
        try:
            self.services.audit.append_nowait(event)
        finally:
            self._settle(q)
        self.metrics.audit_s += time.perf_counter() - t
        self.metrics.queries += 1

    def _settle(self, q: PreparedQuery) -> None:
        """After the end: off the in-flight list, the source slot back, and the part of
        the reservation that was not sent released (the rest stays charged)."""
        self.in_flight.discard(q)
        if q.slot is not None:
            q.slot.release()
        unsent = q.reserved - q.ledger.rows
        if unsent > 0:
            try:
                self.services.limiter.release_rows(q.user.subject, unsent)
            except Exception:  # the record is written; an unreleased rest only over-charges
                log.warning("quota_release_failed", request_id=q.request_id, rows=unsent)

    def _encode(self, q: PreparedQuery, state: _RunState) -> Iterator[Chunk]:
        """The masked batches, encoded in the requested format, each chunk with the rows
        it completes (rows an encoder holds back count with the chunk that has them)."""
        encoder = make_encoder(q.fmt, bom=q.bom)
        started = False
        pending = 0
        header = {
            "columns": q.columns,
            "decision_id": q.decision.decision_id,
            "policy_version": q.decision.policy_version,
        }
        for batch in self._masked(q, state):
            if not started:
                started = True
                yield encoder.begin(batch.schema, header), 0
            chunk = encoder.batch(batch)
            pending += batch.num_rows
            if chunk:
                yield chunk, pending
                pending = 0
        if not started:
            yield encoder.begin(_empty_schema(q), header), 0
        yield encoder.end({"truncated": state.truncated, "row_count": state.rows}), pending

    def _masked(self, q: PreparedQuery, state: _RunState) -> Iterator[pa.RecordBatch]:
        """Read, mask, filter and cut to the limit; counts into ``state``."""
        try:
            yield from self._read(q, state)
        finally:  # the source connection is back in its pool: so is the slot
            if q.slot is not None:
                q.slot.release()

    def _read(self, q: PreparedQuery, state: _RunState) -> Iterator[pa.RecordBatch]:
        adapter = self.sources.adapter_for(q.dataset.source)
        skip = q.body.offset if q.post_filters else 0
        for raw in adapter.execute(q.plan):
            if state.rows >= q.limit:
                state.truncated = raw.num_rows > 0
                if state.truncated:
                    break
                continue
            state.tokens.extend(self.subjects.collect(raw, q.dataset, len(state.tokens)))
            self.subjects.counties(raw, q.dataset, state.counties)
            if q.subject_column is not None and q.subject_column in raw.schema.names:
                raw = raw.append_column(
                    SUBJECT_COLUMN, self.subjects.column(raw.column(q.subject_column))
                )
            t = time.perf_counter()
            batch = mask_batch(raw, q.masks, hash_key=q.hash_key)
            self.metrics.mask_s += time.perf_counter() - t
            batch = _apply_post_filters(batch, q.post_filters)
            if q.output is not None:
                keep = [SUBJECT_COLUMN] if SUBJECT_COLUMN in batch.schema.names else []
                batch = batch.select([*q.output, *keep])
            if skip:
                cut = min(skip, batch.num_rows)
                batch, skip = batch.slice(cut), skip - cut
            if state.rows + batch.num_rows > q.limit:
                batch = batch.slice(0, q.limit - state.rows)
                state.truncated = True
            state.rows += batch.num_rows
            yield batch
            if state.truncated:
                break


def _action(decision: Decision, name: str) -> str:
    access = decision.fields.get(name)
    return access.action if access is not None else "deny"


def _method(decision: Decision, name: str) -> str | None:
    access = decision.fields.get(name)
    return access.method if access is not None else None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _apply_post_filters(batch: pa.RecordBatch, filters: list[Filter]) -> pa.RecordBatch:
    for flt in filters:
        mask = pc.equal(batch.column(flt.field), pa.scalar(str(flt.value)))
        batch = batch.filter(pc.fill_null(mask, False))
    return batch


def _empty_schema(q: PreparedQuery) -> pa.Schema:
    """The result schema when no batch came back: masked columns are strings."""
    schema = schema_for(q.plan.columns)
    for name in q.masks:
        schema = schema.set(schema.get_field_index(name), pa.field(name, pa.string()))
    if q.output is not None:
        schema = pa.schema([schema.field(name) for name in q.output])
    return schema


class QueryDelivery(Delivery):
    """A governed query's result on its way out (see ``gateway.enforcement.query.delivery``)."""

    def __init__(self, broker: Broker, q: PreparedQuery) -> None:
        super().__init__()
        self._broker = broker
        self.query = q

    @property
    def ledger(self) -> Ledger:
        return self.query.ledger

    def _produce(self) -> Generator[Chunk, None, None]:
        return self._broker.produce(self.query)

    def complete(self) -> None:
        self._broker._completed(self.query)

    def abort(self, reason: str) -> None:
        self._broker._aborted(self.query, reason)

    def fail(self, exc: BaseException) -> None:
        self._broker._failed(self.query, exc)
