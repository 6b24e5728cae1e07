"""The trail side of row bindings (``catalog.row_bindings`` says why): what a change made
through the gateway appends, and how a process reads it back.

Recording: every path that changes a governing row through the gateway calls one of
these before its change commits, beside the event that says what changed — the users'
routes and CLI, the officers' emergency actions (a freeze and its lift too), the
request decisions (``bind_changed``: the user, request and entry rows the session is
about to write, an entry also when only a field of its changes), the role changes
(``bind_line``), a steward's edit, refresh, publication or a source's
deregistration (``bind_until_commit``; ``bind_written`` for ``catalog.service``'s Core
writes; the route, the console or the CLI commits after them), a steward's change or
deregistration of a source, an owner's new version of a comparison model and a
schedule's deletion (``bind_until_commit``), and a connection's identity write to its
source (``catalog.row_bindings.bind_core_write``, through the binder installed here). One
``catalog.row_bound`` event per row, by the gateway itself (``SYSTEM``), its resource
``row:<key>``: ``{"digest": …}``, or ``{"removed": true}`` for a role line taken away or
a schedule deleted.
A row whose seal does not change (a role given rewrites ``users.roles``, which no seal
covers) is not bound again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.attributes import flag_modified

from audit.event_types import EventType
from audit.genuine import ROW_SELECT, genuine_event
from audit.log import AuditLog
from audit.records import Actor, key_event
from audit.signing import EventMac
from audit.sink import AuditSink
from catalog.access_requests import AccessRequest
from catalog.comparison_models import ComparisonModel
from catalog.comparison_schedules import ComparisonSchedule
from catalog.comparison_seals import (
    MODELS,
    SCHEDULES,
    comparison_holds,
    comparison_key,
    comparison_seal,
)
from catalog.entries import stored_entry_current
from catalog.entry_seals import (
    DATASETS,
    dataset_loaded_holds,
    dataset_seal,
    entry_key,
    fields_to_be,
    resealed,
)
from catalog.errors import Conflict, SluiceError, Unavailable
from catalog.grant_seals import ACCESS_REQUESTS, REIDENTIFICATIONS, grant_holds, grant_seal
from catalog.models import Dataset, Field, Source, User
from catalog.reidentifications import ReidentificationRequest
from catalog.row_bindings import (
    REMOVED,
    Check,
    RowBindings,
    bindings_for,
    checker,
    digest,
    grant_key,
    register,
    register_core_binder,
    rule_key,
    user_key,
)
from catalog.row_seals import (
    RULES,
    USERS,
    RowSeals,
    as_loaded,
    restated,
    seals_for,
    user_holds,
    user_seal,
)
from catalog.service import DEREGISTERED
from catalog.source_seals import SOURCES, source_holds, source_key, source_seal
from gateway.stewardship.row_locks import hold_rows
from policies.rbac import role_key

SYSTEM = Actor("gateway", None, ("system",))
_TYPE = EventType.ROW_BOUND.value
_PREFIX = "row:"
_PAGE = 1000
_KEYS_PER_READ = 500  # bound parameters per statement, well under SQLite's limit
_WITH_RESOURCE = "SELECT seq, prev_hash, hash, body, mac, resource FROM audit_events"
FORGED = "forged"
"""The state of a row whose newest binding event is not a gateway's: no seal's digest."""


class AuditBindingTrail:
    """``catalog.row_bindings.BindingTrail`` over the gateway's audit log.

    A binding is believed only if a gateway wrote it at its seq (``_verified``): the
    reader does what the writer and verification do for the chain, one event at a time.
    A row INSERTed by whoever may write the audit store below seq 1 (outside the chain
    verification walks) is no binding (red team 17: it refused an account no change had
    bound, undetected). One at seq 1 or more that is not a gateway's (no MAC, a made-up
    one, a body that is not JSON, an edited event) is evidence: the row it names is
    refused (``FORGED``) until a change through the gateway binds it again; passed over,
    the binding before it governed again (red team 18), and a forged head seals at the
    writer's next append anyway."""

    def __init__(self, audit: AuditLog) -> None:
        self._store = audit.store
        # one reader connection kept between reads (each read opened its own: on
        # PostgreSQL a server process forked and authenticated per binding read, the
        # most frequent connection the suite's profile saw); a read that finds it taken
        # opens one of its own, as before
        self._idle: Any = None
        self._idle_lock = threading.Lock()

    def head(self) -> int:
        rows = self._rows("1 = 1 ORDER BY seq DESC LIMIT 1", [])
        return int(rows[0][0]) if rows and genuine_event(self._store.event_mac, rows[0]) else 0

    def newest(self, key: str) -> tuple[int, str | None]:
        """The newest binding row of ``key``. One that is not a gateway's (edited, or
        forged at seq 1 or more) is evidence and its row is refused (``FORGED``):
        passed over, the binding before it governed again (red team 18)."""
        p = self._store.p
        where = f"type = {p} AND resource = {p} AND seq >= 1 ORDER BY seq DESC LIMIT 1"
        rows = self._rows(where, [_TYPE, _PREFIX + key])
        if not rows:
            return 0, None
        bound = _verified(self._store.event_mac, rows[0])
        if bound is None or bound[0] != key:
            return int(rows[0][0]), FORGED
        return int(rows[0][0]), bound[1]

    def newest_of(self, keys: Sequence[str]) -> dict[str, tuple[int, str | None]]:
        """``newest`` of each of ``keys``, a few hundred per read: the newest binding row
        of each key by the same index columns, judged as ``newest`` judges it."""
        p, found = self._store.p, dict[str, tuple[int, str | None]]()
        for start in range(0, len(keys), _KEYS_PER_READ):
            chunk = list(keys[start : start + _KEYS_PER_READ])
            resources = [_PREFIX + key for key in chunk]
            marks = ", ".join([p] * len(resources))
            where = (f"seq IN (SELECT max(seq) FROM audit_events WHERE type = {p} AND "
                     f"resource IN ({marks}) AND seq >= 1 GROUP BY resource)")  # fmt: skip
            for row in self._rows(where, [_TYPE, *resources], select=_WITH_RESOURCE):
                key = str(row[5]).removeprefix(_PREFIX)
                bound = _verified(self._store.event_mac, row[:5])
                found[key] = (int(row[0]), FORGED if bound is None or bound[0] != key
                              else bound[1])  # fmt: skip
        return found

    def since(self, seq: int) -> Iterator[tuple[int, str, str]]:
        p = self._store.p
        after = max(seq, 0)
        while True:
            rows = self._rows(f"type = {p} AND seq > {p} ORDER BY seq ASC LIMIT {_PAGE}",
                              [_TYPE, after], select=_WITH_RESOURCE)  # fmt: skip
            for row in rows:
                bound = _verified(self._store.event_mac, row[:5])
                if bound is not None:
                    yield int(row[0]), bound[0], bound[1]
                elif isinstance(row[5], str) and row[5].startswith(_PREFIX):
                    yield int(row[0]), row[5].removeprefix(_PREFIX), FORGED
            if len(rows) < _PAGE:
                return
            after = int(rows[-1][0])

    def _rows(
        self, where: str, params: list[Any], *, select: str = ROW_SELECT
    ) -> list[tuple[Any, ...]]:
        sql = f"{select} WHERE {where}"
        with self._idle_lock:
            kept, self._idle = self._idle, None
        if kept is not None:
            try:
                return self._keep(kept, self._store.fetch_all(kept, sql, params))
            except self._store.driver_errors:
                kept.close()  # gone while idle (a restarted server): a new one below
        conn = self._store.connect(reader=True)
        try:
            return self._keep(conn, self._store.fetch_all(conn, sql, params))
        except self._store.driver_errors as exc:
            conn.close()
            raise Unavailable(f"audit store failed: {exc}") from exc

    def _keep(self, conn: Any, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``rows``, ``conn`` kept for the next read (or closed if one is kept)."""
        with self._idle_lock:
            if self._idle is None:
                self._idle, conn = conn, None
        if conn is not None:
            conn.close()
        return rows


def _verified(mac: EventMac | None, row: tuple[Any, ...]) -> tuple[str, str] | None:
    """(key, state) of a binding row a gateway wrote at its seq, else None."""
    event = genuine_event(mac, row)
    return None if event is None or event.get("type") != _TYPE else _bound(event)


def _bound(event: dict[str, Any]) -> tuple[str, str] | None:
    """(key, state) of a binding event as its hashed body says it."""
    resource, details = event.get("resource"), event.get("details")
    if not isinstance(resource, str) or not resource.startswith(_PREFIX):
        return None
    if not isinstance(details, dict):
        return None
    if details.get("removed") is True:
        return resource.removeprefix(_PREFIX), REMOVED
    value = details.get("digest")
    return (resource.removeprefix(_PREFIX), value) if isinstance(value, str) else None


def install_row_bindings(url: str, audit: AuditSink) -> None:
    """Bind the catalog at ``url``'s rows to ``audit``'s trail in this process (a
    stand-in trail binds nothing), and the Core writes made below the gateway's rooms
    (``catalog.row_bindings.bind_core_write``) to it too."""
    if isinstance(audit, AuditLog):
        register(url, RowBindings(AuditBindingTrail(audit)))

        def bind(session: Session, key: str, seal: str | None, loaded: str | None) -> None:
            _bind_one(audit, session, key, seal, loaded)

        register_core_binder(url, bind)


def _append(audit: AuditSink, key: str, details: dict[str, object]) -> None:
    audit.append(key_event(type_=EventType.ROW_BOUND, actor=SYSTEM, resource=_PREFIX + key,
                           details=details))  # fmt: skip


def bind_line(audit: AuditSink, *, subject: str, role: str, domain: str, present: bool,
              seals: RowSeals) -> None:  # fmt: skip
    """A role line about to be written (``present``) or removed."""
    line = _Line("g", subject, role_key(role), domain)
    key = rule_key(line)
    if present:
        _append(audit, key, {"digest": digest(key, seals.seal(RULES, line.values()))})
    else:
        _append(audit, key, {"removed": True})


class _Line:
    def __init__(self, ptype: str, v0: str, v1: str, v2: str) -> None:
        self.ptype, self.v0, self.v1, self.v2 = ptype, v0, v1, v2
        self.v3 = self.v4 = self.v5 = None

    def values(self) -> tuple[object, ...]:
        return (self.ptype, self.v0, self.v1, self.v2, self.v3, self.v4, self.v5)


_Bound = tuple[str, str, str | None]  # key, new seal, the loaded seal if it was current


# each governing row's class, table and key on the trail
_KEYS: tuple[tuple[type, str, Callable[[Any], str]], ...] = (
    (User, USERS, lambda r: user_key(r.subject)),
    (AccessRequest, ACCESS_REQUESTS, lambda r: grant_key(ACCESS_REQUESTS, r.id)),
    (ReidentificationRequest, REIDENTIFICATIONS, lambda r: grant_key(REIDENTIFICATIONS, r.id)),
    (Dataset, DATASETS, lambda r: entry_key(r.id)),
    (Source, SOURCES, lambda r: source_key(r.id)),
    (ComparisonModel, MODELS, lambda r: comparison_key(MODELS, r.id)),
    (ComparisonSchedule, SCHEDULES, lambda r: comparison_key(SCHEDULES, r.id)),
)


_UNVERSIONED = frozenset({USERS, DATASETS, SOURCES, MODELS, SCHEDULES})


def _key_of(row: Any) -> tuple[str, str] | None:
    for kind, table, key in _KEYS:
        if isinstance(row, kind):
            return key(row), table
    return None


_SEALED: dict[str, tuple[Callable[[RowSeals, Any], bool], Callable[[RowSeals, Any], str]]] = {
    SOURCES: (source_holds, source_seal),
    MODELS: (lambda seals, row: comparison_holds(seals, MODELS, row),
             lambda seals, row: comparison_seal(seals, MODELS, row)),
    SCHEDULES: (lambda seals, row: comparison_holds(seals, SCHEDULES, row),
                lambda seals, row: comparison_seal(seals, SCHEDULES, row)),
}  # fmt: skip


def _sealed_state(seals: RowSeals, check: Check, key: str, table: str, row: Any) -> _Bound | None:
    """``_new_state`` of a source, model or schedule (the ORM hooks seal them as
    ``_SEALED`` does): only a row whose loaded state was current, but for a write that
    ends its release (``_ends_release``: a source's withdrawal, a schedule's deletion,
    which binds it ``removed`` so no state of it runs again), bound either way."""
    holds, seal = _SEALED[table]
    loaded = as_loaded(row)
    held = holds(seals, loaded)
    _refuse_in_flight(check, key, f"{_NAMES[table]} {row.id!r}", loaded.seal, held)
    ends = _ends_release(table, row, loaded)
    deleted = ends and table == SCHEDULES
    new: Callable[[], str] = (lambda: REMOVED) if deleted else (lambda: seal(seals, row))
    if ends and not (held and check(key, loaded.seal)):
        return key, new(), None
    return _changed(check, key, loaded.seal, held, new)


_NAMES = {SOURCES: "source", MODELS: "comparison model", SCHEDULES: "schedule",
          DATASETS: "entry"}  # fmt: skip


def _refuse_in_flight(check: Check, key: str, what: str, loaded: str | None,
                      held: bool) -> None:  # fmt: skip
    """``Conflict`` for a row whose loaded state verified but is not the newest the
    trail names: another request bound its change after this one loaded the row (or
    the row was written back). Written unbound, the change left the row refused for
    everyone, and the other's bind-back on a rollback named a state no longer there
    (red team 19: two steward saves at once, a publication during a save; two new
    versions of one comparison model at once answered 423 "changed outside the
    gateway")."""
    if held and not check(key, loaded):
        raise Conflict(f"{what} was changed by another request since it was read (or "
                       "behind the gateway); load it again")  # fmt: skip


def trail_key(row: Any) -> tuple[str, str] | None:
    """A governing row's key on the trail and its table (None: not bound)."""
    return _key_of(row)


def loaded_holds(seals: RowSeals, table: str, row: Any) -> bool:
    """Whether a source, model or schedule ``row`` verifies under its seal."""
    return _SEALED[table][0](seals, row)


def require_current(session: Session, row: Any) -> None:
    """``_refuse_in_flight`` for a source or comparison model about to be changed, before
    the change's slow work (a connection to the source, a data key, the model's
    compile): the 409 its binding (``_sealed_state``) would answer later (red team 20)."""
    found = _key_of(row)
    if found is None:
        return
    key, table = found
    holds, _seal = _SEALED[table]
    bind, loaded = session.get_bind(), as_loaded(row)
    _refuse_in_flight(checker(bind), key, f"{_NAMES[table]} {row.id!r}", loaded.seal,
                      holds(seals_for(bind), loaded))  # fmt: skip


def hold_current(session: Session, row: Any) -> None:
    """``require_current`` under the row's write lock, held to the commit: right before
    a change puts its record on the trail, so that no other save of the row can make
    its binding 409 after the record (red team 25: ``source.updated`` and
    ``source.deregistered`` were on record ``ok`` for a change refused 409 after them)."""
    found = _key_of(row)
    if found is not None:
        hold_rows(session, [found[0]])
    require_current(session, row)


def require_entry_current(session: Session, dataset: Dataset) -> None:
    """``_refuse_in_flight`` before a Core write of ``dataset`` (a publication), which
    ``bind_written`` would otherwise leave unbound."""
    hold_rows(session, [entry_key(dataset.id)])
    bind = session.get_bind()
    held = dataset_loaded_holds(seals_for(bind), dataset)
    check = checker(bind)
    _refuse_torn(session, check, dataset, held)
    _refuse_in_flight(check, entry_key(dataset.id), f"entry {dataset.id!r}",
                      as_loaded(dataset).seal, held)  # fmt: skip


def _refuse_torn(session: Session, check: Check, dataset: Dataset, held: bool) -> None:
    """``Conflict`` for an entry whose loaded state did not verify (``held`` false) while
    the entry as the database holds it now — read afresh under the entry's write lock,
    which the caller holds — verifies and is the newest state the trail names: the
    session read the row and its fields in two SELECTs, and another save committed
    between them (each statement sees the newest commit: PostgreSQL at READ COMMITTED,
    SQLite outside a write transaction). Taken as a row written back behind the gateway,
    the save bound nothing, left the seal as loaded and wrote its values under it: the
    entry answered 423 ``entry_unsealed`` to everyone until a later save (red team 20,
    under a loaded CPU). An entry that does not verify as it is now (written back behind
    the gateway) is written as before, unbound: refused until an admin's whole save."""
    if not held and stored_entry_current(session.connection(), dataset.id, check):
        raise Conflict(f"entry {dataset.id!r} was changed by another request while it was "
                       "read; load it again")  # fmt: skip


def _entry_state(session: Session, seals: RowSeals, check: Check, row: Dataset) -> _Bound | None:
    """``_new_state`` of an entry: its seal names its fields' (``catalog.entry_seals``),
    so a change to a field changes it too, and binding the entry binds its fields."""
    key, loaded = entry_key(row.id), as_loaded(row).seal
    held = dataset_loaded_holds(seals, row)
    _refuse_torn(session, check, row, held)
    _refuse_in_flight(check, key, f"entry {row.id!r}", loaded, held)
    return _changed(
        check, key, loaded, held, lambda: dataset_seal(seals, row, fields_to_be(seals, row))
    )


def _changed(check: Check, key: str, loaded: str | None, held: bool,
             new: Callable[[], str]) -> _Bound | None:  # fmt: skip
    """The binding of a row whose loaded state (seal ``loaded``) verified (``held``) and
    is the newest the trail names, when its ``new`` state differs; else None."""
    if not (held and check(key, loaded)):
        return None
    state = new()
    return None if state == loaded else (key, state, loaded)


def _new_state(session: Session, seals: RowSeals, check: Check, row: Any) -> _Bound | None:
    """What the write of a governing row binds, if it binds it: a new user, a user the
    admin restates whole (``catalog.row_seals.restate``), or a row whose loaded values
    were current (sealed, and the newest on the trail) and whose seal changes. Not a
    row changed or written back behind the gateway: a routine write to it (a role
    given, a suspension, an ID number set, a revocation) would otherwise make the
    insider's values current (the row stays refused until an admin's whole save, as
    for its seal: ``catalog.row_seals.seal_user_row``)."""
    found = _key_of(row)
    if found is None or (found[1] != USERS and inspect(row).pending):
        return None  # a new request or entry: nothing to replay yet (defaults at insert)
    key, table = found
    if table == DATASETS:
        return _entry_state(session, seals, check, row)
    if table in _SEALED:
        return _sealed_state(seals, check, key, table, row)
    if inspect(row).pending:
        return key, user_seal(seals, row), None
    loaded = as_loaded(row)
    if table == USERS:
        new, holds = user_seal(seals, row), user_holds(seals, loaded)
    else:
        new, holds = grant_seal(seals, table, row), grant_holds(seals, table, loaded)
    current = holds and check(key, loaded.seal)
    if table == USERS and restated(row):
        return key, new, loaded.seal if current else None
    if not current and _ends_release(table, row, loaded):
        return key, new, None
    if new == loaded.seal or not current:
        return None
    return key, new, loaded.seal


_GOING = {USERS: "active", ACCESS_REQUESTS: "approved", REIDENTIFICATIONS: "approved"}
"""The one status of each such row that releases anything (an account served, a grant)."""


def _ends_release(table: str, row: Any, loaded: Any) -> bool:
    """Whether the write ends what its row releases — a schedule deleted, a source
    withdrawn (its tombstone, ``DEREGISTERED``), an account suspended or disabled, a
    grant revoked or a request rejected: such a write binds its state whether the row
    was current or not (changed behind the gateway), so no earlier state of the row is
    current again. Unbound, the trail still named the state before an insider's edit,
    and the insider wrote that state back (``active``, ``approved``, the live source or
    schedule, its old seal) after the steward, admin or officer ended it: the emergency
    action or withdrawal gone with nothing on the trail (red team 53). The state bound
    names a stopped row whose values no row holds under a seal: an account stays
    refused until another admin's ``unsuspend`` and an admin's whole save
    (``restate``), a grant grants nothing, a schedule runs no more."""
    if table == SCHEDULES:
        return row.deleted_at is not None and loaded.deleted_at is None
    if table == SOURCES:
        return DEREGISTERED in (row.settings or {}) and (
            DEREGISTERED not in (loaded.settings or {}))  # fmt: skip
    return table in _GOING and bool(row.status != loaded.status and row.status != _GOING[table])


def _refuse_taken(session: Session, row: Any) -> None:
    """``Conflict`` for a new row whose key another request's commit took since this one
    found it free (read afresh under the row's write lock, which the caller holds): two
    saves of one new user at once put 'user.updated' ok on the trail twice, and the
    second's commit hit the primary key, a 500 (red team 26)."""
    state = inspect(row)
    columns = state.mapper.primary_key
    ident = state.mapper.primary_key_from_instance(row)
    if any(value is None for value in ident):
        return  # a key the flush makes: nobody else's
    found = select(*columns).where(*(c == v for c, v in zip(columns, ident, strict=True)))
    with session.no_autoflush:  # not the new row itself
        taken = session.execute(found).first() is not None
    if taken:
        session.expunge(row)  # nothing of it left in the session
        key = _key_of(row)
        raise Conflict(f"{key[0] if key else row!r} was made by another request meanwhile; "
                       "load it again")  # fmt: skip


@event.listens_for(Session, "transient_to_pending")
def _hold_new(session: Session, row: Any) -> None:
    """A new governing row takes its key's write lock (held to the commit) as it is added
    to the session, and its key is read afresh under it: ``Conflict`` (409) if another
    request's commit took it since this one found it free. Every creation adds its row
    before it puts its record on the trail, so the loser of two creations of one key is
    refused before its record, whichever route made it (red team 26: a source's
    registration, a draft, a comparison model and a user each had the check by hand, or
    only at the binding)."""
    found = _key_of(row)
    if found is None or found[1] not in _UNVERSIONED:
        return  # a request or a re-identification: its compare-and-set is on its status
    hold_rows(session, [found[0]])
    _refuse_taken(session, row)


def bind_changed(audit: AuditSink, session: Session) -> list[_Bound]:
    """Bind the user and request rows ``session`` is about to write (see ``_new_state``);
    returns what was bound. Call it before the commit, and before the change's own
    event (``bound_changes`` also binds the rows back if the commit fails)."""
    with session.no_autoflush:  # read as the coming flush will write them
        written = (*session.new, *session.dirty)
        entries = [r.dataset for r in written if isinstance(r, Field) and r.dataset is not None]
        # an entry once, whether written itself or through a field of its
        rows = list(dict.fromkeys(r for r in (*written, *entries) if _key_of(r) is not None))
        return _bind_rows(audit, session, rows)


def _bind_rows(audit: AuditSink, session: Session, rows: list[Any]) -> list[_Bound]:
    if not rows:
        return []
    # one write at a time of rows whose commit compares nothing (row_locks); requests
    # and re-identifications have their compare-and-set on the status read, and an
    # approval holds its request's lock itself (grants.service.hold_for_approval)
    # (a new row's since it was added: ``_hold_new``)
    hold_rows(session, [found[0] for found in map(_key_of, rows)
                        if found is not None and found[1] in _UNVERSIONED])  # fmt: skip
    bind = session.get_bind()
    seals, check = seals_for(bind), checker(bind)
    bound = []
    for row in rows:
        state = _new_state(session, seals, check, row)
        if state is None:
            continue
        _append(audit, state[0], _state_details(*state[:2]))
        bound.append(state)
        if state[1] == row.seal:
            # an admin's save of a row written back as it was: written all the same,
            # so the catalog generation moves and every process reads the row, and
            # its binding, again
            flag_modified(row, "seal")
    return bound


@contextmanager
def bound_changes(audit: AuditSink, session: Session) -> Iterator[None]:
    """``bind_changed``, then the caller's event and commit. If they fail (a lost
    compare-and-set, the last-admin check at the flush, a trail that refuses), each
    row bound is bound again to the state it was loaded in, when that one was current:
    the row is unchanged, and would otherwise be refused until changed again through
    the gateway. Not a row whose loaded state was not the gateway's."""
    bound = bind_changed(audit, session)
    try:
        yield
    except BaseException:
        _bind_back(audit, session, bound)
        raise


def _state_details(key: str, state: str) -> dict[str, object]:
    return {"removed": True} if state == REMOVED else {"digest": digest(key, state)}


def _bind_back(audit: AuditSink, session: Session, bound: list[_Bound]) -> None:
    """Bind each row back to its loaded state, unless another change bound the row
    since (its binding, not this one, says what the row holds once it commits)."""
    bindings = bindings_for(session.get_bind())
    for key, new, loaded in bound:
        if loaded is None:
            continue
        with suppress(SluiceError):  # the trail refusing: the original error stands
            newest = None if bindings is None else bindings.newest(key)
            if newest is None or newest == _state_details(key, new).get("digest", REMOVED):
                _append(audit, key, {"digest": digest(key, loaded)})


def bind_until_commit(audit: AuditSink, session: Session) -> None:
    """``bind_changed`` for a change whose caller commits later (a steward's edit or
    refresh: the route, the console or the CLI commits it): if the session's transaction
    ends without a commit, each row bound is bound back as ``bound_changes`` does."""
    _unless_committed(audit, session, bind_changed(audit, session))


def bind_written(audit: AuditSink, session: Session, dataset: Dataset, **changes: Any) -> None:
    """Bind the state a Core write of ``catalog.service`` (a publication, a source's
    deregistration) is about to give ``dataset``: ``changes`` to its row as loaded,
    sealed as that write seals them (``catalog.entry_seals.resealed``). As
    ``bind_changed``: only an entry whose loaded state was current, bound back if the
    transaction ends uncommitted. Call it before anything is flushed: the embedded
    trail shares SQLite's one writer with the catalog."""
    hold_rows(session, [entry_key(dataset.id)])  # the check below under the entry's lock
    seal = resealed(session.connection(), dataset, **changes)
    if seal is None:  # loaded across another save's commit: 409, not an unbound write
        _refuse_torn(session, checker(session.get_bind()), dataset, held=False)
    _bind_one(audit, session, entry_key(dataset.id), seal, as_loaded(dataset).seal)


def _bind_one(audit: AuditSink, session: Session, key: str, seal: str | None,
              loaded: str | None) -> None:  # fmt: skip
    """Bind ``seal``, the state a write is about to give a row of ``key`` loaded with
    ``loaded``, if that was current; bound back if the transaction ends uncommitted."""
    hold_rows(session, [key])
    if seal is None or seal == loaded or not checker(session.connection())(key, loaded):
        return
    _append(audit, key, {"digest": digest(key, seal)})
    _unless_committed(audit, session, [(key, seal, loaded)])


def _unless_committed(audit: AuditSink, session: Session, bound: list[_Bound]) -> None:
    if not any(loaded is not None for _key, _new, loaded in bound):
        return
    done = False

    def committed(_session: Session) -> None:
        nonlocal done
        done = True

    def ended(_session: Session, transaction: SessionTransaction) -> None:
        nonlocal done
        if transaction.parent is None and not done:
            done = True
            _bind_back(audit, session, bound)

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_transaction_end", ended)
