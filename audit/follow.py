"""Following the trail in this process: an index an insider of the audit database cannot
steer, for decisions that must see *every* event of a kind.

A search filters on the trail's index columns (``actor_sub``, ``resource``, ``type``),
which an insider who can write the audit database edits without touching a hashed body:
the event is simply not found (red team 40: an approval check saw no read of the
requester's and approved the grant that decoded her case tokens). A filter on the body's
text is no better: an edited body breaks its MAC, but the search does not return the
row, so nothing checks it. So such a decision reads nothing by a filter: a follower
reads the chain itself, in seq order, each row checked as verification checks it
(``audit.chain.ChainChecker``: seqs without a gap, each prev-hash link, the body's hash,
the seq it names, the gateways' MAC), and hands each verified body to its consumer,
which keeps what its decisions need. The columns are not read at all.

Incremental: the follower remembers where the verified chain ended (seq and hash, the
watermark); every read first verifies the rows appended since and feeds them to the
consumer, then the caller answers from the consumer, under one lock. The first read in
a process walks the whole trail once. A column edited after its row was read changes
nothing; a row deleted, rewritten or forged above the watermark breaks the walk there,
and the read fails closed (``Unavailable``, naming the seq and what failed) — again on
every read, from the same watermark, until the trail verifies (the row put back). A
failure the newest unseal accepted (``SealStore.accepted_below``, what the monitor's
walk passes over too) is passed over: the walk resumes at the next row present, whose
hash and MAC must hold at its seq (its link taken as stored, as ``audit.genuine``
judges a row on its own); the accepted row itself gives the consumer nothing.

Below the watermark, a row deleted or edited later is not read again: the consumer
already holds what it said, so the decision is not blinded (the monitor's sweep and
``sluice audit verify`` name it). Only the row *at* the watermark is looked at on each
read, with its hash: gone or changed, the chain was cut or rewritten under what was
indexed, and new events written at seqs already passed would never be read — that
refuses too. After an unseal (a new epoch: an officer accepted a loss, the writer may
go on from an earlier head) the followers start again from seq 1. A follower refuses;
it does not seal. It trusts the head it finds: a tail erased before a process's first
read is the witnesses' and the writer's to find (``audit.monitor``).

Resumed (``audit.follow_snapshot``): a follower that caught up ``snapshot_every`` events
past its last snapshot writes its watermark and its consumer's facts (``dump``), MAC'd,
after its lock is released; a new follower starts from a snapshot that proves itself
(MAC, epoch, the hash at its watermark) instead of seq 1, and from seq 1 otherwise.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from audit.chain import ChainChecker, Failure
from audit.events import GENESIS_HASH
from audit.follow_snapshot import Snapshot, Snapshots
from audit.follow_snapshot import TrailBroken as TrailBroken  # its name here since it was made
from audit.genuine import ROW_SELECT
from audit.store import AuditStore
from catalog.errors import Unavailable

CHUNK = 5000
# events read past the last snapshot before another is written: a new process then walks
# at most about a second (~50,000 events/s) past it, and the dump (under the lock: 0.6 s
# for 2,000 requesters x 50 entries, 6 MB) is paid once per that many events, not per
# approval on a busy trail
SNAPSHOT_EVERY = 50_000


class Consumer(Protocol):
    """What a follower feeds: every verified event's body, once, in seq order; and what
    it keeps, as plain JSON, for a new process to resume from (``audit.follow_snapshot``).
    ``SNAPSHOT_VERSION`` changes whenever what ``add`` keeps does: facts dumped by an
    older version lack what it did not keep, and are not loaded."""

    SNAPSHOT_VERSION: ClassVar[int]

    def add(self, event: dict[str, Any]) -> None: ...

    def dump(self) -> Any:
        """Everything kept, as JSON values (dicts, lists, strings, numbers)."""
        ...

    @classmethod
    def loaded(cls, facts: Any) -> Self:
        """A consumer holding what ``dump`` returned (``ValueError``, ``TypeError`` or
        ``KeyError`` when it is not that)."""
        ...


C = TypeVar("C", bound=Consumer)


class VerifiedFollower(Generic[C]):
    """One consumer, fed every event of the verified chain up to the head."""

    def __init__(
        self,
        store: AuditStore,
        consumer: C,
        accepted_below: Callable[[int | None], bool],
        *,
        chunk: int = CHUNK,
        snapshots: Snapshots | None = None,
        epoch: int = 0,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        self.store = store
        self.consumer = consumer
        self.accepted_below = accepted_below
        self.chunk = chunk
        self.snapshots = snapshots
        self.epoch = epoch  # the seal's epoch this follower was made in (its snapshots')
        self.snapshot_every = snapshot_every
        self._saved = 0  # the watermark of the snapshot last written or resumed from
        self._started = snapshots is None  # a snapshot was looked for (or there are none)
        self.seq = 0  # the watermark: every event up to it verified and fed
        self.hash = GENESIS_HASH
        self.mac_from: int | None = None
        self._resumed = False  # the watermark is below a row taken as it is stored
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def caught_up(self) -> Iterator[C]:
        """The consumer, fed up to the chain's head as it is now; the lock is held until
        the block ends, so nothing is added while the caller reads it. ``TrailBroken``
        when the chain above the watermark does not verify; ``Unavailable`` when the
        store does not answer."""
        due = None
        try:
            with self._lock:
                self._catch_up()
                due = self._due()
                yield self.consumer
        finally:
            if due is not None and self.snapshots is not None:
                self.snapshots.save(due)  # off the lock: other reads need not wait

    @contextlib.contextmanager
    def as_read(self) -> Iterator[tuple[C, int]]:
        """The consumer and its watermark as the last read left them, without reading
        on (under the lock): for a reader whose ``caught_up`` was refused, what was
        verified below the failure."""
        with self._lock:
            yield self.consumer, self.seq

    def persist(self) -> None:
        """Catch up, then write a snapshot whatever was read since the last one."""
        with self._lock:
            self._catch_up()
            due = self._due(every=0)
        if due is not None and self.snapshots is not None:
            self.snapshots.save(due)

    def _kind(self) -> str:
        kind = type(self.consumer)
        return f"{kind.__module__}.{kind.__qualname__}"

    def _due(self, every: int | None = None) -> Snapshot | None:
        """A snapshot to write, when ``every`` (``snapshot_every``) events or more were
        read since the last; never from a watermark below a row taken as stored (its
        row may be absent: the next process could not check it)."""
        threshold = self.snapshot_every if every is None else every
        if self.snapshots is None or self._resumed or self.seq == 0:
            return None
        if self.seq - self._saved < max(threshold, 1):
            return None
        self._saved = self.seq
        return Snapshot(kind=self._kind(), version=self.consumer.SNAPSHOT_VERSION,
                        epoch=self.epoch, seq=self.seq, hash=self.hash,
                        facts=self.consumer.dump())  # fmt: skip

    def _start(self) -> None:
        """Once, before the first walk: resume from the stored snapshot if it proves
        itself (``Snapshots.load``); the walk from seq 1 otherwise."""
        if self.snapshots is None or self.seq != 0:
            self._started = True
            return
        # TrailCut raises before _started is set: every read refuses again, none walks
        # from seq 1 past the evidence of a cut
        found = self.snapshots.load(self._kind(), self.consumer.SNAPSHOT_VERSION)
        self._started = True
        if found is None:
            return
        try:
            consumer = type(self.consumer).loaded(found.facts)
        except (KeyError, TypeError, ValueError):
            return
        self.consumer, self.seq, self.hash = consumer, found.seq, found.hash
        self._saved = found.seq

    def _catch_up(self) -> None:
        if not self._started:
            self._start()
        while (failure := self._walk()) is not None:
            if not self.accepted_below(failure.seq):
                raise TrailBroken(
                    f"the audit trail does not verify at seq {failure.seq} ({failure.reason}: "
                    f"{failure.detail}); decisions that must read every event of it are "
                    "refused until it does (sluice audit verify names it)"
                )
            if not self._resume(failure.seq):
                return

    def _walk(self) -> Failure | None:
        """Verify and feed the rows above the watermark; the first failure, if any."""
        store = self.store
        with store.reading() as conn:
            try:
                self._check_watermark(conn)
                checker = self._checker(conn)
                try:
                    self._feed(conn, checker)
                finally:
                    self.seq, self.hash = checker.last_seq, checker.last_hash
                    self._resumed = self._resumed and checker.count == 0
            except store.driver_errors as exc:
                raise Unavailable(f"audit store failed: {exc}") from exc
        return checker.failure

    def _check_watermark(self, conn: Any) -> None:
        """``TrailBroken`` unless the row at the watermark holds the hash it was read
        with (``fetch_all`` ends its read: the walk after is a read of its own)."""
        if self.seq == 0 or self._resumed:
            return
        sql = f"SELECT hash FROM audit_events WHERE seq = {self.store.p}"
        found = self.store.fetch_all(conn, sql, (self.seq,))
        if not found or found[0][0] != self.hash:
            raise TrailBroken(
                f"the audit trail no longer holds event {self.seq} as this process read it "
                "(cut or rewritten below its head); decisions that must read every event "
                "of it are refused until an unseal (sluice audit verify names it)"
            )

    def _checker(self, conn: Any) -> ChainChecker:
        """A check of the chain from the watermark on, as verification checks it (no
        index columns: nothing here reads them), feeding the consumer."""
        if self.mac_from is None:  # rows are never updated: it cannot move later
            self.mac_from = self.store.first_maced(conn)
        mac = self.store.event_mac
        return ChainChecker(start_seq=self.seq + 1, start_prev=self.hash, check_index=False,
                            with_mac=True, mac_key=None if mac is None else mac.key,
                            mac_from=self.mac_from, on_event=self.consumer.add)  # fmt: skip

    def _feed(self, conn: Any, checker: ChainChecker) -> None:
        sql = f"{ROW_SELECT} WHERE seq > {self.store.p} ORDER BY seq"
        with contextlib.closing(self.store.stream(conn, sql, (self.seq,), self.chunk)) as rows:
            for chunk in rows:
                if not checker.feed(chunk):
                    return

    def _resume(self, failed: int) -> bool:
        """Past an accepted failure at ``failed``: the watermark set below the next row
        present, linked as it is stored (False when none follows)."""
        p = self.store.p
        sql = f"SELECT seq, prev_hash FROM audit_events WHERE seq > {p} ORDER BY seq LIMIT 1"
        with self.store.reading() as conn:
            try:
                found = self.store.fetch_all(conn, sql, (failed,))
            except self.store.driver_errors as exc:
                raise Unavailable(f"audit store failed: {exc}") from exc
        if not found:
            return False
        self.seq, self.hash = int(found[0][0]) - 1, str(found[0][1])
        self._resumed = True
        return True


class Followers:
    """This process's followers of one trail, one per consumer type, made on first use
    (a forked child starts its own: a lock held in the parent at the fork would never
    be released in the child), and made again after an unseal (``epoch`` moved)."""

    def __init__(
        self,
        store: AuditStore,
        accepted_below: Callable[[int | None], bool],
        epoch: Callable[[], int],
        snapshots: Snapshots | None = None,
    ) -> None:
        self.store = store
        self.accepted_below = accepted_below
        self.epoch = epoch
        self.snapshots = snapshots  # None: every process walks from seq 1
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._made: dict[type[Any], VerifiedFollower[Any]] = {}
        self._epoch = epoch()

    def of(self, kind: type[C]) -> VerifiedFollower[C]:
        """The follower feeding a ``kind()`` (made, empty, on first use)."""
        if self._pid != os.getpid():
            self._pid, self._lock, self._made = os.getpid(), threading.Lock(), {}
        with self._lock:
            if self.epoch() != self._epoch:  # an accepted loss: what was read may be gone
                self._made, self._epoch = {}, self.epoch()
            found = self._made.get(kind)
            if found is None:
                found = self._made[kind] = VerifiedFollower(
                    self.store, kind(), self.accepted_below,
                    snapshots=self.snapshots, epoch=self._epoch)  # fmt: skip
            return found

    def forget(self) -> None:
        """Drop every follower (as a new process starts): the next read walks the whole
        trail again."""
        with self._lock:
            self._made = {}
