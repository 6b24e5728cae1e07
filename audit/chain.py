"""Recomputing the hash chain: shared by database verification and offline export checks.

Rows are fed in seq order; the first failure stops the check and names its seq. Hashes
are recomputed over the stored canonical bytes (no re-serialisation on the hot path),
and the indexed columns are compared with the body, so an insider who edits only a
filter column (to hide an event from searches) is caught too.

With ``with_mac`` (rows read from the database: ``audit.store.ROW_COLUMNS``, the MAC
after the body) each event's MAC is checked too (``audit.signing.EventMac``): the hash
chain alone is public arithmetic, so an insider who may INSERT can append an event that
chains; only the gateways' key makes its MAC. From ``mac_from`` (the first MAC'd event)
on, an event without a MAC is as bad as one with a wrong MAC. Without ``mac_key`` only
the presence of MACs is checked (a process that does not hold the key).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from audit.events import GENESIS_HASH, index_of
from audit.signing import event_mac


@dataclass(frozen=True, slots=True)
class Failure:
    seq: int
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """``ok`` with counts, or the first bad sequence number and why."""

    ok: bool
    events: int
    checkpoints: int
    first_bad_seq: int | None = None
    reason: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "events": self.events,
            "checkpoints": self.checkpoints,
        }
        if not self.ok:
            out.update(first_bad_seq=self.first_bad_seq, reason=self.reason, detail=self.detail)
        return out


def result(events: int, checkpoints: int, failures: Sequence[Failure]) -> VerifyResult:
    """The earliest failure wins: that is the first event that cannot be trusted."""
    if not failures:
        return VerifyResult(True, events, checkpoints)
    first = min(failures, key=lambda f: f.seq)
    return VerifyResult(False, events, checkpoints, first.seq, first.reason, first.detail)


@dataclass
class ChainChecker:
    """Streams rows ``(seq, prev_hash, hash, body[, *index])`` and stops at the first break."""

    start_seq: int = 1
    start_prev: str = GENESIS_HASH
    want: set[int] = field(default_factory=set)
    check_index: bool = True
    count: int = 0
    failure: Failure | None = None
    hashes_at: dict[int, str] = field(default_factory=dict)
    last_seq: int = 0
    with_mac: bool = False
    mac_key: bytes | None = field(default=None, repr=False)
    mac_from: int | None = None
    # each event's parsed body once its row has passed every check (``audit.follow``
    # indexes what it keeps from them); None for verification, which keeps nothing
    on_event: Callable[[dict[str, Any]], None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._expect = self.start_seq
        self._prev_hex = self.start_prev
        self._prev = bytes.fromhex(self.start_prev)
        self.last_seq = self.start_seq - 1

    def feed(self, rows: Iterable[Sequence[Any]]) -> bool:
        """Check a chunk; False once a failure is found (further chunks are ignored)."""
        if self.failure is not None:
            return False
        sha256 = hashlib.sha256
        expect, prev, prev_hex, want = self._expect, self._prev, self._prev_hex, self.want
        check_index = self.check_index
        count = self.count
        first_index = 5 if self.with_mac else 4
        on_event = self.on_event
        try:
            for row in rows:
                seq = row[0]
                if seq != expect:
                    if seq > expect:
                        return self._fail(expect, "gap", f"seq {expect} is missing")
                    return self._fail(seq, "order", f"seq {seq} appears after {expect - 1}")
                if row[1] != prev_hex:
                    return self._fail(seq, "hash mismatch", "prev_hash does not link")
                body = row[3]
                data = body.encode("utf-8") if type(body) is str else bytes(body)
                digest = sha256(prev + data)
                hex_hash = digest.hexdigest()
                if hex_hash != row[2]:
                    return self._fail(seq, "hash mismatch", "stored hash does not match event")
                parsed = parse_body(data)
                if type(parsed) is not dict or parsed.get("seq") != seq:
                    return self._fail(seq, "seq mismatch", "event body names another seq")
                if self.with_mac and not self._mac_ok(seq, row[4], digest.digest()):
                    return False
                if (
                    check_index
                    and len(row) > first_index
                    and tuple(row[first_index:]) != fast_index_of(parsed)
                ):
                    return self._fail(seq, "index mismatch", "indexed columns differ from body")
                if on_event is not None:
                    on_event(parsed)
                if seq in want:
                    self.hashes_at[seq] = hex_hash
                prev, prev_hex = digest.digest(), hex_hash
                expect += 1
                count += 1
        finally:
            self._expect, self._prev, self._prev_hex, self.count = expect, prev, prev_hex, count
            self.last_seq = expect - 1
        return True

    @property
    def last_hash(self) -> str:
        """The hash of the last event that passed (``start_prev`` before any did)."""
        return self._prev_hex

    def _mac_ok(self, seq: int, mac: Any, hash_raw: bytes) -> bool:
        """The event's MAC, as ``feed`` judges it (records the failure)."""
        if mac is None:
            if self.mac_from is not None and seq >= self.mac_from:
                return self._fail(seq, "mac missing", "event has no MAC after the first MAC'd one")
            return True
        if self.mac_key is None:
            return True  # present; only a holder of the key can check its value
        want = event_mac(self.mac_key, seq, hash_raw)
        if type(mac) is not str or not mac.isascii() or not hmac.compare_digest(mac, want):
            return self._fail(seq, "mac mismatch", "event MAC is not the gateways' (forged)")
        return True

    def _fail(self, seq: int, reason: str, detail: str) -> bool:
        self.failure = Failure(seq, reason, detail)
        return False


def parse_body(data: bytes | str) -> Any:
    """A stored body as JSON, or None when it is not JSON at all. The hash over it is
    public arithmetic, so whoever can write the store can make one that is not (the MAC,
    checked after, is the keyed part): that is a failure to name and seal on, not an
    error that ends the monitor's walk (red team 18: its thread died, nothing sealed)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def fast_index_of(body: dict[str, Any]) -> tuple[Any, ...]:
    """``index_of`` for the shape the writer produces, without its generality (hot path);
    shared with the parallel scanner (``audit.scan``), which checks the same columns.

    Any other shape (a key missing, a wrong type) falls back to ``index_of`` itself, so
    the answer is always the same as ``index_of(body)``."""
    try:
        actor = body["actor"]
        decision = body["decision"]
        dept = body["details"].get("resource_dept")
        return (
            body["ts"],
            body["type"],
            actor["sub"],
            actor["dept"],
            body["resource"],
            dept if type(dept) is str else None,
            body["outcome"],
            body["purpose"],
            body["case_ref"],
            None if decision is None else decision["allow"],
        )
    except (KeyError, TypeError, AttributeError):
        return index_of(body)
