"""A comparison model's run as a job: its sides governed, its start and end on record
(each run a ``model_run.ModelRun``, ended exactly once).

``ModelRunner`` executes runs on a small thread pool, in this order, for each run:

1. identity read fresh (a suspended analyst's queued run does not start, and a
   running one fails at its next step: the owner is read again at each);
2. the model version compiled against the catalog as it is now;
3. each side prepared by the broker — resolve, admit, authorize, plan with the
   comparison's ``SideOverrides`` (the key replaced by its HMAC token under the case
   key, read whole up to ``comparison_max_side_rows``), its own durable
   ``query.started`` — before any row is read; a field a condition reads must be
   released in clear;
4. the hits reserved on the quota, ``comparison.started`` submitted;
5. each side read (masked, filtered to the runner's jurisdiction), the engine run on
   the governed batches, the hit list stored, the run ended on record.

Cancellation (the owner's, or a shutdown) is checked between every step and inside the
engine; the progress written at each step is also where a cancel asked on another
replica is noticed.

Several replicas on one catalog: every run a runner holds (queued on it or running) is
leased to its process, renewed from one background thread, and the runs of a process
that died are failed as ``interrupted`` (``run_lease``; its sweep also runs at
start-up).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pac
import structlog
from sqlalchemy.orm import Session

from catalog.comparison_models import (
    ComparisonModel,
    ComparisonModelVersion,
    ComparisonRun,
    RunStatus,
)
from catalog.comparison_seals import require_model_sealed
from catalog.errors import Forbidden, RateLimited, TooLarge
from gateway.core.services import Services
from gateway.enforcement.comparison.access import (
    check_keys_alike,
    compile_against_catalog,
    keys_granted_by_alias,
)
from gateway.enforcement.comparison.arrow_engine import ArrowEngine
from gateway.enforcement.comparison.engine import (
    CancelToken,
    ComparisonEngine,
    RunCancelled,
    SourceReadingEngine,
)

# HIT_ID re-exported: the hit-list routes name it from here
from gateway.enforcement.comparison.model_run import HIT_ID as HIT_ID
from gateway.enforcement.comparison.model_run import ModelRun
from gateway.enforcement.comparison.planned import PlannedSide
from gateway.enforcement.comparison.recorded_view import view_digests
from gateway.enforcement.comparison.run_lease import RunLease, worker_id
from gateway.enforcement.comparison.run_service import stored_as_recorded
from gateway.enforcement.comparison.run_store import RunStore, error_body
from gateway.enforcement.comparison.scheduled import compare_with_previous, narrowed
from gateway.enforcement.comparison.spark.engine import SparkEngine
from gateway.enforcement.comparison.spark.sources import SparkSources
from gateway.enforcement.comparison.spec import CompiledModel, CompiledSide, ModelSpec
from gateway.enforcement.query.authorize import action
from gateway.enforcement.query.broker import Broker
from gateway.enforcement.query.context import Origin, QueryRequest
from gateway.enforcement.query.plan import QUOTA_USED_UP, SideOverrides
from gateway.enforcement.query.run import QueryRun
from gateway.enforcement.query.schemas import QueryBody
from gateway.enforcement.query.subjects import MAX_TOKENS, SUBJECT_COLUMN
from policies.decision import UserContext

log = structlog.get_logger("sluice.comparison_runs")


class IdentityResolver(Protocol):
    """The user store as the web layer reads it (``IdentityDirectory``)."""

    def resolve(self, token_user: UserContext) -> UserContext: ...


class ModelRunner:
    """Runs comparison models in the background; one per gateway process."""

    def __init__(
        self, *, broker: Broker, services: Services, identities: IdentityResolver,
        engines: Mapping[str, ComparisonEngine] | None = None, lease_s: float | None = None,
    ) -> None:  # fmt: skip
        settings = services.settings
        self.broker = broker
        self.services = services
        self.identities = identities
        # a registry, not a branch: the Spark engine is one more entry (its session is
        # made on its first run, so naming it here starts no JVM)
        default: list[ComparisonEngine] = [ArrowEngine(),
                                           SparkEngine(master=settings.spark_master,
                                                       sources=SparkSources(services))]  # fmt: skip
        self.engines: dict[str, ComparisonEngine] = dict(engines or {e.name: e for e in default})
        self.default_engine = settings.comparison_engine
        self.max_side_rows = settings.comparison_max_side_rows
        lease = settings.comparison_run_lease_s if lease_s is None else lease_s
        self.store = RunStore(services.sessions, ttl_days=settings.comparison_run_ttl_days,
                              worker=worker_id())  # fmt: skip
        self.lease = RunLease(services.sessions, audit=services.audit, lease_s=lease,
                              worker=self.store.worker, held=self._held)  # fmt: skip
        self._pool = ThreadPoolExecutor(max_workers=settings.comparison_workers,
                                        thread_name_prefix="sluice-compare")  # fmt: skip
        self._lock = threading.Lock()
        self._tokens: dict[str, CancelToken] = {}
        self._closed = False
        # before the broker records what is in flight and the trail closes
        services.on_close.insert(0, self.close)
        self.lease.sweep()
        self.start_heartbeat()

    def _held(self) -> list[str]:
        """The runs this process holds (queued here or running): its lease renews them."""
        with self._lock:
            return list(self._tokens)

    def start_heartbeat(self) -> None:
        """Renew this process's leases and sweep expired ones (``RunLease.start``)."""
        with self._lock:
            if not self._closed:
                self.lease.start()

    def stop_heartbeat(self) -> None:
        """No more renewals: other replicas take this process's runs once the lease
        runs out (what a killed process looks like to them)."""
        self.lease.stop()

    def submit(self, run_id: str) -> None:
        """Queue a run whose row is committed; this process takes its lease."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the comparison runner is closed")
            token = self._tokens[run_id] = CancelToken()
        self.lease.renew([run_id])
        self._pool.submit(self._execute, run_id, token)

    def cancel(self, run_id: str) -> None:
        """Stop a run executing here (a run on another replica sees the flag)."""
        with self._lock:
            token = self._tokens.get(run_id)
        if token is not None:
            token.cancel()

    def close(self) -> None:
        """On shutdown: running runs stop (aborted on record, failed as interrupted),
        queued ones are marked interrupted without starting."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            tokens = dict(self._tokens)
        self.stop_heartbeat()  # the runs below end now; nothing to renew
        for token in tokens.values():
            token.cancel("shutdown")
        self._pool.shutdown(wait=True, cancel_futures=True)
        for run_id in tokens:
            row = self.store.get(run_id)
            if row is not None and not RunStatus(row.status).finished:
                self.store.ended(
                    run_id,
                    RunStatus.FAILED,
                    {"code": "interrupted", "message": "the gateway stopped"},
                )

    def _execute(self, run_id: str, token: CancelToken) -> None:
        try:
            self._run(run_id, token)
        except Exception:  # the run's own handlers recorded it; never lose the thread
            log.exception("comparison_run_crashed", run_id=run_id)
            self.store.ended(run_id, RunStatus.FAILED, {"code": "internal",
                                                       "message": "the run failed"})  # fmt: skip
        finally:
            with self._lock:
                self._tokens.pop(run_id, None)

    def _run(self, run_id: str, token: CancelToken) -> None:
        row = self.store.get(run_id)
        if row is None or row.status != RunStatus.QUEUED:
            return
        if token.cancelled or not self.store.start(run_id):  # cancelled while queued
            if token.cancelled:
                self.store.ended(run_id, RunStatus.CANCELLED)
            return
        try:
            user = narrowed(
                self.identities.resolve(UserContext(row.owner, None, (), "L1")), row.region
            )  # a scheduled run: its county only
            model = self._compile(row)
        except Exception as exc:
            self.store.ended(run_id, RunStatus.FAILED, error_body(exc))
            return
        started = self._prepare(row, user, model, token)
        if started is not None:
            self._execute_started(started, token)

    def _compile(self, row: ComparisonRun) -> CompiledModel:
        with self.services.sessions() as session:
            version = session.get(ComparisonModelVersion, (row.model_id, row.model_version))
            if version is None:
                raise Forbidden(f"model version {row.model_id}@{row.model_version} is gone")
            # rewritten behind the gateway since the run was asked for: it fails
            require_model_sealed(session.get(ComparisonModel, row.model_id), version)
            spec = ModelSpec.model_validate(version.spec)
            model, _ = compile_against_catalog(session, spec, model_id=row.model_id,
                                               version=row.model_version)  # fmt: skip
        return model

    def _prepare(
        self, row: ComparisonRun, user: UserContext, model: CompiledModel, token: CancelToken
    ) -> ModelRun | None:
        """Steps 3 and 4: every side prepared and on record, the hits reserved, the run
        on record as started; any refusal fails the run and ends the sides started."""
        sides: dict[str, QueryRun] = {}
        reserved = 0
        limiter = self.services.limiter
        try:
            for side in model.sides:
                token.check()
                sides[side.alias] = self._side(row, user, side)
                _check_clear(side, sides[side.alias])
            entries = {alias: q.ctx.entry.id for alias, q in sides.items()}
            with self.services.engine.connect() as conn:
                granted, surely = keys_granted_by_alias(
                    conn, user.subject, entries, self.services.audit
                )
            joins = ((j.left, j.left_key, j.right, j.right_key) for j in model.joins)
            decisions = {alias: q.decision for alias, q in sides.items()}
            check_keys_alike(joins, decisions, granted, surely)
            reserved = self._reserve(user, sides)
            run = ModelRun(books=self.broker.books(), run=row, user=user, model=model,
                           sides=sides, reserved=reserved,
                           subjects=self.broker.subjects)  # fmt: skip
            self.store.describe(row.id, columns=run.output_columns(), sides=run.sides_header())
            run.record_start()
        except Exception as exc:
            limiter.release_rows(user.subject, reserved)
            for q in sides.values():  # their starts are on record: so is why nothing followed
                q.abort(exc.reason) if isinstance(exc, RunCancelled) else q.fail(exc)
            cancelled = isinstance(exc, RunCancelled) and exc.reason == "cancelled"
            self.store.ended(row.id, RunStatus.CANCELLED if cancelled else RunStatus.FAILED,
                             None if cancelled else error_body(exc))  # fmt: skip
            return None
        return run

    def _side(self, row: ComparisonRun, user: UserContext, side: CompiledSide) -> QueryRun:
        body = QueryBody(fields=list(side.reads), where=list(side.where), purpose=row.purpose,
                         case_ref=row.case_ref)  # fmt: skip
        origin = Origin(request_id=f"{row.request_id}.{side.alias}")
        return self.broker.prepare(
            QueryRequest(user=user, dataset_id=side.dataset, body=body, origin=origin),
            side=SideOverrides(label=side.alias, key=side.key, max_rows=self.max_side_rows),
        )

    def _reserve(self, user: UserContext, sides: Mapping[str, QueryRun]) -> int:
        """The hits the run may store, reserved before any side is read: the smallest
        row cap of the sides' decisions and what is left of the quota today."""
        limiter = self.services.limiter
        caps = [q.decision.max_rows for q in sides.values()]
        limit = min([*caps, int(limiter.remaining_rows(user.subject))])
        reserved = limiter.reserve_rows(user.subject, limit) if limit > 0 else 0
        if reserved <= 0:
            raise RateLimited(QUOTA_USED_UP)
        return int(reserved)

    def _execute_started(self, run: ModelRun, token: CancelToken) -> None:
        """Step 5, ending the run on record whatever happens."""
        try:
            engine = self.engines[run.engine]
            hits = engine.run(
                run.model, self._inputs(run, engine, token), limit=run.limit, cancel=token,
                progress=lambda f: self._progress(run, token, 0.65 + 0.3 * f),
            )  # fmt: skip
            token.check()
            self._owner_active(run)  # nothing stored for an owner suspended meanwhile
            table, run.subject_tokens, run.subject_tokens_truncated = take_subjects(hits.table)
            table = table.add_column(0, HIT_ID, pa.array(range(1, table.num_rows + 1), pa.int64()))
            run.hits, run.truncated = table.num_rows, hits.truncated
            run.wait_started()  # fail closed: nothing is stored before the start is durable
            if run.end.done:  # a shutdown recorded it as aborted meanwhile
                raise RunCancelled("the gateway stopped", reason="shutdown")
            changes = self._changes(run.run_id, table)
            run.view_digests = view_digests(  # what the completion vouches for beside the hits
                columns=run.output_columns(), changes={"schedule_id": run.schedule_id, **changes}
            )
            stored = self.store.done(run.run_id, hits=table, truncated=hits.truncated,
                                     extra=changes)  # fmt: skip
            if stored is None:  # a cancel (or a recovery) won the race: nothing stored
                raise RunCancelled("the run was cancelled as it completed")
            run.ledger.take(stored[0], table.num_rows)
            run.complete()
        except RunCancelled as exc:
            run.abort(exc.reason)
            self._ended_cancelled(run.run_id, exc)
        except Exception as exc:
            run.fail(exc)
            self.store.ended(run.run_id, RunStatus.FAILED, error_body(exc))

    def _inputs(
        self, run: ModelRun, engine: ComparisonEngine, token: CancelToken
    ) -> dict[str, Any]:
        """Each side read here, or — for an engine that reads the source itself (Spark)
        — handed over prepared and on record, for the engine to read (``planned``)."""
        inputs: dict[str, Any] = {}
        for n, (alias, q) in enumerate(run.sides.items()):
            token.check()
            planned = PlannedSide(
                alias=alias, query=q, audit_key=self.broker.subjects.audit_key,
                max_rows=self.max_side_rows, ended=lambda a, rows: self._side_read(run, a, rows),
                details={"comparison_id": run.run_id, "side": alias, "delivered": False},
            )  # fmt: skip
            if isinstance(engine, SourceReadingEngine) and engine.reads(planned):
                inputs[alias] = planned
                continue
            inputs[alias] = self._read(run, alias, q)
            self._progress(run, token, 0.05 + 0.6 * (n + 1) / len(run.sides))
        return inputs

    @staticmethod
    def _side_read(run: ModelRun, alias: str, rows: int) -> None:
        run.finished.add(alias)
        run.rows_read[alias] = rows

    def _changes(self, run_id: str, table: pa.Table) -> dict[str, object]:
        """A scheduled run's new and disappeared hits (a failure here fails no run)."""
        try:
            return compare_with_previous(self.services.sessions, run_id, table, ttl=self.store.ttl,
                                         vouched=self._vouched)  # fmt: skip
        except Exception:
            log.exception("comparison_run_changes_failed", run_id=run_id)
            return {}

    def _vouched(self, session: Session, run: ComparisonRun) -> bytes:
        """A previous run's stored list, as its completion on the trail names it."""
        return stored_as_recorded(session, run, services=self.services)

    def _ended_cancelled(self, run_id: str, exc: RunCancelled) -> None:
        if exc.reason == "cancelled":
            self.store.ended(run_id, RunStatus.CANCELLED)
        else:
            self.store.ended(run_id, RunStatus.FAILED,
                             {"code": "interrupted", "message": "the gateway stopped"})  # fmt: skip

    def _read(self, run: ModelRun, alias: str, q: QueryRun) -> pa.RecordBatchReader:
        """One side, whole; more rows than the ceiling fails the run (a partial side
        would hide hits)."""
        try:  # ``collect`` records the side's own outcome
            table, cut = q.collect({"comparison_id": run.run_id, "side": alias,
                                    "delivered": False})  # fmt: skip
        finally:
            run.finished.add(alias)
        if cut:
            raise TooLarge(
                f"side {alias!r} ({q.ctx.entry.id}) has more than {self.max_side_rows} rows; "
                "narrow it with 'where' (a partial comparison would hide hits)"
            )
        run.rows_read[alias] = table.num_rows
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())

    def _progress(self, run: ModelRun, token: CancelToken, fraction: float) -> None:
        if self.store.progress(run.run_id, fraction):
            token.cancel()
        token.check()
        self._owner_active(run)

    def _owner_active(self, run: ModelRun) -> None:
        """An officer's suspension (or an admin's disabling) and freeze govern a running
        job too: the owner and the entries are read again at every step, and
        ``AccountDisabled`` or ``DatasetFrozen`` fails the run."""
        self.identities.resolve(UserContext(run.user.subject, None, (), "L1"))
        for q in run.sides.values():
            self.broker.check_not_frozen(q.ctx.entry.id)


def _check_clear(side: CompiledSide, q: QueryRun) -> None:
    """A condition or filter compares values: they must be released in clear."""
    for name in side.condition_fields:
        if action(q.decision, name) != "allow":
            raise Forbidden(f"field {side.alias}.{name} ({side.dataset}) is masked for you: "
                            "a condition compares values in clear")  # fmt: skip


def take_subjects(hits: pa.Table) -> tuple[pa.Table, list[str], bool]:
    """The hits without their subject-token columns, the distinct tokens of the people
    they name (up to ``MAX_TOKENS``, in hit order) and whether there were more."""
    present = [n for n in hits.column_names if n.endswith(f".{SUBJECT_COLUMN}")]
    seen: dict[str, None] = {}
    truncated = False
    for name in present:
        for value in pac.unique(pac.drop_null(hits.column(name).combine_chunks())).to_pylist():
            if value in seen:
                continue
            if len(seen) >= MAX_TOKENS:
                truncated = True
                break
            seen[str(value)] = None
    return (hits.drop_columns(present) if present else hits), list(seen), truncated


def new_request_id() -> str:
    return uuid.uuid4().hex
