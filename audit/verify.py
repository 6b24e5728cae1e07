"""``verify``: recompute the chain in the database and check every signature against it.

Checks, in one pass over the events (streamed in chunks):
- hash chain and seq contiguity (edits, deletions, insertions, reordering);
- every event's MAC (``audit.signing.EventMac``, the key the writer bound to the store):
  an event the gateways did not write — INSERTed at the head by an insider, copied from
  another deployment, an old row replayed at a new seq — fails ``mac mismatch``; from the
  first MAC'd event on (``AuditStore.mac_boundary``) a MAC-less one fails ``mac missing``;
- indexed columns equal to the hashed body (edits meant to hide events from searches);
- every checkpoint in range: signed by a published key whose id matches its bytes, and
  equal to the chain at its seq (a rewritten chain);
- the witness file outside the database: every witnessed checkpoint must still be in
  the database (``missing checkpoint``) and the chain must reach it (``truncated``).
The earliest failure is reported.

``superseded`` names the seq ranges ``(anchor, to]`` whose database checkpoints an
unseal declared void (``audit.seal.Epoch.void``: an old epoch's signed ones above the
anchor, and each forged row it named at its own seq): those are skipped, and
checkpoints the new epoch witnessed there are not expected in the database.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit import scan, witness
from audit.chain import ChainChecker, Failure, VerifyResult, result
from audit.checkpoints import check_against_chain, check_keys, check_signature
from audit.events import GENESIS_HASH
from audit.store import KEY_SELECT, ROW_COLUMNS, AuditStore
from catalog.errors import BadRequest, Unavailable

if TYPE_CHECKING:  # audit.seal reads verification (a cycle at run time)
    from audit.seal import SealStore

_SELECT = ",".join(ROW_COLUMNS)
VERIFY_CHUNK = 50_000
RANGE_ROWS = 100_000  # the most seqs a verification process takes at a time
LAST_RANGE_ROWS = 5_000  # the fewest (a range costs a query and a COPY of its own)
PARALLEL_MIN = 200_000  # fewer events than this are checked in this process only


def verify_database(
    *,
    store: AuditStore,
    witness_file: Path | None,
    from_seq: int | None = None,
    to_seq: int | None = None,
    check_index: bool = True,
    workers: int | None = None,
    range_rows: int | None = None,
    superseded: list[tuple[int, int]] | None = None,
) -> VerifyResult:
    """Verify events ``from_seq..to_seq`` (default: all) and the checkpoints among them.

    On PostgreSQL the events are read with COPY and, for long ranges, checked by
    ``workers`` processes (default: one per core, up to four, from ``PARALLEL_MIN``
    events on) over ranges of seqs, all in one snapshot: ``range_rows`` each if given,
    else shrinking towards the end (``_ranges``)."""
    lo = from_seq or 1
    hi = to_seq if to_seq is not None else 2**62
    if lo < 1 or hi < lo:
        raise BadRequest("verify needs 1 <= from <= to")
    void = superseded or []
    # The witness first, the database second: the writer appends a checkpoint to the
    # witness only after committing it, so every checkpoint read here is in any snapshot
    # taken next. Read the other way round, a checkpoint written in between looked
    # missing or truncated, and verification seals on such evidence.
    witnessed = witness.read(witness_file) if witness_file else []
    conn = store.connect(reader=True)
    try:
        if store.dialect == "postgresql":
            return _verify_pg(store, conn, witnessed, lo, hi, check_index, workers, range_rows,
                              void)  # fmt: skip
        return _verify(store, conn, witnessed, lo, hi, check_index, void)
    except store.driver_errors as exc:
        raise Unavailable(f"audit store failed during verification: {exc}") from exc
    except RuntimeError as exc:  # a verification process failed
        raise Unavailable(str(exc)) from exc
    finally:
        conn.close()


def verify_sealing(
    *, store: AuditStore, witness_file: Path | None, seal: SealStore,
    from_seq: int | None = None, to_seq: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Verification as an officer asks for it (the API, the console, ``sluice audit
    verify``): a failure seals the trail (evidence: never extended; not the loss the
    newest unseal accepted), and while the trail is sealed the answer is not ok, whatever
    the stored chain says. The chain left after an erased tail no witness saw is whole:
    the route said ``ok`` of a trail its own writer had sealed (red team 24)."""
    outcome = verify_database(store=store, witness_file=witness_file, from_seq=from_seq,
                              to_seq=to_seq, superseded=seal.superseded())  # fmt: skip
    accepted = seal.accepted_below(outcome.first_bad_seq)
    if not outcome.ok and outcome.reason != OUT_OF_RANGE and not accepted:
        seal.seal(f"verify: {outcome.reason} at seq {outcome.first_bad_seq}", outcome.to_dict())
    found = outcome.to_dict()
    if seal.sealed:
        return {**found, "ok": False, "sealed": True, "seal_reason": seal.reason}
    return found


def _mac_key(store: AuditStore) -> bytes | None:
    return None if store.event_mac is None else store.event_mac.key


def _mac_from(store: AuditStore, conn: Any) -> int | None:
    """The first MAC'd seq in the verifying snapshot (``AuditStore.mac_boundary``)."""
    return store.first_maced(conn)


def _void(seq: int, void: list[tuple[int, int]]) -> bool:
    return any(a < seq <= b for a, b in void)


def _signed(
    store: AuditStore,
    conn: Any,
    witnessed_all: list[dict[str, Any]],
    lo: int,
    hi: int,
    void: list[tuple[int, int]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Failure]]:
    """Checkpoints and witnessed checkpoints in range, and their signature failures."""
    p = store.p
    failures: list[Failure] = []
    keys, legacy = _keys(store, conn)
    cps = [
        dict(zip(("seq", "hash", "ts", "kid", "signature"), row, strict=True))
        for row in _rows(
            store,
            conn,
            f"SELECT seq, hash, ts, kid, signature FROM audit_checkpoints "
            f"WHERE seq >= {p} AND seq <= {p} ORDER BY seq",
            (lo, hi),
        )
    ]
    cps = [cp for cp in cps if not _void(int(cp["seq"]), void)]
    boundary = _mac_from(store, conn)
    for cp in cps:
        failure = check_signature(cp, _usable(keys, legacy, boundary, int(cp["seq"])))
        if failure is not None:
            failures.append(failure)
    witnessed = [w for w in witnessed_all if lo <= w["seq"] <= hi]
    for w in witnessed:
        failure = check_signature(w, _usable(keys, legacy, boundary, int(w["seq"])))
        if failure is not None:
            failures.append(Failure(failure.seq, failure.reason, "witness: " + failure.detail))
    return cps, witnessed, failures


def checkpoints_above(store: AuditStore, seq: int) -> tuple[int, tuple[int, ...]]:
    """The checkpoint rows above ``seq`` (an unseal's anchor: the head as found), as
    ``(newest signed, forged)``: the newest a gateway signed (its signature verifies with
    a published key — an old epoch's checkpoint of an event since erased, the void seqs
    of the new epoch), and the seqs of the others, whose signature does not verify (an
    insider's row: a genuine row's signature copied to a seq it never signed). The
    epoch boundary is taken from the first only: the bare maximum over rows an insider
    writes made the new epoch witness-only for good (red team 34's left row)."""
    conn = store.connect(reader=True)
    try:
        keys, legacy = _keys(store, conn)
        boundary = _mac_from(store, conn)
        rows = _rows(store, conn, "SELECT seq, hash, ts, kid, signature FROM audit_checkpoints "
                     f"WHERE seq > {store.p} ORDER BY seq", (seq,))  # fmt: skip
    finally:
        conn.close()
    signed, forged = 0, []
    for row in rows:
        cp = dict(zip(("seq", "hash", "ts", "kid", "signature"), row, strict=True))
        at = int(cp["seq"])
        if check_signature(cp, _usable(keys, legacy, boundary, at)) is None:
            signed = at
        else:
            forged.append(at)
    return signed, tuple(forged)


def _keys(store: AuditStore, conn: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Trusted and legacy keys (``audit.signing.KeyRows``), malformed ones dropped."""
    rows = store.key_rows(_rows(store, conn, KEY_SELECT))
    keys = {r[0]: r[2] for r in rows.trusted}
    legacy = {r[0]: r[2] for r in rows.legacy}
    bad = set(check_keys(keys)) | set(check_keys(legacy))
    return (
        {k: v for k, v in keys.items() if k not in bad},
        {k: v for k, v in legacy.items() if k not in bad},
    )


def _usable(
    keys: dict[str, str], legacy: dict[str, str], boundary: int | None, seq: int
) -> dict[str, str]:
    """The keys a checkpoint at ``seq`` may be signed with: a MAC-less key no gateway
    vouches for only below the first MAC'd event (or on a trail with none), where it
    may be a replica's key from before the upgrade; the event chain fixes those events,
    so such a key can sign nothing an insider made. Above it, it is an unknown kid."""
    if legacy and (boundary is None or seq < boundary):
        return {**legacy, **keys}
    return keys


OUT_OF_RANGE = "out of range"


def _missing_start(store: AuditStore, conn: Any, lo: int) -> VerifyResult:
    """``from`` past the end of the chain is a caller's mistake (``out of range``, not
    evidence); a missing event below the head is a ``gap``."""
    head = store.read_head(conn, in_snapshot=True)[0]
    if lo - 1 > head:
        return VerifyResult(False, 0, 0, lo, OUT_OF_RANGE, f"the chain ends at seq {head}")
    return result(0, 0, [Failure(lo - 1, "gap", f"seq {lo - 1} is missing")])


OUT_OF_CHAIN = "out of chain"


def _below_chain(store: AuditStore, conn: Any, lo: int) -> VerifyResult | None:
    """A row below seq 1, where the chain starts: an INSERT no gateway made (the writer
    and the walk from seq 1 never meet it, yet it was read as an event: red team 17).
    Asked when the whole trail is verified."""
    if lo != 1:
        return None
    found = _rows(store, conn, "SELECT min(seq) FROM audit_events WHERE seq < 1")
    if not found or found[0][0] is None:
        return None
    seq = int(found[0][0])
    return VerifyResult(False, 0, 0, seq, OUT_OF_CHAIN, f"seq {seq}: the chain starts at seq 1")


def _rows(store: AuditStore, conn: Any, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Rows without ending the transaction (the PostgreSQL path reads in one snapshot)."""
    if store.dialect == "sqlite":
        return store.fetch_all(conn, sql, params)
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def _verify(
    store: AuditStore,
    conn: Any,
    witnessed_all: list[dict[str, Any]],
    lo: int,
    hi: int,
    check_index: bool,
    void: list[tuple[int, int]],
) -> VerifyResult:
    p = store.p
    below = _below_chain(store, conn, lo)
    if below is not None:
        return below
    cps, witnessed, failures = _signed(store, conn, witnessed_all, lo, hi, void)
    start_prev = GENESIS_HASH
    if lo > 1:
        rows = store.fetch_all(conn, f"SELECT hash FROM audit_events WHERE seq = {p}", (lo - 1,))
        if not rows:
            return _missing_start(store, conn, lo)
        start_prev = rows[0][0]
    want = {cp["seq"] for cp in cps} | {w["seq"] for w in witnessed}
    checker = ChainChecker(start_seq=lo, start_prev=start_prev, want=want, check_index=check_index,
                           with_mac=True, mac_key=_mac_key(store),
                           mac_from=_mac_from(store, conn))  # fmt: skip
    sql = f"SELECT {_SELECT} FROM audit_events WHERE seq >= {p} AND seq <= {p} ORDER BY seq"
    for chunk in store.stream(conn, sql, (lo, hi), VERIFY_CHUNK, binary=True):
        if not checker.feed(chunk):
            break
    return _finish(cps, witnessed, failures, checker.count, checker.last_seq, checker.failure,
                   checker.hashes_at, void)  # fmt: skip


def _verify_pg(
    store: AuditStore,
    conn: Any,
    witnessed_all: list[dict[str, Any]],
    lo: int,
    hi: int,
    check_index: bool,
    workers: int | None,
    range_rows: int | None,
    void: list[tuple[int, int]],
) -> VerifyResult:
    scan.begin_snapshot(conn)
    below = _below_chain(store, conn, lo)
    if below is not None:
        return below
    cps, witnessed, failures = _signed(store, conn, witnessed_all, lo, hi, void)
    if lo > 1 and not _rows(store, conn, "SELECT 1 FROM audit_events WHERE seq = %s", (lo - 1,)):
        return _missing_start(store, conn, lo)
    top = min(hi, store.read_head(conn, in_snapshot=True)[0])
    want = frozenset({cp["seq"] for cp in cps} | {w["seq"] for w in witnessed})
    mac_from = _mac_from(store, conn)
    if workers is None:
        workers = min(4, os.cpu_count() or 1) if top - lo + 1 >= PARALLEL_MIN else 1
    ranges = [
        scan.RangeTask(start, end, want, check_index, mac_from)
        for start, end in _ranges(lo, top, range_rows, workers)
    ]
    key = _mac_key(store)
    if workers > 1 and len(ranges) > 1:
        snapshot = _rows(store, conn, "SELECT pg_export_snapshot()")[0][0]
        processes = min(workers, len(ranges))
        outcomes = scan.scan_parallel(conn, store.conninfo, snapshot, ranges, processes, key)
    else:
        outcomes = [scan.scan_range(conn, task, key) for task in ranges]
    count, verified_to, failure, hashes_at = 0, lo - 1, None, {}
    for outcome in outcomes:  # in seq order: the first failing range has the first failure
        count += outcome.count
        verified_to = outcome.last_seq
        hashes_at.update(outcome.hashes_at)
        if outcome.failure is not None:
            failure = outcome.failure
            break
    conn.rollback()
    return _finish(cps, witnessed, failures, count, verified_to, failure, hashes_at, void)


def _ranges(lo: int, top: int, range_rows: int | None, workers: int) -> list[tuple[int, int]]:
    """Seqs ``lo..top`` cut into ranges (first, last): ``range_rows`` each (one process:
    ``RANGE_ROWS``), or else a share of what is left (a ``2 * workers``-th, from
    ``RANGE_ROWS`` down to ``LAST_RANGE_ROWS``). Whoever is free takes the next range,
    so the last ranges set how long the others wait at the end: with ranges of
    ``RANGE_ROWS`` throughout, one process checked on alone for about half a range's
    time while the other sat idle."""
    out: list[tuple[int, int]] = []
    start = lo
    while start <= top:
        if range_rows is not None or workers <= 1:
            size = max(1, range_rows or RANGE_ROWS)
        else:
            share = -(-(top - start + 1) // (2 * max(1, workers)))
            size = max(LAST_RANGE_ROWS, min(RANGE_ROWS, share))
        out.append((start, min(start + size - 1, top)))
        start += size
    return out


def _finish(
    cps: list[dict[str, Any]],
    witnessed: list[dict[str, Any]],
    failures: list[Failure],
    count: int,
    verified_to: int,
    failure: Failure | None,
    hashes_at: dict[int, str],
    void: list[tuple[int, int]],
) -> VerifyResult:
    if failure is not None:
        failures.append(failure)
    failures += check_against_chain(cps, hashes_at, verified_to)
    if failure is None:
        failures += _witness_failures(witnessed, cps, hashes_at, verified_to, void)
    checked = sum(1 for cp in cps if cp["seq"] <= verified_to)
    return result(count, checked, failures)


def _witness_failures(
    witnessed: list[dict[str, Any]],
    cps: list[dict[str, Any]],
    hashes_at: dict[int, str],
    verified_to: int,
    void: list[tuple[int, int]],
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
        elif (seq, w["hash"]) not in in_db and not _void(seq, void):
            out.append(Failure(seq, "missing checkpoint", "witnessed checkpoint not in database"))
    return out
