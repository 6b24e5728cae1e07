"""Group commit: one writer thread turns many concurrent appends into few transactions.

Callers enqueue a prepared event and wait; the writer drains everything queued, opens
one transaction (holding the chain lock), reads the head, assigns consecutive seqs,
hashes, inserts, possibly signs a checkpoint, commits, and only then wakes the callers.
While one batch is fsyncing the next one queues up, so throughput grows with load and
a fsync costs each event a fraction of its latency. A caller that gives up (the append
bound passed) marks its entry abandoned; the writer skips entries it has not yet
claimed, so a refused request usually leaves no event behind (a claimed one may still
commit: the chain then shows a start with no completion, i.e. ``incomplete``).

Every row carries the event's MAC (``audit.signing.EventMac``, from the signer's key
ring): the hash chain is public arithmetic, the MAC is what only the deployment's
gateways can make. The key is bound to the store here, before the writer starts, so
every verification through that store checks MACs. Before chaining onto (or signing a
checkpoint over) events it did not write itself, the writer checks them like
verification does and seals on a missing or wrong MAC: an event an insider INSERTed at
the head is never built upon or signed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit import witness
from audit.chain import ChainChecker, Failure
from audit.events import GENESIS_HASH, Prepared, format_ts
from audit.lazy_log import get_logger
from audit.seal import SealStore
from audit.signing import EventMac, Signer, checkpoint_payload
from audit.store import AuditStore
from catalog.errors import Unavailable

FOREIGN_MAX = 10_000
"""Most events written by others the writer checks before chaining onto them (the newest)."""
LAZY_DELAY_S = 0.05
"""Longest an event queued without a wake-up (``append_nowait``) waits for a batch."""

log = get_logger("sluice.audit")


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof that an event is durably in the chain."""

    seq: int
    hash: str


@dataclass(slots=True)
class Metrics:
    """Counters the gateway exports; failures are what an operator pages on."""

    appended: int = 0
    batches: int = 0
    checkpoints: int = 0
    failures: int = 0
    timeouts: int = 0
    largest_batch: int = 0
    nowait_lost: int = 0  # events from ``append_nowait`` that never reached the chain
    optimistic: int = 0  # batches committed in one round trip on the cached head
    optimistic_missed: int = 0  # ... that found another process's events and re-chained
    last_commit_s: float = 0.0  # duration of the newest successful group commit
    commit_s_total: float = 0.0  # summed: with ``batches`` gives the mean commit time


@dataclass(slots=True, eq=False)
class Pending:
    """One queued event. ``done`` is a lock the caller holds and the writer releases
    (cheaper than a ``threading.Event``: no Condition, no notify_all); an item with
    neither ``done`` nor ``future`` is fire-and-forget (``append_nowait``)."""

    prepared: Prepared
    done: threading.Lock | None = None
    future: asyncio.Future[Receipt] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    receipt: Receipt | None = None
    error: BaseException | None = None
    claimed: bool = False
    abandoned: bool = False


@dataclass
class WriterConfig:
    checkpoint_every: int
    checkpoint_seconds: float
    witness: Path
    clock: Callable[[], datetime]
    seal: SealStore
    # called (on the writer thread, must not block) with each checkpoint once it is in
    # the local witness file: the remote witnesses' sender queues it
    on_checkpoint: Callable[[dict[str, Any]], None] | None = None
    # called (on the writer thread, after the batch's callers are woken; must not block:
    # a wake-up such as ``threading.Event.set``) with the newest seq of each committed
    # batch: the alert rule runner evaluates off the request path
    on_commit: list[Callable[[int], None]] = field(default_factory=list)
    max_batch: int = 5000
    metrics: Metrics = field(default_factory=Metrics)


class Evidence(Unavailable):
    """The chain head contradicts what this writer wrote or its witnesses saw: seal."""


class GroupCommitWriter:
    """Owns the writer connection and thread; AuditLog is its only user."""

    def __init__(self, store: AuditStore, signer: Signer, config: WriterConfig) -> None:
        self.store = store
        self.signer = signer
        self.config = config
        self.metrics = config.metrics
        self.mac: EventMac | None = getattr(signer, "event_mac", None)
        if store.event_mac is None:
            store.event_mac = self.mac
        self._trusted = 0  # the highest seq this writer wrote or checked (MAC and chain)
        self._mac_from: int | None = None  # the first MAC'd seq, once one is known
        self.cond = threading.Condition()
        self.queue: deque[Pending] = deque()
        self._conn: Any = None
        self._closing = False
        self._last_cp_seq = 0
        self._last_cp_time = time.monotonic()
        self._dirty = False
        self._head: tuple[int, str] | None = None  # (seq, hash) this writer last committed
        self._quiet = False  # the last batch found the head where this writer left it
        # (rows, receipts, checkpoint) of a commit sent whose outcome is unknown: a
        # connection that breaks under COMMIT may have committed it
        self._attempt: tuple[list[tuple[Any, ...]], list[Receipt], dict[str, Any] | None] | None
        self._attempt = None
        # the highest (seq, hash) witnessed in this epoch: the head never goes below it
        self._floor: tuple[int, str | None] = (0, None)
        # checkpoints at seqs in these ranges go to the witnesses only: the database still
        # holds void checkpoints of an earlier epoch there (see ``audit.seal.Epoch.void``)
        self._void: list[tuple[int, int]] = []
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)

    def start(self, last_checkpoint_seq: int, floor: tuple[int, str | None] = (0, None),
              void: list[tuple[int, int]] | None = None) -> None:  # fmt: skip
        self._last_cp_seq = max(last_checkpoint_seq, floor[0])
        self._floor = floor
        self._void = list(void or [])
        self._thread.start()

    def new_epoch(
        self, anchor_seq: int, anchor_hash: str | None, void: list[tuple[int, int]]
    ) -> None:
        """After an unseal: the chain continues from the head as found (the anchor)."""
        with self.cond:
            self._floor = (anchor_seq, anchor_hash)
            self._trusted = anchor_seq  # the officer's unseal accepted the chain up to it
            self._head = None
            self._last_cp_seq = anchor_seq
            self._void = list(void)
            self._dirty = False

    @property
    def floor(self) -> tuple[int, str | None]:
        return self._floor

    def submit(self, item: Pending, *, wake: bool = True) -> None:
        """Queue ``item``. ``wake=False`` leaves it for the writer's next batch — the
        next woken submit or, at the latest, ``LAZY_DELAY_S`` — sparing a thread
        wake-up (and often an fsync) per request for events no caller waits on."""
        with self.cond:
            if self._closing:
                raise Unavailable("the audit log is closed")
            self.queue.append(item)
            if wake:
                self.cond.notify()

    def abandon(self, item: Pending) -> bool:
        """The caller gave up; True if the event will certainly not be written."""
        with self.cond:
            if not item.claimed:
                item.abandoned = True
                return True
            return False

    def close(self, timeout: float = 10.0) -> None:
        with self.cond:
            self._closing = True
            self.cond.notify()
        self._thread.join(timeout)

    # -- the thread ----------------------------------------------------------------

    def _run(self) -> None:
        # idle ticks bound how long a lazily queued event waits (and check checkpoints)
        tick = max(0.001, min(self.config.checkpoint_seconds, LAZY_DELAY_S))
        while True:
            with self.cond:
                if not self.queue and not self._closing:
                    self.cond.wait(tick)
                batch: list[Pending] = []
                while self.queue and len(batch) < self.config.max_batch:
                    item = self.queue.popleft()
                    if not item.abandoned:
                        item.claimed = True
                        batch.append(item)
                closing = self._closing and not self.queue
            if batch:
                self._commit_batch(batch)
            due = time.monotonic() - self._last_cp_time >= self.config.checkpoint_seconds
            if self._dirty and (due or closing):
                self._guard(self._timed_checkpoint)
            if closing:
                self._disconnect()
                return

    def _guard(self, work: Callable[[], None]) -> None:
        try:
            work()
        except self.store.write_errors as exc:
            self.metrics.failures += 1
            log.error("audit_checkpoint_failed", error=str(exc))
            self._disconnect()

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self.store.connect()
        return self._conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(*self.store.driver_errors):
                self._conn.close()
            self._conn = None

    def _commit_batch(self, batch: list[Pending]) -> None:
        error: BaseException | None = None
        self._attempt = None
        for attempt in range(2):
            reused = self._conn is not None
            started = time.perf_counter()
            try:
                receipts, checkpoint = self._write(batch)
            except self.store.write_errors as exc:
                if self._conn is not None:
                    self.store.rollback(self._conn)
                self._disconnect()
                error = exc
                if reused and attempt == 0:
                    continue  # a connection gone stale while idle: one fresh try
                break
            except Exception as exc:  # never let the writer thread die silently
                if self._conn is not None:
                    self.store.rollback(self._conn)
                self._disconnect()
                error = exc
                break
            elapsed = time.perf_counter() - started
            self.metrics.last_commit_s = elapsed
            self.metrics.commit_s_total += elapsed
            self._after_commit(checkpoint)
            for item, receipt in zip(batch, receipts, strict=True):
                item.receipt = receipt
            self._wake(batch)
            self._notify(receipts[-1].seq)
            return
        self.metrics.failures += 1
        log.error("audit_append_failed", events=len(batch), error=str(error))
        lost = sum(1 for item in batch if item.done is None and item.future is None)
        if lost:
            self.metrics.nowait_lost += lost
            log.error("audit_nowait_events_lost", events=lost, error=str(error))
        failure = (
            error if isinstance(error, Unavailable) else Unavailable(f"audit store failed: {error}")
        )
        for item in batch:
            item.error = failure
        self._wake(batch)

    def _write(self, batch: list[Pending]) -> tuple[list[Receipt], dict[str, Any] | None]:
        """Chain and commit one batch; the optimistic path first when it is likely to win.

        The optimistic path (PostgreSQL) chains the batch onto the head this process
        last committed and sends lock + conditional insert + commit in one pipeline:
        one round trip plus the fsync. If another process appended in between, nothing
        is written and the batch is re-chained on the slow path (lock and read the head,
        then insert and commit). The optimistic path is tried only while the previous
        batch found the head where this process left it, so several busy processes on
        one database do not pay for a failed attempt on every batch."""
        if self.config.seal.sealed:
            raise Unavailable(self.config.seal.message())
        conn = self._connection()
        expected, self._head = self._head, None  # valid again only after a commit
        key = None if self.mac is None else self.mac.key
        # a head below what this process witnessed (its timed checkpoint signed another
        # process's newer head) has moved: chaining on it would sign below the floor
        ahead = expected is not None and expected[0] >= self._floor[0]
        if expected is not None and ahead and self._quiet and self.store.dialect == "postgresql":
            rows, receipts = _chain(batch, *expected, key)
            checkpoint = self._checkpoint_for(rows)
            self._attempt = (rows, receipts, checkpoint)
            if self.store.append_if_head(conn, expected, rows, self._stored(checkpoint)):
                self.metrics.optimistic += 1
                return self._committed(batch, rows, receipts, checkpoint)
            self._attempt = None  # refused: nothing was written
            self.metrics.optimistic_missed += 1
            # ``expected`` stays: the slow path checks the head did not go *back*, and
            # the head it finds differs from it, so the next batch is not optimistic
        cur, seq, head = self.store.begin_at_head(conn)
        try:
            self._check_head(seq, head, expected)
            self._check_foreign(cur, seq, head)
            self._quiet = expected is not None and (seq, head) == expected
            earlier, self._attempt = self._attempt, None
            if earlier is not None and self.store.has_event(
                cur, earlier[0][-1][0], earlier[0][-1][2]
            ):
                # the try before this one committed after all: never chain it twice
                self.store.commit(conn)
                return self._committed(batch, *earlier)
            rows, receipts = _chain(batch, seq, head or GENESIS_HASH, key)
            checkpoint = self._checkpoint_for(rows)
            self._attempt = (rows, receipts, checkpoint)
            self.store.insert_and_commit(conn, cur, rows, self._stored(checkpoint))
        finally:
            cur.close()
        return self._committed(batch, rows, receipts, checkpoint)

    def _check_head(self, seq: int, head: str | None, expected: tuple[int, str] | None) -> None:
        """Seal before writing onto a head lower than one already written or witnessed.

        Other processes may move the head *forward*; nothing legitimate moves it back
        or changes the hash at a seq this process committed or a witness saw."""
        problem = None
        floor_seq, floor_hash = self._floor
        if expected is not None and seq < expected[0]:
            problem = f"chain head went back from seq {expected[0]} to {seq}"
        elif expected is not None and seq == expected[0] and head != expected[1]:
            problem = f"hash at head seq {seq} changed under the writer"
        elif seq < floor_seq:
            problem = f"chain head seq {seq} is below witnessed seq {floor_seq}"
        elif seq == floor_seq and floor_hash is not None and head != floor_hash:
            problem = f"hash at witnessed seq {seq} differs from the witness"
        if problem is not None:
            self.config.seal.seal(problem, {"head_seq": seq, "head_hash": head,
                                            "witnessed_seq": floor_seq})  # fmt: skip
            raise Evidence(self.config.seal.message())

    def _check_foreign(self, cur: Any, seq: int, head: str | None) -> None:
        """Seal rather than build on (or sign) events with a missing or wrong MAC.

        Checks the events above the last one this writer wrote or checked (other
        replicas' and anything INSERTed behind the gateways) exactly as verification
        does; a process that has neither written nor checked anything yet starts after
        the newest witnessed checkpoint, or checks the head alone."""
        if head is None or seq <= self._trusted:
            return
        known = max(self._trusted, self._floor[0])
        lo = max(known + 1 if known else seq, seq - FOREIGN_MAX + 1, 1)
        if self._mac_from is None:
            self._mac_from = self.store.mac_boundary(cur, below=seq)
        prev = GENESIS_HASH if lo == 1 else self.store.hash_at(cur, lo - 1)
        checker = ChainChecker(start_seq=lo, start_prev=prev or GENESIS_HASH, with_mac=True,
                               mac_key=None if self.mac is None else self.mac.key,
                               mac_from=self._mac_from)  # fmt: skip
        checker.feed(self.store.rows_between(cur, lo, seq))
        failure = checker.failure
        if failure is None and prev is None:
            failure = Failure(lo - 1, "gap", f"seq {lo - 1} is missing")
        if failure is None and checker.last_seq != seq:
            failure = Failure(checker.last_seq + 1, "gap", "the head moved while checking")
        if failure is not None:
            self.config.seal.seal(f"append: {failure.reason} at seq {failure.seq}",
                                  {"first_bad_seq": failure.seq, "reason": failure.reason,
                                   "detail": failure.detail, "head_seq": seq})  # fmt: skip
            raise Evidence(self.config.seal.message())
        self._trusted = seq

    def _checkpoint_for(self, rows: list[tuple[Any, ...]]) -> dict[str, Any] | None:
        seq, hash_hex = rows[-1][0], rows[-1][2]
        due = time.monotonic() - self._last_cp_time >= self.config.checkpoint_seconds
        if seq - self._last_cp_seq >= self.config.checkpoint_every or due:
            return self._sign(seq, hash_hex)
        return None

    def _committed(
        self,
        batch: list[Pending],
        rows: list[tuple[Any, ...]],
        receipts: list[Receipt],
        checkpoint: dict[str, Any] | None,
    ) -> tuple[list[Receipt], dict[str, Any] | None]:
        self._head = (rows[-1][0], rows[-1][2])
        self._trusted = rows[-1][0]
        if self.mac is not None and self._mac_from is None:
            self._mac_from = rows[0][0]  # at the latest: this batch is MAC'd
        self.metrics.appended += len(batch)
        self.metrics.batches += 1
        self.metrics.largest_batch = max(self.metrics.largest_batch, len(batch))
        self._dirty = checkpoint is None
        return receipts, checkpoint

    def _stored(self, checkpoint: dict[str, Any] | None) -> dict[str, Any] | None:
        """The checkpoint to insert in the database (None: witnesses only)."""
        if checkpoint is None or self._witness_only(checkpoint["seq"]):
            return None
        return checkpoint

    def _witness_only(self, seq: int) -> bool:
        return any(lo < seq <= hi for lo, hi in self._void)

    def _sign(self, seq: int, hash_hex: str) -> dict[str, Any]:
        if seq < self._floor[0]:  # never sign a checkpoint below a witnessed one
            self.config.seal.seal(f"refused to sign seq {seq} below witnessed {self._floor[0]}")
            raise Evidence(self.config.seal.message())
        ts = format_ts(self.config.clock())
        kid = self.signer.kid
        payload = checkpoint_payload(seq=seq, hash_hex=hash_hex, ts=ts, kid=kid)
        return {
            "seq": seq,
            "hash": hash_hex,
            "ts": ts,
            "kid": kid,
            "signature": self.signer.sign(payload),
        }

    def _timed_checkpoint(self) -> None:
        """Sign the current head if nobody (in any process) has checkpointed it yet."""
        if self.config.seal.sealed:
            self._dirty = False  # a sealed trail signs nothing
            return
        conn = self._connection()
        cur = self.store.begin_locked(conn)
        try:
            seq, head = self.store.head(cur)
            self._check_head(seq, head, self._head)
            self._check_foreign(cur, seq, head)
            checkpoint = None
            if self._witness_only(seq):
                signed = self._last_cp_seq >= seq  # the database's checkpoints there are void
            else:
                signed = self.store.last_checkpoint_seq(cur, at_most=seq) >= seq
            if head is not None and not signed:
                checkpoint = self._sign(seq, head)
                if self._stored(checkpoint) is not None:
                    self.store.insert_checkpoint(cur, checkpoint)
            self.store.commit(conn)
        except BaseException:
            self.store.rollback(conn)
            raise
        finally:
            cur.close()
        self._dirty = False
        self._after_commit(checkpoint)
        self._last_cp_time = time.monotonic()

    def _after_commit(self, checkpoint: dict[str, Any] | None) -> None:
        if checkpoint is None:
            return
        self._last_cp_seq = checkpoint["seq"]
        self._last_cp_time = time.monotonic()
        self.metrics.checkpoints += 1
        try:
            witness.append(self.config.witness, checkpoint)
        except OSError as exc:
            self.metrics.failures += 1
            log.error("audit_witness_failed", error=str(exc), seq=checkpoint["seq"])
        else:
            self._floor = (checkpoint["seq"], checkpoint["hash"])
        if self.config.on_checkpoint is not None:
            self.config.on_checkpoint(checkpoint)

    def _notify(self, seq: int) -> None:
        for listener in self.config.on_commit:
            try:
                listener(seq)
            except Exception as exc:  # a listener never costs the chain anything
                log.warning("audit_commit_listener_failed", error=type(exc).__name__)

    @staticmethod
    def _wake(batch: list[Pending]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Pending]] = {}
        for item in batch:
            if item.loop is not None:
                by_loop.setdefault(item.loop, []).append(item)
            elif item.done is not None:
                item.done.release()
        for loop, items in by_loop.items():
            # a closed loop raises RuntimeError: nobody is waiting any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve_futures, items)


def _chain(
    batch: list[Pending], seq: int, head_hex: str, mac_key: bytes | None = None
) -> tuple[list[tuple[Any, ...]], list[Receipt]]:
    """Rows ``(seq, prev_hash, hash, body, mac, *index)`` (``audit.store.ROW_COLUMNS``)
    chained onto ``(seq, head_hex)``; one HMAC per event (``audit.signing.event_mac``,
    inlined), ``mac`` None only without a key."""
    prev = bytes.fromhex(head_hex)
    prev_hex = head_hex
    rows: list[tuple[Any, ...]] = []
    receipts: list[Receipt] = []
    sha256 = hashlib.sha256
    mac_of = hmac.digest
    mac: str | None = None
    for item in batch:
        seq += 1
        prepared = item.prepared
        data = prepared.canonical(seq)
        digest = sha256(prev + data)
        prev = digest.digest()
        hex_hash = digest.hexdigest()
        if mac_key is not None:
            mac = mac_of(mac_key, seq.to_bytes(8, "big") + prev, "sha256").hex()
        rows.append((seq, prev_hex, hex_hash, data.decode("utf-8"), mac, *prepared.index))
        receipts.append(Receipt(seq, hex_hash))
        prev_hex = hex_hash
    return rows, receipts


def _resolve_futures(items: list[Pending]) -> None:
    for item in items:
        future = item.future
        if future is None or future.done():
            continue
        if item.error is not None:
            future.set_exception(item.error)
        elif item.receipt is not None:
            future.set_result(item.receipt)
