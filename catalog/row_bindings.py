"""Sealed rows bound to their newest record on the audit trail (replays).

A row seal (``catalog.row_seals``, ``catalog.grant_seals``, ``catalog.entry_seals``)
says that a gateway wrote a row's values, not that they are the current ones: whoever
can write the catalog kept a copy of a row (a role line, a user from before a disable,
an approved grant, an entry from before an officer's freeze, a field from before its
steward raised its level, a source from before its steward re-pointed it, a comparison
model from before its owner withdrew its sharing, a schedule from before its deletion),
let an admin, an officer, a steward or an owner change it through the gateway, and
wrote the copy back, seal and all; it verified and governed again (THREAT_MODEL's
replay rows). An entry is bound as one key (``datasets/<id>``): its seal names each of
its fields' seals, so a field written back changes it too. Sources, models and
schedules are one key each (``catalog.source_seals.source_key``,
``catalog.comparison_seals.comparison_key``); a schedule deleted is bound ``removed``.

So every change made through the gateway to such a row puts the row's new state on the
trail first (``catalog.row_bound``, one event per row, its resource ``row:<key>``):
a digest of the seal the row will carry, or that a role line was removed. A sealed row
governs only while its digest is the newest the trail holds for its key; a row with no
such event (written before this check existed, or by the seeding of a new deployment)
keeps the seal's word alone, as console password rows set before digests did
(``gateway.web.console.passwords.PasswordTrail``). The trail is chained, MAC'd under a
key from ``keys/mask.secret``, checkpointed and witnessed, and a binding is read only if
its row verifies as the gateways' at its seq (``gateway.stewardship.row_trail``), so the
insider can neither add a binding nor drop a newer one undetected.

Cost, per process (``RowBindings``): the newest state of each key met is kept; the trail
is asked for one key when a row differs from what is kept or the key was never met
(a fresh process verifies on first use), and for the bindings appended since the last
look before each batch of rows that decides access is read (``refresh``: the head, then
one range read of the events after the last look's head; the identity directory, the
broker's entries and grants and the comparisons' entries do it at most once per catalog
generation, casbin at each reload of its lines). The refresh is
what catches a replay on a replica that never saw the row between the change and the
replay: another replica's change is bound on the trail before it commits. A failed
trail read fails the reader (503), never accepts.

Registered per catalog database, as the seal keys are (``register``); with none
registered (unit tests, tools without a trail) rows are checked by their seals alone.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

REMOVED = "removed"
"""A role line's state once taken away through the gateway, or a schedule's once deleted."""

SETTLE_S = 2.0
"""How long a reader waits for a change in flight to commit or roll back (``settle``)."""
_SETTLE_STEP_S = 0.02
T = TypeVar("T")


class BindingTrail(Protocol):
    """What the bindings read of the audit trail (``gateway.stewardship.row_trail``)."""

    def head(self) -> int:
        """The newest event's sequence number (0 for an empty trail, or when the newest
        row is not the gateways': nothing is skipped on its word)."""

    def newest(self, key: str) -> tuple[int, str | None]:
        """The newest binding of ``key``: (seq, state), or (0, None) if none."""

    def newest_of(self, keys: Sequence[str]) -> dict[str, tuple[int, str | None]]:
        """``newest`` of each of ``keys``, in one read of the trail."""

    def since(self, seq: int) -> Iterable[tuple[int, str, str]]:
        """Every binding after ``seq``, in order: (seq, key, state)."""


def digest(key: str, seal: object) -> str:
    """What the trail keeps of a row's state: a digest of its key and seal."""
    return hashlib.sha256(f"row_bound\n{key}\n{seal}".encode()).hexdigest()


def user_key(subject: str) -> str:
    return f"users/{subject}"


def rule_key(row: Any) -> str:
    """A casbin line's key: its values (a line's seal covers nothing else)."""
    values = [row.ptype, row.v0, row.v1, row.v2, row.v3, row.v4, row.v5]
    return "casbin_rule/" + ", ".join(str(v) for v in values if v is not None)


def grant_key(table: str, request_id: object) -> str:
    return f"{table}/{request_id}"


class RowBindings:
    """One process's view of the bindings on the trail (thread-safe)."""

    def __init__(self, trail: BindingTrail) -> None:
        self._trail = trail
        self._lock = threading.Lock()
        self._known: dict[str, tuple[int, str | None]] = {}
        self._learned: dict[str, float] = {}  # when each key's newest state was first met
        self._seen = trail.head()  # bindings before it are read per key, on first use
        self._token: object = None

    def refresh(self, token: object = None) -> None:
        """Read the bindings appended since the last look. ``token`` (a catalog
        generation): skipped when the last refresh was for the same one."""
        if token is not None and token == self._token:
            return
        with self._lock:
            # the head first: appends become visible in seq order, so every binding up
            # to it is read below, and the next look starts after it rather than after
            # the last binding (red team 17: each look walked every event since that)
            head = self._trail.head()
            for seq, key, state in self._trail.since(self._seen):
                self._learn(key, seq, state)
                self._seen = max(self._seen, seq)
            self._seen = max(self._seen, head)
            self._token = token

    def _learn(self, key: str, seq: int, state: str | None) -> None:
        if key not in self._known or self._known[key][0] < seq:
            if len(self._known) >= 1_000_000:
                self._known.clear()  # met again, each key is read per key once more
                self._learned.clear()
            self._known[key] = (seq, state)
            self._learned[key] = time.monotonic()

    def prefetch(self, keys: Iterable[str]) -> None:
        """Learn the newest state of each of ``keys`` not known yet in one read of the
        trail, for a batch of rows about to be checked: ``current`` read them one key
        at a time (a reader's connection each), and loading the role lines of a new
        gateway made one read per line. The same answers as ``newest``, key by key."""
        with self._lock:
            unknown = [k for k in dict.fromkeys(keys) if k not in self._known]
        if not unknown:
            return
        found = self._trail.newest_of(unknown)
        with self._lock:
            for key in unknown:
                seq, state = found.get(key, (0, None))
                self._learn(key, seq, state)

    def _state(self, key: str) -> str | None:
        with self._lock:
            known = self._known.get(key)
        if known is None:
            seq, state = self._trail.newest(key)
            with self._lock:
                self._learn(key, seq, state)
                known = self._known[key]
        return known[1]

    def current(self, key: str, seal: object) -> bool:
        """Whether a row of ``key`` carrying ``seal`` (verified by the caller) is the
        newest state the trail names for it (or the trail names none). A change in
        flight (bound, not yet committed) makes its row's loaded state not current: the
        readers that decide wait for it (``settle``), a second writer answers 409
        (``gateway.stewardship.row_trail``)."""
        wanted = digest(key, seal)
        state = self._state(key)
        if state is None or hmac.compare_digest(state, wanted):
            return True
        self.refresh()  # a change made elsewhere since the last look (another replica)
        state = self._state(key)
        if state is None or hmac.compare_digest(state, wanted):
            return True
        with self._lock:
            learned = self._learned.get(key, time.monotonic())
        if time.monotonic() - learned < SETTLE_S:
            _SETTLING.young = True  # a change perhaps in flight: ``settle`` waits for it
        return False

    def newest(self, key: str) -> str | None:
        """The newest state the trail names for ``key`` (the trail read first)."""
        self.refresh()
        return self._state(key)


_REGISTRY: dict[str, RowBindings] = {}
_LOCK = threading.Lock()


def _key_of(url: str | URL) -> str:
    return make_url(url).render_as_string(hide_password=True)


def register(url: str | URL, bindings: RowBindings) -> None:
    """The bindings that decide for the catalog database at ``url`` in this process."""
    with _LOCK:
        _REGISTRY[_key_of(url)] = bindings


CoreBinder = Callable[[Session, str, "str | None", "str | None"], None]
_BINDERS: dict[str, CoreBinder] = {}


def register_core_binder(url: str | URL, binder: CoreBinder) -> None:
    """How a Core write to the catalog at ``url`` binds its row in this process (the
    gateway's trail: ``gateway.stewardship.row_trail.install_row_bindings``)."""
    with _LOCK:
        _BINDERS[_key_of(url)] = binder


def bind_core_write(session: Session, key: str, seal: str | None, loaded: str | None) -> None:
    """Bind ``seal``, the state a Core write is about to give the row of ``key`` loaded
    with ``loaded``, through the binder installed for ``session``'s catalog (a
    connection's identity write to its source, made in the enforcement room, which may
    not reach up to the trail's writer); none installed: nothing is bound, as rows are
    then checked by their seals alone."""
    binder = _BINDERS.get(_key_of(session.get_bind().engine.url))
    if binder is not None:
        binder(session, key, seal, loaded)


def bindings_for(bind: Engine | Connection) -> RowBindings | None:
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _REGISTRY.get(_key_of(engine.url))


def prefetch(bind: Engine | Connection, keys: Iterable[str]) -> None:
    """``RowBindings.prefetch`` of ``bind``'s database's bindings (none: nothing to do)."""
    bindings = bindings_for(bind)
    if bindings is not None:
        bindings.prefetch(keys)


Check = Callable[[str, object], bool]


def _always(_key: str, _seal: object) -> bool:
    return True


always_current: Check = _always
"""A ``Check`` that asks nothing of the trail: whether a row's seal verifies, alone."""


_SETTLING = threading.local()
"""``young``: a ``current`` answer of this thread's last ``settle`` read was False for a
binding first met less than ``SETTLE_S`` ago (a change that may still be in flight)."""


def mark_young() -> None:
    """For a ``settle`` reader whose trail is not ``RowBindings`` (the console's password
    rows): this read disagreed with a record less than ``SETTLE_S`` old, perhaps a change
    in flight, so ``settle`` may wait for it."""
    _SETTLING.young = True


def settle(read: Callable[[], T], in_flight: Callable[[T], bool], *,
           wait_s: float = SETTLE_S) -> T:  # fmt: skip
    """``read()``, read again while ``in_flight`` says so, for at most ``wait_s``.

    A change made through the gateway binds the row's new state on the trail just
    before its commit (and binds the old one back if it does not commit). A reader that
    loaded the row in between finds the trail naming a state the row does not carry
    yet — as it would find a row written back behind the gateway — and refused it as
    tampered: a run of a model while its owner saved it, a query while a steward saved
    the entry, every connect while any source was saved (red team 20). A reader whose
    row verifies but is not the newest state the trail names (``in_flight``) reads the
    row again, fresh from the database, and the trail, until they agree — the commit
    landed (the row now carries the bound state) or the change was bound back — and only
    then uses it; a row written back behind the gateway never agrees and is refused
    ``wait_s`` later, as before. Each ``read`` must load the row anew: never accept
    values loaded before the change on the word of a trail that names the new ones.

    Only while the binding that disagrees is young (first met by this process less than
    ``SETTLE_S`` ago, ``RowBindings.current``): a change commits milliseconds after its
    binding, so one known for longer is no change in flight but a row left refused (a
    gateway killed mid-save, a row written back). Every reader of such a row waited the
    2 s, again at each catalog generation, each on a worker thread: an analyst's requests
    held every worker of the gateway (red team 21)."""
    _SETTLING.young = False
    found = read()
    deadline = time.monotonic() + wait_s
    while in_flight(found) and _SETTLING.young and time.monotonic() < deadline:
        time.sleep(_SETTLE_STEP_S)
        _SETTLING.young = False
        found = read()
    return found


def checker(bind: Engine | Connection, *, refresh: bool = True, token: object = None) -> Check:
    """``current`` for a batch of rows about to be read from ``bind``'s database,
    the trail refreshed first (``refresh``; at most once per ``token``). Views that
    decide nothing (the listings' ``sealed``) skip it: a row that differs from what is
    kept still refreshes."""
    bindings = bindings_for(bind)
    if bindings is None:
        return _always
    if refresh:
        bindings.refresh(token)
    return bindings.current
