"""One started comparison: its two started sides, and its own one end.

A comparison ends like a query (``delivery.Started``: once, durably when it failed or
was aborted, the unsent matches given back to the quota); what it adds is that its
sides end with it — a side still open when the comparison fails or is aborted gets the
same end, so no side's ``query.started`` is left without one.
"""

from __future__ import annotations

from collections.abc import Mapping

from audit.event_types import EventType, Outcome
from audit.records import Actor, AuditEvent, comparison_event
from audit.records import Delivery as Sent
from audit.sink import AppendInFlight
from gateway.enforcement.comparison.match import KEY_COLUMN, SIDES
from gateway.enforcement.comparison.schemas import ComparisonBody, ComparisonSide
from gateway.enforcement.query.context import Origin
from gateway.enforcement.query.delivery import Books, Started
from gateway.enforcement.query.run import QueryRun, newest_generation
from gateway.enforcement.query.subjects import SubjectTokens
from policies.decision import UserContext


class ComparisonRun(Started):
    """Both sides allowed by policy and on record as started; ``record_start`` puts the
    comparison itself on record. ``limit`` is the matches reserved on the quota."""

    kind = "comparison"

    def __init__(
        self,
        *,
        books: Books,
        comparison_id: str,
        user: UserContext,
        body: ComparisonBody,
        sides: tuple[QueryRun, QueryRun],
        origin: Origin,
        reserved: int,
        subjects: SubjectTokens,
    ) -> None:
        super().__init__(books=books, subject=user.subject, request_id=origin.request_id,
                         reserved=reserved)  # fmt: skip
        self.comparison_id = comparison_id
        self.user = user
        self.body = body
        self.sides = sides
        self.origin = origin
        self.limit = reserved
        self._subjects = subjects
        self._started: AppendInFlight | None = None
        self.finished: set[str] = set()  # sides whose outcome is on record
        self.matches = 0
        self.truncated = False
        self.rows_read: dict[str, int] = {}
        # who was matched: distinct subject tokens of the matched rows (bounded)
        self.subject_tokens: list[str] = []
        self.subject_tokens_truncated = False

    def spec(self, label: str) -> ComparisonSide:
        return self.body.left if label == "left" else self.body.right

    def record_start(self) -> None:
        """Submit ``comparison.started`` (nothing is sent before it is durable)."""
        self._started = self.books.audit.submit(
            self._event(EventType.COMPARISON_STARTED, Outcome.STARTED, sent=Sent(), details={})
        )
        self.on_record()

    def wait_started(self) -> None:
        if self._started is None:  # never: ``Comparer.prepare`` records before it returns
            raise RuntimeError("comparison run before its start was submitted")
        self._started.wait()

    def sides_header(self) -> dict[str, dict[str, object]]:
        """Each side's entry, key, request and decision (the header and every record)."""
        return {
            label: {
                "dataset": q.ctx.entry.id, "key": self.spec(label).key,
                "request_id": q.ctx.origin.request_id, "decision_id": q.decision.decision_id,
                "policy_version": q.decision.policy_version,
            }
            for label, q in zip(SIDES, self.sides, strict=True)
        }  # fmt: skip

    def output_columns(self) -> list[dict[str, object]]:
        """What each output column is and how policy released it."""
        columns: list[dict[str, object]] = [
            {"name": KEY_COLUMN, "action": "mask", "method": "hash"}
        ]
        for label, q in zip(SIDES, self.sides, strict=True):
            key = self.spec(label).key
            columns += [
                {**c, "name": f"{label}.{c['name']}", "dataset": q.ctx.entry.id}
                for c in q.columns
                if c["name"] != key
            ]
        return columns

    # -- what its records say (``Started`` writes them) --

    def _event(
        self, type_: EventType, outcome: Outcome, *, sent: Sent, details: Mapping[str, object]
    ) -> AuditEvent:
        extra = dict(details)
        if self.origin.client_request_id is not None:
            extra["client_request_id"] = self.origin.client_request_id
        left, right = self.sides
        return comparison_event(
            type_=type_, actor=Actor.of(self.user), left_dataset=left.ctx.entry.id,
            right_dataset=right.ctx.entry.id, comparison_id=self.comparison_id,
            sides=self.sides_header(), purpose=self.body.purpose, case_ref=self.body.case_ref,
            request_id=self.origin.request_id, outcome=outcome, client=self.origin.client,
            delivery=sent, details=extra,
        )  # fmt: skip

    def _sent(self) -> dict[str, object]:
        return {"truncated": self.truncated, "rows_read": dict(self.rows_read),
                "matches": self.matches, "bytes_sent": self.ledger.size,
                "rows_reserved": self.reserved,
                **self._subjects.details(self.subject_tokens, self.user,
                                        generation=newest_generation(self.sides)),
                "subject_tokens_truncated": self.subject_tokens_truncated}  # fmt: skip

    def _release(self) -> None:
        """Nothing to give back: each side released its own source slot when its read
        ended."""

    def _counted(self, audit_s: float) -> None:
        """Comparisons are not counted in the broker's query metrics."""

    def _before_end(self, why: str | BaseException) -> None:
        """A side not yet on record as ended ends with the comparison, the same way."""
        for label, q in zip(SIDES, self.sides, strict=True):
            if label in self.finished:
                continue
            if isinstance(why, BaseException):
                q.fail(why)
            else:
                q.abort(why)
