"""``AuditLog``: the one object the gateway holds to write and read the audit trail.

Writing is fail-closed: ``append`` returns only once the event is durably committed,
and raises ``Unavailable`` (503) if the store fails or does not answer within
``append_timeout_s``. The gateway must call it *before* the action it records (rows
leaving, a grant taking effect) and refuse the action when it raises.

A sealed log (``audit.seal``: the chain disagreed with its witnesses) refuses every
append the same way, with "audit trail sealed: <reason>": one attribute read per
append. Checkpoints go to the local witness file and, off the request path, to the
remote witnesses (``audit.witness_client``); ``audit.monitor`` compares the chain
with them continuously.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from audit import witness
from audit.events import FamilyEvent, Prepared, format_ts, prepare, utc_now
from audit.follow import Followers
from audit.follow_snapshot import Snapshots
from audit.lazy_log import get_logger
from audit.mac_floor import record_floor, recorded_floor
from audit.monitor import Monitor
from audit.seal import SealStore
from audit.signing import KeyRing, Signer
from audit.store import KEY_SELECT, AuditStore, StoreNotDurable
from audit.witness_client import WitnessSender
from audit.writer import GroupCommitWriter, Metrics, Pending, Receipt, WriterConfig
from catalog.errors import Unavailable
from catalog.private_files import KEY_BYTES, private_dir, read_own, replace_private

log = get_logger("sluice.audit")

__all__ = ["AuditLog", "Receipt"]


class PendingAppend:
    """A submitted durable append; ``wait`` returns its receipt or raises."""

    def __init__(self, log: AuditLog, item: Pending, done: threading.Lock, deadline: float):
        self._log = log
        self._item = item
        self._done = done
        self._deadline = deadline
        self._receipt: Receipt | None = None

    def wait(self) -> Receipt:
        if self._receipt is None:
            if not self._done.acquire(timeout=max(0.0, self._deadline - time.monotonic())):
                self._log._timed_out(self._item)
            self._receipt = self._log._outcome(self._item)
        return self._receipt


class AuditLog:
    """Append-only, hash-chained, checkpoint-signed audit trail over one database."""

    def __init__(
        self,
        *,
        store: AuditStore,
        home: Path,
        signer: Signer,
        writer: GroupCommitWriter,
        clock: Callable[[], datetime],
        append_timeout_s: float,
        seal: SealStore,
        monitor: Monitor,
        sender: WitnessSender | None = None,
        gateway_id: str = "",
    ) -> None:
        self.store = store
        self.home = home
        self.signer = signer
        self.clock = clock
        self.append_timeout_s = append_timeout_s
        self.seal = seal
        self.monitor = monitor
        self.sender = sender
        self.gateway_id = gateway_id
        self.witness_book: Any = None  # audit.witness_book.WitnessBook when this is a witness
        self.alert_runner: Any = None  # audit.alert_runner.AlertRunner once the gateway starts it
        # indexes of the verified chain, for checks no edited column may blind (audit.follow)
        # resumed from a MAC'd snapshot in the store, not walked from seq 1 (follow_snapshot)
        self.followers = Followers(store, seal.accepted_below, lambda: seal.epoch.number,
                                   Snapshots(store, lambda: seal.epoch.number))  # fmt: skip
        self._writer = writer
        self._closed = False

    @classmethod
    def open(
        cls,
        *,
        url: str,
        home: Path,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 10.0,
        append_timeout_s: float = 2.0,
        clock: Callable[[], datetime] = utc_now,
        signer: Signer | None = None,
        witnesses: list[str] | None = None,
        gateway_id: str | None = None,
        monitor_seconds: float = 1.0,
        background: bool = True,
    ) -> AuditLog:
        """Open the log; the schema must already be migrated (``catalog.db.migrate``).

        An unreachable store does not stop the gateway from starting (appends then fail
        closed with 503); a reachable store with non-durable settings does. The chain is
        compared with the local witness file before the writer starts (a mismatch seals);
        ``background`` starts the monitor thread (a CLI run checks once instead).
        """
        private_dir(home)
        store = AuditStore(url, timeout_s=append_timeout_s)
        signer = signer or KeyRing.in_home(home)
        # key rows are MAC'd and checked with the deployment key from the start, not
        # only once the writer binds it; the ring vouches for its own older rows
        store.event_mac = getattr(signer, "event_mac", None)
        store.own_keys = signer.public_keys
        store.mac_floor = recorded_floor(home)  # outside the database (audit.mac_floor)
        seal = SealStore(home, clock=clock)
        gid = gateway_id or _gateway_id(home)
        sender = None
        if witnesses:
            sender = WitnessSender(urls=list(witnesses), sender=gid, signer=signer,
                                   epoch=lambda: seal.epoch.number,
                                   receipts=home / "audit-witness-receipts.jsonl")  # fmt: skip
        witness_file = witness.witness_path(home)
        monitor = Monitor(store=store, seal=seal, witness_file=witness_file,
                          public_keys=signer.public_keys, sender=sender,
                          interval_s=monitor_seconds)  # fmt: skip
        last_cp = 0
        try:
            conn = store.connect()
        except StoreNotDurable:
            raise  # up but unsafe: never start on it
        except Unavailable as exc:  # down: start, and fail appends closed until it is back
            log.error("audit_store_unreachable_at_startup", error=exc.message)
        else:
            try:
                store.mac_floor = record_floor(home, store, conn)
                _leave_a_mac_less_key(store, conn, signer)
                store.publish_keys(conn, signer.public_keys(), format_ts(clock()))
                last_cp = _last_signed(store, conn, seal.superseded())
            finally:
                conn.close()
            monitor.check(remote=False)
        config = WriterConfig(
            checkpoint_every=checkpoint_every,
            checkpoint_seconds=checkpoint_seconds,
            witness=witness_file,
            clock=clock,
            seal=seal,
            on_checkpoint=sender.submit if sender is not None else None,
        )
        writer = GroupCommitWriter(store, signer, config)
        epoch = seal.epoch
        newest = witness.latest(witness_file)
        floor = (epoch.anchor_seq, epoch.anchor_hash)
        if newest is not None and int(newest["seq"]) >= floor[0]:
            floor = (int(newest["seq"]), str(newest["hash"]))
        writer.start(last_cp, floor, seal.superseded())
        if background:
            monitor.start()
        return cls(
            store=store,
            home=home,
            signer=signer,
            writer=writer,
            clock=clock,
            append_timeout_s=append_timeout_s,
            seal=seal,
            monitor=monitor,
            sender=sender,
            gateway_id=gid,
        )

    @property
    def metrics(self) -> Metrics:
        return self._writer.metrics

    @property
    def witness_file(self) -> Path:
        return witness.witness_path(self.home)

    @property
    def writer(self) -> GroupCommitWriter:
        return self._writer

    def on_commit(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(newest_seq)`` after each durable batch, on the writer thread,
        once the batch's callers are woken: it must not block (``Event.set``)."""
        self._writer.config.on_commit.append(listener)

    def prepare(self, event: Mapping[str, Any] | FamilyEvent) -> Prepared:
        """Validate an event without writing it (BadRequest on a malformed event)."""
        return prepare(event, clock=self.clock)

    def append(self, event: Mapping[str, Any] | FamilyEvent) -> Receipt:
        """Write one event durably; blocks; Unavailable if not committed within the bound."""
        return self.submit(event).wait()

    def submit(self, event: Mapping[str, Any] | FamilyEvent) -> PendingAppend:
        """Start a durable append and return at once; ``wait()`` on the result blocks
        until it is committed (Unavailable past the bound, counted from now). Lets a
        caller do other work — e.g. read from a source, never send — while the commit
        is under way."""
        if self.seal.sealed:
            raise Unavailable(self.seal.message())
        done = threading.Lock()
        done.acquire()  # the writer releases it once the batch has committed (or failed)
        item = Pending(prepared=prepare(event, clock=self.clock), done=done)
        self._writer.submit(item)
        return PendingAppend(self, item, done, time.monotonic() + self.append_timeout_s)

    def append_nowait(self, event: Mapping[str, Any] | FamilyEvent) -> None:
        """Queue one event for the writer without waiting for its commit.

        Validation is synchronous (a malformed event raises BadRequest at once); after
        that nothing is raised: a store failure or a closed log is logged and counted in
        ``metrics.nowait_lost`` (and ``failures``). Only for events whose loss the trail
        tolerates, e.g. ``query.completed`` after a durably recorded ``query.started``
        (a missing completion reads as ``incomplete``)."""
        item = Pending(prepared=prepare(event, clock=self.clock))
        try:
            if self.seal.sealed:
                raise Unavailable(self.seal.message())
            # no wake-up: it rides with the next durable append (or the writer's next
            # tick, at most LAZY_DELAY_S away) — one thread switch per query, not two
            self._writer.submit(item, wake=False)
        except Unavailable as exc:
            self._writer.metrics.failures += 1
            self._writer.metrics.nowait_lost += 1
            log.error(
                "audit_nowait_events_lost",
                events=1,
                event_type=item.prepared.body.get("type"),
                error=exc.message,
            )

    async def append_async(self, event: Mapping[str, Any] | FamilyEvent) -> Receipt:
        """``append`` for the event loop: waits on a future the writer thread completes."""
        if self.seal.sealed:
            raise Unavailable(self.seal.message())
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Receipt] = loop.create_future()
        item = Pending(prepared=prepare(event, clock=self.clock), future=future, loop=loop)
        self._writer.submit(item)
        try:
            return await asyncio.wait_for(future, self.append_timeout_s)
        except TimeoutError:
            self._timed_out(item)

    def _timed_out(self, item: Pending) -> NoReturn:
        dropped = self._writer.abandon(item)
        self._writer.metrics.timeouts += 1
        log.error(
            "audit_append_timeout",
            bound_s=self.append_timeout_s,
            event_type=item.prepared.body.get("type"),
            dropped=dropped,
        )
        raise Unavailable(
            f"the audit store did not confirm the event within {self.append_timeout_s} s"
        )

    @staticmethod
    def _outcome(item: Pending) -> Receipt:
        if item.error is not None:
            raise item.error
        if item.receipt is None:
            raise Unavailable("the audit event was not written")
        return item.receipt

    def rotate_signing_key(self) -> str:
        """Start signing with a new key; the old public key stays published."""
        if not isinstance(self.signer, KeyRing):
            raise Unavailable("this audit log's signer cannot rotate keys")
        kid = self.signer.rotate()
        conn = self.store.connect()
        try:
            self.store.publish_keys(conn, self.signer.public_keys(), format_ts(self.clock()))
        finally:
            conn.close()
        return kid

    def reader(self) -> Any:
        """A new read connection (caller closes it); Unavailable if the store is down."""
        return self.store.connect(reader=True)

    def close(self) -> None:
        """Flush pending events, sign a final checkpoint, stop the writer."""
        if self._closed:
            return
        self._closed = True
        self.monitor.stop()
        self._writer.close(timeout=max(10.0, self.append_timeout_s * 3))
        if self.sender is not None:
            self.sender.close(timeout_s=2.0)  # the final checkpoint, witnessed if possible
        self.store.close_readers()

    def status(self) -> dict[str, Any]:
        """``GET /api/v1/audit/status``: the seal, the head, and every witness."""
        self.seal.refresh()
        seen = self.monitor.status()
        head = seen["head"]
        try:
            conn = self.store.connect(reader=True)
            try:
                seq, hash_hex = self.store.read_head(conn)
            finally:
                conn.close()
            head = {"seq": seq, "hash": hash_hex}
        except Unavailable:
            pass
        local = {**seen["local"], "ok": True}
        remote = []
        for item in self.sender.statuses() if self.sender is not None else []:
            check = seen["remote"].get(item["url"], {})
            remote.append({**item, "witnessed_seq": check.get("seq"),
                           "reachable": check.get("ok")})  # fmt: skip
        summary = self.seal.summary()
        return {
            **summary,
            "gateway_id": self.gateway_id,
            "head": head,
            "witnessed": {"seq": self._writer.floor[0], "hash": self._writer.floor[1]},
            "witnesses": [local, *remote],
            "monitor": {"last_check_age_s": seen["last_check_age_s"], "error": seen["error"]},
        }

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _gateway_id(home: Path) -> str:
    """This gateway's name at its witnesses: made once, kept in ``<home>/gateway-id``."""
    path = home / "gateway-id"
    with contextlib.suppress(FileNotFoundError):  # never through a link nor from a FIFO
        return read_own(path, limit=KEY_BYTES).decode().strip()
    name = "gw-" + secrets.token_hex(6)
    replace_private(path, (name + "\n").encode())
    return name


def _leave_a_mac_less_key(store: AuditStore, conn: Any, signer: Signer) -> None:
    """After the upgrade to key-row MACs, a ring whose active key's row has no MAC (it
    was published before; the table is append-only, so it cannot get one) signs with a
    new key from now on. Other replicas verify a MAC-less key only below the first MAC'd
    event (``audit.signing.KeyRows``), so checkpoints signed with it later would be
    unknown keys to them. The old key stays on disk and in the table for old ones."""
    if store.event_mac is None or not isinstance(signer, KeyRing):
        return
    rows = store.fetch_all(conn, KEY_SELECT + f" WHERE kid = {store.p}", (signer.kid,))
    if rows and rows[0][4] is None:
        log.info("audit_key_rotated_for_mac", old_kid=signer.kid, new_kid=signer.rotate())


def public_keys(store: AuditStore) -> list[dict[str, Any]]:
    """Every checkpoint key a gateway of this deployment vouches for, old ones included
    (for offline verifiers to pin). A row of ``audit_keys`` without a valid MAC is not
    published: the runtime role may append there, so anyone holding it could otherwise
    get a key of their own pinned (``audit.signing.KeyRows``)."""
    conn = store.connect(reader=True)
    try:
        rows = store.fetch_all(conn, KEY_SELECT + " ORDER BY created_at, kid")
    finally:
        conn.close()
    return [
        dict(zip(("kid", "algorithm", "public_key", "created_at"), r[:4], strict=True))
        for r in store.key_rows(rows).trusted
    ]


def latest_checkpoints(store: AuditStore, limit: int = 1) -> list[dict[str, Any]]:
    """The newest signed checkpoints, for external witnesses to keep."""
    conn = store.connect(reader=True)
    try:
        rows = store.fetch_all(
            conn,
            "SELECT seq, hash, ts, kid, signature FROM audit_checkpoints "
            f"ORDER BY seq DESC LIMIT {int(limit)}",
        )
    finally:
        conn.close()
    return [dict(zip(("seq", "hash", "ts", "kid", "signature"), r, strict=True)) for r in rows]


def _last_signed(store: AuditStore, conn: Any, void: list[tuple[int, int]]) -> int:
    """The newest checkpoint that signs an event of this chain: at or below the head and
    outside the ranges an unseal declared void. ``max(seq)`` over the table took an
    insider's row far above the head (or an old epoch's void one) for the newest, and
    the writer started in that epoch took every head for signed: nothing was signed nor
    witnessed again (red team 34's left row)."""
    at_most = int(store.read_head(conn)[0])
    sql = f"SELECT max(seq) FROM audit_checkpoints WHERE seq <= {store.p}"
    while True:
        seq = int(store.fetch_all(conn, sql, (at_most,))[0][0] or 0)
        below = [lo for lo, hi in void if lo < seq <= hi]
        if not below:
            return seq
        at_most = min(below)  # below the void range: strictly lower, so this ends
