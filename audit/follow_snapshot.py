"""A follower's state kept in the audit database, so a new process resumes its walk.

The first read of a follower (``audit.follow``) walked the whole trail: on a trail of a
few million events, a minute or more per worker after each restart, while the
console's request gave up at 30 s and the other approvals waited on the lock. So a
follower that caught up far enough writes its watermark (seq and hash) and its
consumer's facts (``Consumer.dump``) to ``audit_follow_snapshots``, one row per
consumer kind, and a new follower resumes from it instead of from seq 1.

The runtime role may rewrite that table (it is not append-only), so the row is only
trusted as far as it proves itself; anything else about it can only cost time:
- its MAC (HMAC-SHA256 over the stored body, after a domain prefix, keyed by the
  gateways' event MAC key, which ``audit.chain.ChainChecker`` checks the events with
  and which is never in the database) must hold: a forged or edited row is ignored;
  without the key no row is written or read (the walk starts at seq 1, as before);
- its epoch must be the seal's current one (an unseal may have let the writer go on
  from an earlier head) and its kind and version the reading consumer's;
- the trail's row at its watermark must still hold the hash it was read with: that
  hash commits to every event up to it, so the facts are those of this very chain.
  A row that proves itself but names a watermark the trail no longer holds so is
  evidence, not noise: the trail was cut (its tail erased down to or below the
  watermark, which a walk from seq 1 could not tell from a shorter trail) or rewritten
  there, and the read is refused (``TrailCut``) until an unseal moves the epoch.
Otherwise the row is ignored and the walk starts at seq 1. An *older* row the gateway
wrote earlier (replayed by an insider) passes these checks and is safe: its facts hold
every event up to its watermark, and the walk goes on from there, re-reading (and
verifying) every later event. Written off the follower's lock, never on the query path;
a failed write is logged and forgotten.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from audit.lazy_log import get_logger
from audit.store import AuditStore
from catalog.errors import Unavailable

SNAPSHOT_MAC_DOMAIN = b"sluice-audit-follow-snapshot-v1\x00"
TABLE = "audit_follow_snapshots"

log = get_logger("sluice.audit")


@dataclass(frozen=True)
class Snapshot:
    """A follower's watermark and its consumer's facts, as the MAC covers them."""

    kind: str  # the consumer's class, module-qualified
    version: int  # the consumer's ``SNAPSHOT_VERSION``: what its facts mean
    epoch: int  # the seal's epoch the follower read in
    seq: int  # every event up to it verified and given to the consumer
    hash: str  # the hash of event ``seq``
    facts: Any  # ``Consumer.dump()``: plain JSON

    def body(self) -> str:
        return orjson.dumps(asdict(self), option=orjson.OPT_SORT_KEYS).decode()


def snapshot_mac(key: bytes, body: str) -> str:
    """HMAC-SHA256 over the stored body after a domain prefix of its own (no event's or
    key row's MAC is ever a snapshot's). Hex, as stored."""
    return hmac.digest(key, SNAPSHOT_MAC_DOMAIN + body.encode(), "sha256").hex()


class TrailBroken(Unavailable):
    """The trail does not verify where a follower reads it: decisions on it are refused
    (``audit.follow``, which names it)."""

    code = "audit_trail_broken"


class TrailCut(TrailBroken):
    """A snapshot that proves itself names a watermark the trail no longer holds: the
    trail does not verify, as a follower's walk finds it (``TrailBroken``), so a reader
    that stays open on a broken trail (the console's password events) stays open on a
    cut one too. An ``Unavailable`` of its own, it shut the console after the next
    restart while the running process, finding the same cut at its watermark, kept it
    open (red team 58)."""


class Snapshots:
    """The followers' snapshots in one audit store."""

    def __init__(self, store: AuditStore, epoch: Callable[[], int]) -> None:
        self.store = store
        self.epoch = epoch

    @property
    def _errors(self) -> tuple[type[Exception], ...]:
        return (Unavailable, *self.store.driver_errors)

    def load(self, kind: str, version: int) -> Snapshot | None:
        """The stored snapshot of ``kind`` when it proves itself (module docstring),
        else None: the caller walks from seq 1."""
        mac = self.store.event_mac
        if mac is None:
            return None
        p = self.store.p
        try:
            with self.store.reading() as conn:
                rows = self.store.fetch_all(
                    conn, f"SELECT body, mac FROM {TABLE} WHERE kind = {p}", (kind,)
                )
                found = _verified(rows, mac.key)
                if found is None or (found.kind, found.version) != (kind, version):
                    return None
                if found.epoch != self.epoch():
                    return _ignored(kind, "written in another epoch")
                sql = f"SELECT hash FROM audit_events WHERE seq = {p}"
                at = self.store.fetch_all(conn, sql, (found.seq,))
        except self._errors as exc:
            return _ignored(kind, f"not read ({exc})")
        if not at or at[0][0] != found.hash:
            raise TrailCut(
                f"the audit trail no longer holds event {found.seq} as this gateway read it "
                "(a snapshot under the gateways' MAC says so: cut or rewritten at or below "
                "it); decisions that must read every event of it are refused until an "
                "unseal (sluice audit verify names it)"
            )
        return found

    def save(self, snapshot: Snapshot) -> None:
        """Write ``snapshot`` over its kind's row (best effort: a failure is logged)."""
        mac = self.store.event_mac
        if mac is None:
            return
        body = snapshot.body()
        p = self.store.p
        sql = (f"INSERT INTO {TABLE} (kind, body, mac) VALUES ({p},{p},{p}) ON CONFLICT (kind) "
               "DO UPDATE SET body = excluded.body, mac = excluded.mac")  # fmt: skip
        try:
            conn = self.store.connect()
        except Unavailable as exc:
            log.warning("audit follower snapshot not written: %s", exc)
            return
        try:
            cur = conn.cursor()
            cur.execute(sql, (snapshot.kind, body, snapshot_mac(mac.key, body)))
            cur.close()
            if self.store.dialect == "postgresql":
                conn.commit()
        except self.store.driver_errors as exc:
            self.store.rollback(conn)
            log.warning("audit follower snapshot not written: %s", exc)
        finally:
            conn.close()


def _verified(rows: list[tuple[Any, ...]], key: bytes) -> Snapshot | None:
    """The row's snapshot if its MAC holds and its body has the expected shape (text
    that is not ASCII hex in ``mac`` is ignored too: ``compare_digest`` raises on it,
    which would have refused every approval)."""
    if not rows:
        return None
    body, tag = str(rows[0][0]), str(rows[0][1])
    try:
        if not hmac.compare_digest(tag.encode(), snapshot_mac(key, body).encode()):
            return _ignored("?", "its MAC does not hold")
        data = orjson.loads(body)
        found = Snapshot(kind=str(data["kind"]), version=int(data["version"]),
                         epoch=int(data["epoch"]), seq=int(data["seq"]),
                         hash=str(data["hash"]), facts=data["facts"])  # fmt: skip
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return _ignored("?", "its body is not a snapshot")
    return found


def _ignored(kind: str, why: str) -> Snapshot | None:
    """None, logged: the follower walks from seq 1."""
    log.warning("audit follower snapshot of %s ignored (%s): walking the trail from seq 1",
                kind, why)  # fmt: skip
    return None
