"""``verify``: recompute the chain in the database and check every signature against it.

Checks, in one pass over the events (streamed in chunks):
- hash chain and seq contiguity (edits, deletions, insertions, reordering);
- indexed columns equal to the hashed body (edits meant to hide events from searches);
- every checkpoint in range: signed by a published key whose id matches its bytes, and
  equal to the chain at its seq (a rewritten chain);
- the witness file outside the database: every witnessed checkpoint must still be in
  the database (``missing checkpoint``) and the chain must reach it (``truncated``).
The earliest failure is reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit import witness
from audit.chain import ChainChecker, Failure, VerifyResult, result
from audit.checkpoints import check_against_chain, check_keys, check_signature
from audit.events import GENESIS_HASH
from audit.store import DRIVER_ERRORS, EVENT_COLUMNS, AuditStore
from catalog.errors import BadRequest, Unavailable

_SELECT = ",".join(c for c in EVENT_COLUMNS)
VERIFY_CHUNK = 50_000


def verify_database(
    *,
    store: AuditStore,
    witness_file: Path | None,
    from_seq: int | None = None,
    to_seq: int | None = None,
    check_index: bool = True,
) -> VerifyResult:
    """Verify events ``from_seq..to_seq`` (default: all) and the checkpoints among them."""
    lo = from_seq or 1
    hi = to_seq if to_seq is not None else 2**62
    if lo < 1 or hi < lo:
        raise BadRequest("verify needs 1 <= from <= to")
    conn = store.connect(reader=True)
    try:
        return _verify(store, conn, witness_file, lo, hi, check_index)
    except DRIVER_ERRORS as exc:
        raise Unavailable(f"audit store failed during verification: {exc}") from exc
    finally:
        conn.close()


def _verify(
    store: AuditStore, conn: Any, witness_file: Path | None, lo: int, hi: int, check_index: bool
) -> VerifyResult:
    p = store.p
    failures: list[Failure] = []
    keys = {k: v for k, v in store.fetch_all(conn, "SELECT kid, public_key FROM audit_keys")}
    bad_keys = set(check_keys(keys))
    keys = {k: v for k, v in keys.items() if k not in bad_keys}
    cps = [
        dict(zip(("seq", "hash", "ts", "kid", "signature"), row, strict=True))
        for row in store.fetch_all(
            conn,
            f"SELECT seq, hash, ts, kid, signature FROM audit_checkpoints "
            f"WHERE seq >= {p} AND seq <= {p} ORDER BY seq",
            (lo, hi),
        )
    ]
    for cp in cps:
        failure = check_signature(cp, keys)
        if failure is not None:
            failures.append(failure)
    witnessed = [
        w for w in (witness.read(witness_file) if witness_file else []) if lo <= w["seq"] <= hi
    ]
    for w in witnessed:
        failure = check_signature(w, keys)
        if failure is not None:
            failures.append(Failure(failure.seq, failure.reason, "witness: " + failure.detail))
    start_prev = GENESIS_HASH
    if lo > 1:
        rows = store.fetch_all(conn, f"SELECT hash FROM audit_events WHERE seq = {p}", (lo - 1,))
        if not rows:
            return result(0, 0, [Failure(lo - 1, "gap", f"seq {lo - 1} is missing")])
        start_prev = rows[0][0]
    want = {cp["seq"] for cp in cps} | {w["seq"] for w in witnessed}
    checker = ChainChecker(start_seq=lo, start_prev=start_prev, want=want, check_index=check_index)
    sql = f"SELECT {_SELECT} FROM audit_events WHERE seq >= {p} AND seq <= {p} ORDER BY seq"
    for chunk in store.stream(conn, sql, (lo, hi), VERIFY_CHUNK, binary=True):
        if not checker.feed(chunk):
            break
    if checker.failure is not None:
        failures.append(checker.failure)
    verified_to = checker.last_seq
    failures += check_against_chain(cps, checker.hashes_at, verified_to)
    if checker.failure is None:
        failures += _witness_failures(witnessed, cps, checker.hashes_at, verified_to)
    checked = sum(1 for cp in cps if cp["seq"] <= verified_to)
    return result(checker.count, checked, failures)


def _witness_failures(
    witnessed: list[dict[str, Any]],
    cps: list[dict[str, Any]],
    hashes_at: dict[int, str],
    verified_to: int,
) -> list[Failure]:
    """The witness knows checkpoints the database may have lost (a truncated tail)."""
    in_db = {(cp["seq"], cp["hash"]) for cp in cps}
    out = []
    for w in witnessed:
        seq = int(w["seq"])
        if seq > verified_to:
            out.append(
                Failure(verified_to + 1, "truncated", f"witness has a checkpoint at seq {seq}")
            )
        elif hashes_at.get(seq) != w["hash"]:
            out.append(Failure(seq, "checkpoint mismatch", "chain differs from witness"))
        elif (seq, w["hash"]) not in in_db:
            out.append(Failure(seq, "missing checkpoint", "witnessed checkpoint not in database"))
    return out
