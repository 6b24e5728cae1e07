"""The policy enforcement point for one query, as a few steps in a fixed order.

1. **resolve** the entry: the catalog generation, then the entry (cached under that
   generation); unknown or draft → 404, frozen by an officer → refused on record;
2. **admit** the request: casbin (may this role query this department's data), the
   request's shape against the entry (400), the rate and the quota left today (429);
3. **authorize**: one Rego decision over the one decision input
   (``authorize.decision_input``, shared with the catalog preview and comparisons):
   fields, masks, rows, limits; a refusal is a ``query.denied`` on record;
4. **plan**: a frozen ``ExecutionPlan`` (``plan.plan_query``, pure), with a comparison
   side's overrides already in it;
5. **start**: the rows the query may send are *reserved* on the daily quota (atomically,
   so parallel requests share what is left), a source slot is taken (per user and per
   source: ``slots``), and ``query.started`` — naming what will run — is submitted;
6. **run** (``run.QueryRun``): nothing is read from the source before step 5, and no
   byte leaves before the start is durable. The source only ever sees fields the
   decision allows or masks.

Every refusal in steps 1–5 is recorded once, from the one ``QueryContext``
(``audit_events.query_record``). Every start ends on record exactly once — completed,
failed or aborted — with the rows, bytes and digest the transport took
(``delivery.Started``); the unsent part of the reservation is released.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

import pyarrow as pa
from sqlalchemy import Connection, Engine

from adapters.base import ANY_TABLE
from audit.event_types import EventType, Outcome
from audit.sink import AuditSink
from catalog.db import reads_engine
from catalog.errors import (
    DatasetFrozen,
    EntryUnsealed,
    Forbidden,
    NotFound,
    RateLimited,
    SourceUnsealed,
    Unavailable,
    audited,
)
from catalog.lazy_connection import LazyConnection
from catalog.source_seals import refuse_unsealed
from gateway.core.seams import UsageLimiter
from gateway.core.services import Services
from gateway.enforcement.grants import granted_fields_anywhere, in_scope, known_rows
from gateway.enforcement.limits import UNRECORDED_MESSAGE, refusal_recorded
from gateway.enforcement.query.aggregate import check_request as check_aggregates
from gateway.enforcement.query.audit_events import query_record
from gateway.enforcement.query.authorize import Standing, decision_input, refusal, released
from gateway.enforcement.query.context import QueryContext, QueryRequest
from gateway.enforcement.query.delivery import Books, Delivery, InFlight
from gateway.enforcement.query.entries import Entry, GenerationCache, load_entry
from gateway.enforcement.query.execute import BrokerMetrics, Reader
from gateway.enforcement.query.generation import catalog_generation
from gateway.enforcement.query.plan import (
    QUOTA_USED_UP,
    ExecutionPlan,
    SideOverrides,
    case_tokens,
    plan_query,
)
from gateway.enforcement.query.run import QueryRun
from gateway.enforcement.query.slots import Slot, StreamSlots
from gateway.enforcement.query.subjects import SubjectTokens
from gateway.enforcement.query.validate import check_names
from gateway.enforcement.sources.lineage_now import freeze_near, frozen_now, reads_now
from gateway.enforcement.sources.objects import (
    FrozenObject,
    SourceView,
    frozen_holding,
    frozen_objects,
    systems_told,
)
from gateway.enforcement.sources.pool import SourcePool
from policies.authorizer import RoleAuthorizer
from policies.decision import Decision, DecisionPoint, UserContext


class Broker:
    """Prepares and runs governed queries; one instance per gateway process.

    Its collaborators are attributes read at each request, never captured elsewhere:
    a start takes the trail and the limiter it will end with (``delivery.Books``)."""

    def __init__(
        self,
        *,
        catalog: Engine,
        authorizer: RoleAuthorizer,
        pdp: DecisionPoint,
        audit: AuditSink,
        limiter: UsageLimiter,
        sources: SourcePool,
        subjects: SubjectTokens,
        slots: StreamSlots,
        max_rows_by_level: Mapping[str, int],
    ) -> None:
        # catalog lookups of a query are reads (same pool as the rest of the catalog)
        self._catalog = reads_engine(catalog)
        self.authorizer = authorizer
        self.pdp = pdp
        self.audit = audit
        self.limiter = limiter
        self.sources = sources
        self.subjects = subjects
        self.slots = slots
        self.max_rows_by_level = dict(max_rows_by_level)
        # both loaded only when the catalog generation moved (see query.entries)
        self.entries: GenerationCache[str, Entry | None] = GenerationCache(512)
        # a user's grants on an entry, live or once, of every purpose and case: a query's
        # decision takes its own case's
        self.grants: GenerationCache[tuple[str, str], tuple[Any, ...]] = GenerationCache(4096)
        # and its plan the fields any grant of theirs released there, on the table or the
        # trail's approvals, whatever became of the rows (``grants_on_trail``: an insider's
        # deleted row, red team 39), or on an entry reading the same data (red team 41)
        self.known: GenerationCache[tuple[str, str], frozenset[str]] = GenerationCache(4096)
        # the frozen entries, and which entry's object each queried entry shares with one
        self.frozen: GenerationCache[str, tuple[FrozenObject, ...]] = GenerationCache(1)
        self.frozen_with: GenerationCache[str, tuple[str | None, bool]] = GenerationCache(512)
        # and whether a source's system has a frozen entry (then what is read is asked)
        self.frozen_near: GenerationCache[str, tuple[bool, bool]] = GenerationCache(512)
        self.metrics = BrokerMetrics()
        self.reader = Reader(sources=sources, subjects=subjects, metrics=self.metrics)
        self.in_flight = InFlight()

    @classmethod
    def from_services(cls, services: Services) -> Broker:
        """The process's broker over its collaborators; ``Services.close`` records what
        is still streaming as aborted (while the audit trail is still open)."""
        settings = services.settings
        broker = cls(
            catalog=services.engine, authorizer=services.authorizer, pdp=services.pdp,
            audit=services.audit, limiter=services.limiter,
            sources=SourcePool(settings=settings, sessions=services.sessions,
                               keyring=services.keyring),
            subjects=SubjectTokens(home=settings.home, sessions=services.sessions),
            slots=StreamSlots(per_source=settings.source_max_connections,
                              per_user=settings.source_max_connections_per_user,
                              wait_s=settings.source_slot_wait_s),
            max_rows_by_level=settings.max_rows_by_level or {},
        )  # fmt: skip
        services.on_close.append(broker.abort_in_flight)
        return broker

    def abort_in_flight(self, reason: str = "shutdown") -> None:
        """Record every started query or comparison still without an end as aborted."""
        self.in_flight.abort_all(reason)

    def close(self) -> None:
        """On shutdown: the in-flight queries on record as aborted, then the pools."""
        self.abort_in_flight("shutdown")
        self.sources.close()

    def books(self) -> Books:
        """Where the next start's end is written and charged."""
        return Books(audit=self.audit, limiter=self.limiter, in_flight=self.in_flight)

    # -- the steps: everything that can refuse happens before any row is read --

    def prepare(self, request: QueryRequest, *, side: SideOverrides | None = None) -> QueryRun:
        """A query allowed, planned and on record as started. ``side``: a comparison's
        side, whose rows are not delivered and so take nothing from the quota (what is
        derived from them and sent is charged)."""
        began = time.perf_counter()
        with LazyConnection(self._catalog) as conn:  # cached entry and grants: none taken
            ctx, generation = self._resolve(conn, request)
            rows_left = self._admit(ctx)
            decision, standing = self._authorize(conn, generation, ctx, rows_left)
            on_trail = side is not None or case_tokens(decision)
            granted = self._granted_elsewhere(conn, generation, ctx, on_trail=on_trail)
        plan = plan_query(ctx, decision, rows_left=rows_left, case_key=self.subjects.case_key,
                          side=side, shift_key=self.subjects.shift_key,
                          granted=granted)  # fmt: skip
        return self._start(ctx, decision, plan, standing, reserve=side is None, began=began)

    def check_still_allowed(
        self, run: QueryRun, user: UserContext, seen: int, *, user_at: int | None = None
    ) -> int:
        """A result in flight is governed by the catalog as it is now (``routes.streaming``
        asks every second): once the entry is frozen, or policy would no longer release
        what is being sent — a lowered clearance, a narrowed jurisdiction, a revoked
        grant, a role removed — it is refused. ``seen``: the catalog generation last
        checked (nothing is decided again while it stands, nor while the policy and the
        grants the last decision counted stand: ``QueryRun.standing``); returns the one
        read.

        ``user_at``: the generation ``user`` was resolved at (``resolve_at``). A change
        that committed between that read and this one was decided here with the identity
        from before it, and the newer generation returned as seen meant it was never
        decided again: an admin's narrowing of the jurisdiction left the download in
        flight to its last row, ``completed`` (seen under load). The older generation is
        returned then, so the next check decides with the identity as it is now."""
        generation = self._still_allowed(run, user, seen)
        return generation if user_at is None else min(generation, user_at)

    def _still_allowed(self, run: QueryRun, user: UserContext, seen: int) -> int:
        ctx = run.ctx
        # asked before a catalog connection is taken: an OPA server's answer (up to its
        # timeout) is not waited for holding one per stream in flight (red team 66)
        policy_version = self.pdp.policy_version
        with self._catalog.connect() as conn:
            generation = catalog_generation(conn)
            if generation == seen and run.standing.holds(policy_version, datetime.now(UTC)):
                return generation
            entry_id = ctx.entry.id
            entry = self.entries.get(generation, entry_id,
                                     lambda: load_entry(conn, entry_id, generation))  # fmt: skip
            if entry is None:  # its rows deleted behind the gateway: nothing is released
                # (red team 65: taken as allowed, the stream went on ungoverned but by the
                # account — a narrowed jurisdiction, a revocation, a freeze unseen)
                raise NotFound(f"no dataset {entry_id!r}")
            _refuse_stopped(entry)
            self._refuse_frozen_object(lambda: conn, generation, entry)
            body = ctx.body
            rows = self._grant_rows(lambda: conn, generation, user.subject, entry.id)
            grant_rows = in_scope(rows, body.purpose, body.case_ref)
        self.authorizer.check(subject=user.subject, domain=entry.department, action="dataset:query")
        now = datetime.now(UTC)
        decision = self.pdp.decide(
            decision_input(user=user, entry=entry.policy_input, body=body, grant_rows=grant_rows,
                           now=now, rows_remaining_today=2**31,
                           max_rows_by_level=self.max_rows_by_level)
        )  # fmt: skip
        if not decision.allow or not still_covers(decision, run.decision, run.plan.limit,
                                                  ctx.used):  # fmt: skip
            raise Forbidden("policy no longer releases this result to you")
        run.standing = Standing.of(decision, grant_rows, now)
        return generation

    def check_not_frozen(self, dataset_id: str) -> None:
        """An officer's freeze governs a result in flight too (``routes.streaming``
        reads it again every second): ``DatasetFrozen`` once the entry is frozen."""
        with self._catalog.connect() as conn:
            generation = catalog_generation(conn)
            entry = self.entries.get(generation, dataset_id,
                                     lambda: load_entry(conn, dataset_id, generation))  # fmt: skip
            if entry is not None:
                _refuse_stopped(entry)
                self._refuse_frozen_object(lambda: conn, generation, entry)

    def _resolve(self, conn: LazyConnection, request: QueryRequest) -> tuple[QueryContext, int]:
        generation = request.generation
        if generation is None:  # read with the caller's identity when it came by HTTP
            generation = catalog_generation(conn())
        dataset_id = request.dataset_id
        entry = self.entries.get(generation, dataset_id,
                                 lambda: load_entry(conn(), dataset_id, generation))  # fmt: skip
        if entry is None or entry.status != "published":
            raise NotFound(f"no dataset {dataset_id!r}")
        ctx = QueryContext(user=request.user, entry=entry, body=request.body,
                           origin=request.origin, generation=generation)  # fmt: skip
        try:  # classified or frozen behind the gateway; an officer's freeze: on record
            _refuse_stopped(entry)
        except (EntryUnsealed, SourceUnsealed, DatasetFrozen) as exc:
            self._deny(ctx, details={"code": exc.code})
            raise audited(exc) from None
        try:  # the same object under an entry published before the freeze
            self._refuse_frozen_object(conn, generation, entry, ask_source=True)
        except DatasetFrozen as exc:
            self._deny(ctx, details={"code": DatasetFrozen.code, "frozen": exc.message})
            raise audited(exc) from None
        return ctx, generation

    def _refuse_frozen_object(
        self, conn: Callable[[], Connection], generation: int, entry: Entry,
        *, ask_source: bool = False,
    ) -> None:  # fmt: skip
        """``DatasetFrozen`` when another entry reading ``entry``'s object is frozen: a
        freeze stops the data, whichever entry reads it — one published before the
        freeze included (red team 10's open row). Nothing is read or compared while no
        entry is frozen (one cached read per catalog generation).
        ``ask_source`` (before a query is served): while an entry of its system is
        frozen, what its object reads is asked of the source now and compared, not the
        generation's answer over its recorded reads — a view redefined over the frozen
        table at the source since its last refresh served the frozen rows (stop 38)."""
        frozen = self.frozen.get(generation, "", lambda: frozen_objects(conn(), self.audit))
        if not frozen:
            return
        source = SourceView(entry.source.id, entry.source.kind, entry.source.settings,
                            entry.source.server_identity, entry.department)  # fmt: skip
        if ask_source and self._freeze_near(generation, frozen, source):  # both, as they are now
            now = frozen_now(frozen, source, lambda f: self._frozen_reads_now(conn, generation, f))
            reads = self._reads_now(entry)
            held = frozen_holding(now, source, entry.id, entry.object_name,
                                  [f.name for f in entry.fields], reads)  # fmt: skip
            _refuse_held(entry.id, held)
            return

        fresh: list[bool] = []

        def holding() -> tuple[str | None, bool]:  # (the frozen entry, whether decided)
            fresh.append(True)
            held = frozen_holding(frozen, source, entry.id, entry.object_name,
                                  [f.name for f in entry.fields], entry.reads)  # fmt: skip
            return held, held is not None or systems_told(frozen, source)

        held, decided = self.frozen_with.get(generation, entry.id, holding)
        if not decided and not fresh:  # reached while a system could not be told: ask again
            held, _ = holding()
        _refuse_held(entry.id, held)

    def _freeze_near(
        self, generation: int, frozen: tuple[FrozenObject, ...], source: SourceView
    ) -> bool:
        """``lineage_now.freeze_near``, kept per source for the catalog generation once
        every system it compared was told (``systems_told``), as ``frozen_with`` is: a
        freeze on another system costs a query one cache read."""
        fresh: list[bool] = []

        def near() -> tuple[bool, bool]:
            fresh.append(True)
            return freeze_near(frozen, source), systems_told(frozen, source)

        found, told = self.frozen_near.get(generation, source.source_id, near)
        return freeze_near(frozen, source) if not (told or fresh) else found

    def _reads_now(self, entry: Entry) -> frozenset[str] | None:
        """What ``entry``'s object reads, asked of its source now (``lineage_now``)
        through the process's pooled adapter (counted: ``BrokerMetrics.lineage_asked``)."""
        self.metrics.lineage_asked += 1
        return reads_now(entry.source.kind, entry.object_name,
                         lambda: self.sources.adapter_for(entry.source), close=False)  # fmt: skip

    def _frozen_reads_now(
        self, conn: Callable[[], Connection], generation: int, frozen: FrozenObject
    ) -> frozenset[str] | None:
        """``_reads_now`` of a frozen entry (loaded once per catalog generation; gone:
        any table)."""
        entry_id = frozen.entry_id
        found = self.entries.get(generation, entry_id,
                                 lambda: load_entry(conn(), entry_id, generation))  # fmt: skip
        return frozenset({ANY_TABLE}) if found is None else self._reads_now(found)

    def _grant_rows(
        self, conn: Callable[[], Connection], generation: int, subject: str, entry_id: str
    ) -> tuple[Any, ...]:
        """``subject``'s grants on the entry, of every purpose and case, live or once
        (``grants.known_rows``: the decision takes the approved ones of its case, the
        plan every field any of them released), read once per catalog generation (their
        expiry is checked on each use)."""
        return self.grants.get(
            generation, (subject, entry_id),
            lambda: known_rows(conn=conn(), subject=subject, dataset_ids=[entry_id],
                               generation=generation),
        )  # fmt: skip

    def _granted_elsewhere(
        self, conn: Callable[[], Connection], generation: int, ctx: QueryContext, *,
        on_trail: bool,
    ) -> frozenset[str]:  # fmt: skip
        """The entry's fields some grant of the caller's releases (or released) in clear,
        in any case, as the table or the trail tells it, on this entry or another reading
        the same data (``grants.granted_fields_anywhere``): the plan masks them with
        tokens of their own where they are masked (``plan.granted_field_key``). Read only
        where the plan uses it (``on_trail``: a comparison side, or a field masked with a
        case's tokens), once per catalog generation."""
        if not on_trail:
            return frozenset()
        subject, entry = ctx.user.subject, ctx.entry.id
        return self.known.get(
            generation, (subject, entry),
            lambda: frozenset(granted_fields_anywhere(
                conn=conn(), subject=subject, dataset_ids=[entry], trail=self.audit,
                generation=generation)[entry]),
        )  # fmt: skip

    def _admit(self, ctx: QueryContext) -> int:
        """Role, request shape, rate: returns the rows left today."""
        subject = ctx.user.subject
        try:  # the rate first: a refusal past it says nothing but that (red team 22)
            self.limiter.hit_request(subject)
        except RateLimited as exc:
            self._deny(ctx, details={"limit": exc.message})
            audited(exc)  # on record: gateway.web.refusals must not record it again
            raise
        try:
            self.authorizer.check(subject=subject, domain=ctx.entry.department,
                                  action="dataset:query")  # fmt: skip
        except Forbidden as exc:  # a role refusal is a denial on record like any other
            self._deny(ctx, details={"role": exc.message})
            audited(exc)  # on record: gateway.web.refusals must not record it again
            raise
        check_names(ctx.body, ctx.entry)
        check_aggregates(ctx.body, ctx.entry)
        try:
            remaining = int(self.limiter.remaining_rows(subject))
            if remaining <= 0:
                raise RateLimited(QUOTA_USED_UP)
        except RateLimited as exc:
            self._deny(ctx, details={"limit": exc.message})
            audited(exc)  # on record: gateway.web.refusals must not record it again
            raise
        return remaining

    def _authorize(
        self, conn: LazyConnection, generation: int, ctx: QueryContext, rows_left: int
    ) -> tuple[Decision, Standing]:
        user, entry, body = ctx.user, ctx.entry, ctx.body
        rows = self._grant_rows(conn, generation, user.subject, entry.id)
        grant_rows = in_scope(rows, body.purpose, body.case_ref)
        now = datetime.now(UTC)
        decision = self.pdp.decide(
            decision_input(user=user, entry=entry.policy_input, body=body, grant_rows=grant_rows,
                           now=now, rows_remaining_today=rows_left,
                           max_rows_by_level=self.max_rows_by_level)
        )  # fmt: skip
        if not decision.allow:
            self._refuse(ctx, decision)
        # (an aggregate counting every row names no field: policy checked visibility)
        if ctx.requested and not released(decision, ctx.requested):
            self._refuse(ctx, decision, "no field is visible")
        return decision, Standing.of(decision, grant_rows, now)

    def _start(
        self, ctx: QueryContext, decision: Decision, plan: ExecutionPlan, standing: Standing,
        *, reserve: bool, began: float,
    ) -> QueryRun:  # fmt: skip
        reserved, slot = self._take(ctx, plan.limit, reserve)
        try:
            run = QueryRun(
                books=self.books(), ctx=ctx, decision=decision, standing=standing,
                plan=plan.within(reserved) if reserve else plan, reserved=reserved, slot=slot,
                reader=self.reader, metrics=self.metrics, started_at=began,
            )  # fmt: skip
            run.record_start()
        except BaseException:
            slot.release()
            self.limiter.release_rows(ctx.user.subject, reserved)
            raise
        return run

    def _take(self, ctx: QueryContext, limit: int, reserve: bool) -> tuple[int, Slot]:
        """Reserve the rows on the quota (atomic: parallel requests share the rest) and
        take a source slot; either refusal is a 429 / 503 and a denial on record."""
        subject = ctx.user.subject
        reserved = self.limiter.reserve_rows(subject, limit) if reserve else 0
        try:
            if reserve and reserved <= 0:
                raise RateLimited(QUOTA_USED_UP)
            slot = self.slots.acquire(ctx.entry.source_id, subject)
        except (RateLimited, Unavailable) as exc:
            self.limiter.release_rows(subject, reserved)
            self._deny(ctx, details={"limit": exc.message})
            audited(exc)  # on record: gateway.web.refusals must not record it again
            raise
        return reserved, slot

    # -- refusals: one record each, from the one context --

    def _deny(
        self, ctx: QueryContext, *, decision: Decision | None = None,
        details: dict[str, object] | None = None,
    ) -> None:  # fmt: skip
        """Every refusal (freeze, role, rate or quota, slot, policy) is a
        ``query.denied`` on record, naming the columns asked for — up to the user's
        refusal budget, past which it is counted (``limits.refusal_recorded``)."""
        told: dict[str, object] = {"columns_requested": list(ctx.requested), **(details or {})}
        if not refusal_recorded(self.limiter, ctx.user.subject, told):
            # counted, not recorded: answered as that alone, never with the refusal's
            # reasons (a flood first, then probes unseen: red team 22)
            raise audited(RateLimited(UNRECORDED_MESSAGE))
        self.audit.append(
            query_record(ctx, EventType.QUERY_DENIED, Outcome.DENIED, decision=decision,
                         details=told)
        )  # fmt: skip

    def _refuse(
        self, ctx: QueryContext, decision: Decision, extra_reason: str | None = None
    ) -> NoReturn:
        self._deny(ctx, decision=decision,
                   details={"reasons_extra": [extra_reason]} if extra_reason else None)  # fmt: skip
        raise audited(refusal(decision, extra_reason))

    # -- running a started query --

    def run(self, q: QueryRun, *, fmt: str, bom: bool = False) -> Delivery:
        """The result as a ``Delivery`` in ``fmt``: whoever sends it reports what the
        transport took and how it ended."""
        return Delivery(q, lambda: q.produce(fmt, bom))

    def collect(self, q: QueryRun, details: Mapping[str, object]) -> tuple[pa.Table, bool]:
        """A started query's rows as one table that is not sent (``QueryRun.collect``)."""
        return q.collect(details)

    def abandon(self, q: QueryRun, exc: BaseException) -> None:
        """A started query that will not run (e.g. the other side of a comparison was
        refused): its start is on record, so is why nothing followed."""
        q.fail(exc)


def still_covers(now: Decision, then: Decision, limit: int, used: Collection[str]) -> bool:
    """Whether ``now`` releases at least what ``then`` did for a result of up to
    ``limit`` rows reading the fields ``used``: as many rows (a raised level lowers the
    cap: red team 65), every field of ``used`` sent in clear still in clear, every masked
    one masked the same way — a field the result never reads changes nothing of it (red
    team 66: a steward's reclassification of one field cut every download of the
    entry, those that never read it too) —, no region
    outside its rows — judged on the same column: rows filtered on another one than the
    entry's region field now are not its region's rows (red team 65) —, and an
    aggregate's groups withheld below as many rows (a raised level raises the threshold:
    red team 66)."""
    if now.max_rows < min(limit, then.max_rows):  # a side's limit is its own, not the cap's
        return False
    if not _suppresses_as_much(now, then):
        return False
    for name, was in then.fields.items():
        if was.action == "deny" or name not in used:
            continue
        now_field = now.fields.get(name)
        if now_field is None:
            return False
        if now_field.action != "allow" and (now_field.action, now_field.method) != (
            was.action, was.method):  # fmt: skip
            return False
    if now.row_filter is None:
        return True
    if then.row_filter is None or now.row_filter.get("field") != then.row_filter.get("field"):
        return False
    prefixes = now.row_filter.get("prefixes") or []
    return all(any(p.startswith(q) for q in prefixes)
               for p in then.row_filter.get("prefixes") or [])  # fmt: skip


def _suppresses_as_much(now: Decision, then: Decision) -> bool:
    """Whether an aggregate answer decided by ``then`` withholds no fewer groups by
    ``now``: its ``min_group_size`` no higher (an answer that is no aggregate: true)."""
    if then.aggregates is None:
        return True
    return now.aggregates is not None and (
        now.aggregates.min_group_size <= then.aggregates.min_group_size
    )


def _refuse_stopped(entry: Entry) -> None:
    """``EntryUnsealed`` for an entry whose row or a field row was written behind the
    gateway (``catalog.entry_seals``: nothing it says governs, its freeze included),
    ``DatasetFrozen`` for an entry an officer froze."""
    if not entry.sealed:
        raise EntryUnsealed(f"dataset {entry.id!r} was changed outside the gateway; "
                            "it serves nothing until its sealed values are restored")  # fmt: skip
    if not entry.source.sealed:  # re-pointed, or its ownership claims rewritten
        raise refuse_unsealed(entry.source.id, None, entry=entry.id)
    if entry.frozen:
        raise DatasetFrozen(f"dataset {entry.id!r} is frozen by a security officer")


def _refuse_held(entry_id: str, held: str | None) -> None:
    """``DatasetFrozen`` when ``held``, the frozen entry reading ``entry_id``'s data."""
    if held is not None:
        raise DatasetFrozen(f"dataset {entry_id!r} reads the same data as {held!r}, "
                            "which a security officer froze")  # fmt: skip
