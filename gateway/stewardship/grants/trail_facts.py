"""What the approval checks read from the trail, indexed from its verified chain.

``read_tokens`` and ``compared_keys`` refuse an approval on what the requester did
before: the entries their queries read, with the fields delivered as a case's tokens
(``query.started``), and the sides their comparisons matched (``comparison.started``).
They found those events by searching the trail's index columns, which an insider of the
audit database edits without touching a hashed body: dora's reads, re-indexed under
another name, were not found, and her grant was approved (red team 40). So they read
this index instead, which ``audit.follow`` feeds with every body whose chain, hash and
MAC verified, in seq order, whatever the columns say; a trail that does not verify
above what was indexed refuses the approval (503), never approves it.

Kept per requester, as the checks use it: each entry read, with its department as the
newest such event recorded it and the union of the fields read as a case's tokens; and
every ordered pair of sides compared. Memory grows with requesters × entries, not with
the trail. ``dump`` and ``loaded`` carry the same as JSON for a new process to resume
from (``audit.follow_snapshot``); ``SNAPSHOT_VERSION`` moves whenever ``add`` keeps
something else, so an older process's facts are not taken for complete.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from audit.event_types import EventType
from audit.follow import Consumer
from audit.lazy_log import get_logger
from audit.log import AuditLog
from audit.sink import AuditSink
from catalog.errors import SluiceError
from gateway.enforcement.grants_on_trail import dataset_of, department_of
from gateway.enforcement.query.plan import case_keyed

Side = tuple[str, str]  # (entry id, key field)
_QUERY = str(EventType.QUERY_STARTED)
_COMPARISON = str(EventType.COMPARISON_STARTED)
log = get_logger("sluice.audit")


@dataclass
class Read:
    """A requester's queries of one entry: its department as the newest recorded it,
    and every field delivered to them as a case's tokens or pseudonyms."""

    department: str | None = None
    tokens: set[str] = field(default_factory=set)


class ApprovalFacts:
    """The index (``audit.follow.Consumer``): what each requester read and compared."""

    SNAPSHOT_VERSION: ClassVar[int] = 1

    def __init__(self) -> None:
        self.reads: dict[str, dict[str, Read]] = {}
        self.compared: dict[str, set[tuple[Side, Side]]] = {}

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind != _QUERY and kind != _COMPARISON:
            return
        actor = event.get("actor")
        sub = actor.get("sub") if isinstance(actor, dict) else None
        if not isinstance(sub, str):
            return
        if kind == _COMPARISON:
            self.compared.setdefault(sub, set()).update(pairs(event))
            return
        entry = dataset_of(event)
        if entry is not None:
            read = self.reads.setdefault(sub, {}).setdefault(entry, Read())
            read.department = department_of(event)
            read.tokens |= tokens_read(event)

    def dump(self) -> dict[str, Any]:
        """``{"reads": {sub: {entry: [department, [token, ...]]}}, "compared": {sub:
        [[[entry, key], [entry, key]], ...]}}``, sorted (the same facts, the same text)."""
        reads = {sub: {entry: [r.department, sorted(r.tokens)] for entry, r in found.items()}
                 for sub, found in self.reads.items()}  # fmt: skip
        compared = {sub: [[list(a), list(b)] for a, b in sorted(pairs)]
                    for sub, pairs in self.compared.items()}  # fmt: skip
        return {"reads": reads, "compared": compared}

    @classmethod
    def loaded(cls, facts: Any) -> Self:
        """The index ``dump`` described (``TypeError``/``KeyError``/``ValueError`` if not)."""
        made = cls()
        for sub, found in dict(facts["reads"]).items():
            made.reads[str(sub)] = {
                str(entry): Read(None if dept is None else str(dept), {str(t) for t in tokens})
                for entry, (dept, tokens) in dict(found).items()
            }
        for sub, pairs in dict(facts["compared"]).items():
            made.compared[str(sub)] = {_pair(pair) for pair in pairs}
        return made

    def reads_of(self, requester: str) -> dict[str, Read]:
        """A copy of the requester's reads (the index goes on growing after the lock)."""
        found = self.reads.get(requester, {})
        return {entry: Read(r.department, set(r.tokens)) for entry, r in found.items()}

    def compared_by(self, requester: str) -> list[tuple[Side, Side]]:
        """The requester's compared pairs of sides, in a stable order."""
        return sorted(self.compared.get(requester, ()))


@contextmanager
def approval_facts(trail: AuditLog) -> Iterator[ApprovalFacts]:
    """The index, caught up with the trail's head (``TrailBroken`` when it cannot be)."""
    with trail.followers.of(ApprovalFacts).caught_up() as facts:
        yield facts


def _pair(pair: Any) -> tuple[Side, Side]:
    (a_entry, a_key), (b_entry, b_key) = pair
    return (str(a_entry), str(a_key)), (str(b_entry), str(b_key))


def warm_in_background(
    trail: AuditSink, kinds: Sequence[type[Consumer]] = (ApprovalFacts,)
) -> threading.Thread | None:
    """Catch the indexes of ``kinds`` up off the request path
    (``Settings.warm_approval_index``; the app warms the console's password events and
    setters too): the first approval or console request after a start then finds them
    read, instead of waiting, under a follower's lock, for the walk from the snapshot
    (or seq 1) past the console's timeout. A trail that does not verify is logged here
    and refused at the request. None for a sink that is not a readable trail (the
    checks read nothing there)."""
    if not isinstance(trail, AuditLog):
        return None

    def warm() -> None:
        for kind in kinds:
            try:
                with trail.followers.of(kind).caught_up():
                    pass
            except SluiceError as exc:
                log.warning("trail index %s not warmed at start: %s", kind.__name__, exc)

    thread = threading.Thread(target=warm, name="sluice-approval-index", daemon=True)
    thread.start()
    return thread


def tokens_read(event: Mapping[str, Any]) -> set[str]:
    """The fields a ``query.started`` delivered as a case's tokens or pseudonyms."""
    details = event.get("details")
    masks = details.get("masks") if isinstance(details, dict) else None
    if not isinstance(masks, dict):
        return set()
    return {str(name) for name, spec in masks.items()
            if isinstance(spec, str) and case_keyed(spec)}  # fmt: skip


def pairs(event: Mapping[str, Any]) -> Iterator[tuple[Side, Side]]:
    """Every ordered pair of a ``comparison.started``'s sides, as (entry, key): a
    model's joins chain its sides, so a match links each side with every other."""
    details = event.get("details")
    sides = details.get("sides") if isinstance(details, dict) else None
    if not isinstance(sides, dict):
        return
    keyed = [(str(s.get("dataset")), str(s.get("key"))) for s in sides.values()
             if isinstance(s, dict)]  # fmt: skip
    for i, mine in enumerate(keyed):
        for j, other in enumerate(keyed):
            if i != j:
                yield mine, other
