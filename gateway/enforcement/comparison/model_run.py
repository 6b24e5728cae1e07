"""One started comparison model run, owed exactly one end on record.

``ModelRun`` ends like a query or an ad-hoc comparison (``delivery.Started``):
``comparison.started`` naming the model version, the engine and every side's request
and decision is durable before the hit list is stored; ``comparison.completed`` records
the hits stored (rows, SHA-256 of the stored bytes, the subject tokens of the people
matched); a failure or a cancel records ``comparison.failed`` / ``comparison.aborted``
and ends every side still open the same way. The hits stored are charged to the
runner's daily row quota; they were reserved before any side was read, and what was not
used is released. ``runs.ModelRunner`` executes it.
"""

from __future__ import annotations

from collections.abc import Mapping

from audit.event_types import EventType, Outcome
from audit.records import Actor, AuditEvent, model_run_event
from audit.records import Delivery as Sent
from audit.sink import AppendInFlight
from catalog.comparison_models import ComparisonRun
from gateway.enforcement.comparison.spec import KEY_COLUMN, CompiledModel
from gateway.enforcement.query.delivery import Books, Started
from gateway.enforcement.query.run import QueryRun, newest_generation
from gateway.enforcement.query.subjects import SubjectTokens
from policies.decision import UserContext

HIT_ID = "hit_id"


class ModelRun(Started):
    """One run's start on record, owed one end; its sides end with it."""

    kind = "comparison"

    def __init__(
        self, *, books: Books, run: ComparisonRun, user: UserContext, model: CompiledModel,
        sides: Mapping[str, QueryRun], reserved: int, subjects: SubjectTokens,
    ) -> None:  # fmt: skip
        super().__init__(books=books, subject=user.subject, request_id=run.request_id,
                         reserved=reserved)  # fmt: skip
        self.run_id = run.id
        self.purpose, self.case_ref, self.engine = run.purpose, run.case_ref, run.engine
        self.schedule_id = run.schedule_id
        self.user = user
        self.model = model
        self.sides = dict(sides)
        self.limit = reserved
        self._subjects = subjects
        self._started: AppendInFlight | None = None
        self.finished: set[str] = set()  # sides whose outcome is on record
        self.rows_read: dict[str, int] = {}
        self.hits = 0
        self.truncated = False
        self.subject_tokens: list[str] = []
        self.subject_tokens_truncated = False
        # the digests of the columns and changes stored with the hits (``recorded_view``)
        self.view_digests: dict[str, str] = {}

    def sides_header(self) -> dict[str, dict[str, object]]:
        return {
            alias: {"dataset": q.ctx.entry.id, "key": self.model.side(alias).key,
                    "request_id": q.ctx.origin.request_id,
                    "decision_id": q.decision.decision_id,
                    "policy_version": q.decision.policy_version,
                    "jurisdiction": list(q.ctx.user.jurisdiction),
                    # the column those prefixes were matched on (None: no row filter)
                    "region_field": (q.decision.row_filter or {}).get("field")}
            for alias, q in self.sides.items()
        }  # fmt: skip

    def output_columns(self) -> list[dict[str, object]]:
        """Each column of the hit list and how policy released it."""
        columns: list[dict[str, object]] = [
            {"name": HIT_ID, "action": "allow", "method": None},
            {"name": KEY_COLUMN, "action": "mask", "method": "hash"},
        ]
        for alias, name in self.model.output:
            released = {c["name"]: c for c in self.sides[alias].columns}[name]
            columns.append({**released, "name": f"{alias}.{name}",
                            "dataset": self.model.side(alias).dataset})  # fmt: skip
        return columns

    def record_start(self) -> None:
        self._started = self.books.audit.submit(
            self._event(EventType.COMPARISON_STARTED, Outcome.STARTED, sent=Sent(), details={})
        )
        self.on_record()

    def wait_started(self) -> None:
        if self._started is None:  # never: the runner records before it reads
            raise RuntimeError("run read before its start was submitted")
        self._started.wait()

    def _event(
        self, type_: EventType, outcome: Outcome, *, sent: Sent, details: Mapping[str, object]
    ) -> AuditEvent:
        return model_run_event(
            type_=type_, actor=Actor.of(self.user), run_id=self.run_id,
            model_id=self.model.model_id, model_version=self.model.version,
            datasets=[s.dataset for s in self.model.sides], sides=self.sides_header(),
            purpose=self.purpose, case_ref=self.case_ref, request_id=self.request_id,
            outcome=outcome, engine=self.engine, delivery=sent, details=details,
        )  # fmt: skip

    def _sent(self) -> dict[str, object]:
        return {"truncated": self.truncated, "rows_read": dict(self.rows_read),
                "matches": self.hits, "bytes_stored": self.ledger.size,
                "rows_reserved": self.reserved, "delivered": False,
                **self._subjects.details(self.subject_tokens, self.user,
                                        generation=newest_generation(self.sides.values())),
                "subject_tokens_truncated": self.subject_tokens_truncated,
                **self.view_digests}  # fmt: skip

    def _release(self) -> None:
        """Each side gave back its source slot when its read ended."""

    def _counted(self, audit_s: float) -> None:
        """Runs are not counted in the broker's query metrics."""

    def _before_end(self, why: str | BaseException) -> None:
        for alias, q in self.sides.items():
            if alias in self.finished:
                continue
            if isinstance(why, BaseException):
                q.fail(why)
            else:
                q.abort(why)
